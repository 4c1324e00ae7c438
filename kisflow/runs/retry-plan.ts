import { isFailure, type JobPolicy } from './job-policy.ts';
import type { RunRecord } from './run-ledger.ts';

export interface RetryPlan {
  /** 1 for the first retry. */
  readonly attempt: number;
  readonly delayMs: number;
  /** Derived from the failed run, so deciding twice starts one retry. */
  readonly runId: string;
}

/** Wait before retry `attempt` (1-based): interval × backoff^(attempt-1), capped. */
export function retryDelayMs(retry: NonNullable<JobPolicy['retry']>, attempt: number): number {
  const delay = retry.intervalMs * retry.backoff ** (attempt - 1);
  return Math.round(Math.min(delay, retry.maxIntervalMs ?? Number.POSITIVE_INFINITY));
}

/**
 * Whether a finished run is retried, and when. `attempt` is how many retries led to this run
 * (0 for a scheduled or manual run; a retry run carries its attempt in its id chain).
 */
export function planRetry(policy: JobPolicy, run: RunRecord, attempt: number): RetryPlan | undefined {
  if (!policy.retry || !isFailure(run.status) || attempt >= policy.retry.times) return undefined;
  const next = attempt + 1;
  return {
    attempt: next,
    delayMs: retryDelayMs(policy.retry, next),
    runId: `${rootRunId(run.id)}~retry${next}`,
  };
}

/** The run a chain of retries started from. */
export function rootRunId(runId: string): string {
  return runId.replace(/~retry\d+$/, '');
}

/** How many retries led to this run, read from its id. */
export function retryAttempt(runId: string): number {
  return Number(/~retry(\d+)$/.exec(runId)?.[1] ?? 0);
}
