/**
 * Bounded retries with exponential backoff and full jitter, for the parts of a batch call AWS
 * did not process (SendMessageBatch `Failed`, BatchWriteItem `UnprocessedItems`, BatchGetItem
 * `UnprocessedKeys`). The SDK already retries whole failed requests; these are the partial failures
 * it returns as successes.
 * https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
export interface RetryPolicy {
  /** Tries in all, the first included. Default 6. */
  readonly attempts: number;
  /** Delay cap of the first retry in ms; doubles per retry. Default 50. */
  readonly baseMs: number;
  /** Largest delay in ms. Default 2,000. */
  readonly maxMs: number;
  /** How to wait (tests pass a fake). */
  readonly sleep: (ms: number) => Promise<void>;
  /** Random number in [0, 1) (tests pass a fixed one). */
  readonly random: () => number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 6,
  baseMs: 50,
  maxMs: 2_000,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random,
};

/** The policy with some fields overridden. */
export function retryPolicy(overrides: Partial<RetryPolicy> = {}): RetryPolicy {
  return { ...DEFAULT_RETRY, ...overrides };
}

/** "Full jitter": a uniform delay in [0, min(maxMs, baseMs · 2^retry)). `retry` counts from 0. */
export function backoffDelay(policy: RetryPolicy, retry: number): number {
  return Math.floor(policy.random() * Math.min(policy.maxMs, policy.baseMs * 2 ** retry));
}
