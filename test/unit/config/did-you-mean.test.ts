import { describe, expect, it } from 'vitest';
import { didYouMean, editDistance } from '../../../kisflow/config/did-you-mean.ts';

describe('editDistance', () => {
  it('counts insertions, deletions, substitutions and adjacent swaps as one edit each', () => {
    expect(editDistance('fmode', 'fmode')).toBe(0);
    expect(editDistance('fmode', 'fmodes')).toBe(1);
    expect(editDistance('fmode', 'fmod')).toBe(1);
    expect(editDistance('fmode', 'fnode')).toBe(1);
    expect(editDistance('fmdoe', 'fmode')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('counts code points, so Chinese ids are measured by character', () => {
    expect(editDistance('测试PrintInput', '测验PrintInput')).toBe(1);
    expect(editDistance('𠮷a', 'a')).toBe(1);
  });
});

describe('didYouMean', () => {
  it('suggests the closest plausible candidate', () => {
    expect(didYouMean('fmdoe', ['fid', 'fname', 'fmode'])).toBe('fmode');
    expect(didYouMean('retry_time', ['retry_times', 'retry_duration'])).toBe('retry_times');
    expect(didYouMean('测试PrintInptu', ['测试PrintInput', '测试KisFunction_S1'])).toBe('测试PrintInput');
  });

  it('suggests a case-only difference even for short ids', () => {
    expect(didYouMean('A', ['a', 'B'])).toBe('a');
    expect(didYouMean('FUNC', ['func', 'flow'])).toBe('func');
  });

  it('stays quiet when nothing is close, or for a different short id', () => {
    expect(didYouMean('colour', ['fid', 'fmode', 'option'])).toBeUndefined();
    expect(didYouMean('B', ['A'])).toBeUndefined();
    expect(didYouMean('测试PrintInput', ['测试KisFunction_S1'])).toBeUndefined();
    expect(didYouMean('fmode', ['fmode'])).toBeUndefined();
  });
});
