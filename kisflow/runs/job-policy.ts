import type { JobAlertsSpec, JobSpec, MisfirePolicy, OverlapPolicy } from '../config/model.ts';
import type { RunStatus } from './run-ledger.ts';

/** A job's scheduling fields with their defaults filled in: the one place defaults live. */
export interface JobPolicy {
  readonly misfire: MisfirePolicy;
  readonly overlap: OverlapPolicy;
  readonly timeoutMs?: number;
  readonly retry?: {
    readonly times: number;
    readonly intervalMs: number;
    readonly backoff: number;
    readonly maxIntervalMs?: number;
  };
  readonly onSuccess: readonly string[];
  readonly onFailure: readonly string[];
  readonly shards: number;
  readonly scene?: string;
  readonly alerts: JobAlertsSpec;
}

/**
 * @example jobPolicy(project.jobs.get('Nightly')!).overlap // 'serial' unless the YAML says otherwise
 */
export function jobPolicy(job: JobSpec): JobPolicy {
  return {
    misfire: job.misfire ?? 'skip',
    overlap: job.overlap ?? 'serial',
    ...(job.timeoutSeconds === undefined ? {} : { timeoutMs: job.timeoutSeconds * 1000 }),
    ...(job.retry === undefined
      ? {}
      : {
          retry: {
            times: job.retry.times,
            intervalMs: job.retry.intervalSeconds * 1000,
            backoff: job.retry.backoff,
            ...(job.retry.maxIntervalSeconds === undefined
              ? {}
              : { maxIntervalMs: job.retry.maxIntervalSeconds * 1000 }),
          },
        }),
    onSuccess: job.onSuccess ?? [],
    onFailure: job.onFailure ?? [],
    shards: job.shards ?? 1,
    ...(job.scene === undefined ? {} : { scene: job.scene }),
    alerts: job.alerts ?? {},
  };
}

/** The final statuses `on_failure`, `retry` and failure alerts act on. */
export function isFailure(status: RunStatus): boolean {
  return status === 'failed' || status === 'partial' || status === 'timed_out';
}
