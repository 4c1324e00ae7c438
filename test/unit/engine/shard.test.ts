import { describe, expect, it } from 'vitest';
import { shardOf } from '../../../kisflow/engine/function.ts';

describe('shardOf: the shard a batch metadata names', () => {
  it('reads a well-formed shard', () => {
    expect(shardOf({ index: 2, total: 4 })).toEqual({ index: 2, total: 4 });
  });

  it('is undefined for no shard, or one that is not { index in [0, total), total }', () => {
    for (const bad of [
      undefined,
      null,
      3,
      'x',
      { index: 4, total: 4 },
      { index: -1, total: 2 },
      { index: 1.5, total: 2 },
      { index: 0 },
    ])
      expect(shardOf(bad)).toBeUndefined();
  });
});
