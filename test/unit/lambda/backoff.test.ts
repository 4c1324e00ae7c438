import { describe, expect, it } from 'vitest';
import { MAX_RETRY_DELAY_SECONDS, retryDelaySeconds } from '../../../kisflow/lambda/backoff.ts';
import { SQS_MAX_VISIBILITY_SECONDS } from '../../../kisflow/wire/limits.ts';

describe('retryDelaySeconds', () => {
  it('is retry_duration on the first receive, doubling per receive, in whole seconds', () => {
    expect([1, 2, 3, 4].map((n) => retryDelaySeconds(1500, n))).toEqual([2, 3, 6, 12]);
    expect(retryDelaySeconds(200, 1)).toBe(1);
  });

  it('is bounded', () => {
    expect(retryDelaySeconds(60_000, 10)).toBe(MAX_RETRY_DELAY_SECONDS);
    expect(retryDelaySeconds(60_000, 5000)).toBe(MAX_RETRY_DELAY_SECONDS);
    expect(retryDelaySeconds(1000, 40, 10 ** 9)).toBe(SQS_MAX_VISIBILITY_SECONDS);
  });

  it('leaves the queue visibility timeout alone when retry_duration is 0', () => {
    expect(retryDelaySeconds(0, 3)).toBeUndefined();
  });

  it('treats a missing or odd receive count as the first', () => {
    expect(retryDelaySeconds(1000, Number.NaN)).toBe(1);
    expect(retryDelaySeconds(1000, 0)).toBe(1);
  });
});
