import { SQS_MAX_VISIBILITY_SECONDS } from '../wire/limits.ts';

/** Retries wait at most this long, so a failing dependency is retried within minutes of its repair. */
export const MAX_RETRY_DELAY_SECONDS = 900;

/**
 * Seconds before a failed message is received again: the function's `retry_duration` doubled for
 * each earlier receive (`receiveCount` 1 waits `retry_duration`), at most `maxSeconds`.
 * `undefined` when `retry_duration` is 0: the queue's own visibility timeout then applies.
 *
 * @example
 * retryDelaySeconds(1500, 1); // 2 (visibility is whole seconds, rounded up)
 * retryDelaySeconds(1500, 3); // 6
 */
export function retryDelaySeconds(
  retryDurationMs: number,
  receiveCount: number,
  maxSeconds = MAX_RETRY_DELAY_SECONDS,
): number | undefined {
  if (!(retryDurationMs > 0)) return undefined;
  const attempt = Math.max(1, Math.floor(receiveCount) || 1);
  // 2^(attempt-1) overflows to Infinity long after the bound; Math.min handles it.
  const seconds = Math.ceil((retryDurationMs * 2 ** (attempt - 1)) / 1000);
  return Math.min(Math.min(maxSeconds, SQS_MAX_VISIBILITY_SECONDS), seconds);
}
