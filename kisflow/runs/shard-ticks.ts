import type { JobSpec } from '../config/model.ts';

/** One tick batch of a fire. Phase 2 sends each into the flow's first step. */
export interface ShardTick {
  readonly batchId: string;
  readonly shard: { readonly index: number; readonly total: number };
  readonly rows: readonly Record<string, unknown>[];
  /** Flow metadata: the job's params and `shard`, which the engine gives functions as `ctx.shard`. */
  readonly meta: Readonly<Record<string, unknown>>;
}

/**
 * Sharding broadcast (XXL-JOB's): one fire becomes `total` tick batches, each carrying the job's
 * rows (default `[{ job_id, scheduled_at }]`) and its `{ index, total }`, so N workers split one
 * job's data. The run records `total` roots and completes when every shard has. With one shard
 * the batch id is the run id, as ticks had before sharding.
 */
export function shardTicks(
  job: JobSpec,
  runId: string,
  scheduledAt: Date,
  total = job.shards ?? 1,
): ShardTick[] {
  // Whole seconds, as EventBridge Scheduler writes `<aws.scheduler.scheduled-time>`: the same row
  // whether a job fires on AWS or under `kisflow dev`.
  const at = scheduledAt.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const rows = job.rows ?? [{ job_id: job.jobId, scheduled_at: at }];
  return Array.from({ length: total }, (_, index) => ({
    batchId: total === 1 ? runId : `${runId}-shard-${index}`,
    shard: { index, total },
    rows: rows.map((r) => ({ ...r })),
    meta: { ...job.params, shard: { index, total } },
  }));
}
