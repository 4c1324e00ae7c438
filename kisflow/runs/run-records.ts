import { NO_USAGE } from './run-accounting.ts';
import type { RunQuery, RunRecord, RunStart } from './run-ledger.ts';

/** How long a ledger keeps runs, and how far back `list` looks by default. */
export const DEFAULT_RETENTION_SECONDS = 30 * 86_400;

/** The record of a run just started. */
export function startedRecord(run: RunStart, now: number): RunRecord {
  return {
    id: run.runId,
    flowId: run.flowId,
    ...(run.jobId === undefined ? {} : { jobId: run.jobId }),
    trigger: run.trigger,
    status: 'running',
    params: run.params ?? {},
    started: now,
    lastProgress: now,
    ...(run.timeoutMs === undefined ? {} : { timeoutMs: run.timeoutMs }),
    ...(run.parentRunId === undefined ? {} : { parentRunId: run.parentRunId }),
    ...(run.scene === undefined ? {} : { scene: run.scene }),
    ...(run.scheduledAt === undefined ? {} : { scheduledAt: run.scheduledAt }),
    batches: { roots: run.roots, spawned: 0, done: 0, deadLettered: 0 },
    steps: [],
    usage: NO_USAGE,
  };
}

/** The record of a fire that was not started (overlap policy `discard_later`). */
export function skippedRecord(run: RunStart, now: number, reason: string): RunRecord {
  return { ...startedRecord({ ...run, roots: 0 }, now), status: 'skipped', finished: now, reason };
}

/** The records a query selects, newest first. */
export function listMatches(records: readonly RunRecord[], query: RunQuery, now = Date.now()): RunRecord[] {
  const since = query.since ?? now - DEFAULT_RETENTION_SECONDS * 1000;
  return records
    .filter(
      (r) =>
        (query.flowId === undefined || r.flowId === query.flowId) &&
        (query.jobId === undefined || r.jobId === query.jobId) &&
        (query.status === undefined || r.status === query.status) &&
        (query.trigger === undefined || r.trigger === query.trigger) &&
        r.started >= since &&
        (query.until === undefined || r.started < query.until),
    )
    .sort((a, b) => b.started - a.started || (a.id < b.id ? 1 : -1))
    .slice(0, query.limit ?? 1000);
}
