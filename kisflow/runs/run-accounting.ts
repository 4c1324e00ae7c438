import { type KeptDurations, keepDuration, stepTimings } from './batch-durations.ts';
import type {
  BatchCompletion,
  RunRecord,
  RunStatus,
  RunUsage,
  StepCounters,
  StepRecord,
  StreamBucket,
} from './run-ledger.ts';
import { STEP_COUNTERS, USAGE_FIELDS } from './run-ledger.ts';

/**
 * The arithmetic both ledgers share: which shard counts a batch, when a run is complete, and
 * what its final status is. Kept apart from storage so the memory and DynamoDB ledgers cannot
 * disagree.
 */

export const NO_COUNTS: StepCounters = { in: 0, out: 0, rejected: 0, dropped: 0, deadLettered: 0, errors: 0 };
export const NO_USAGE: RunUsage = {
  sqsRequests: 0,
  lambdaInvocations: 0,
  lambdaGbSeconds: 0,
  dynamodbReadUnits: 0,
  dynamodbWriteUnits: 0,
};

export function addCounters(a: StepCounters, b: Partial<StepCounters> | undefined): StepCounters {
  const sum = { ...a } as Record<keyof StepCounters, number>;
  for (const k of STEP_COUNTERS) sum[k] += b?.[k] ?? 0;
  return sum;
}

export function addUsage(a: RunUsage, b: Partial<RunUsage> | undefined): RunUsage {
  const sum = { ...a } as Record<keyof RunUsage, number>;
  for (const k of USAGE_FIELDS) sum[k] += b?.[k] ?? 0;
  return sum;
}

/** Every batch announced (roots and children) has been processed or dead-lettered. */
export function isComplete(batches: RunRecord['batches']): boolean {
  return batches.done >= batches.roots + batches.spawned;
}

/**
 * The status a complete run ends in: `succeeded` when nothing was rejected, dead-lettered or
 * failed; `failed` when nothing got through (every batch dead-lettered, or no row out of any
 * step); `partial` otherwise.
 */
export function finalStatus(batches: RunRecord['batches'], steps: readonly StepRecord[]): RunStatus {
  const problems =
    batches.deadLettered + steps.reduce((n, s) => n + s.rejected + s.deadLettered + s.errors, 0);
  if (problems === 0) return 'succeeded';
  const out = steps.reduce((n, s) => n + s.out, 0);
  if (out === 0 || (batches.done > 0 && batches.deadLettered === batches.done)) return 'failed';
  return 'partial';
}

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;

export function bucketStart(at: number, size: number): number {
  return Math.floor(at / size) * size;
}

/** Minute buckets summed into buckets of `size` ms (an hour), per step, oldest first. */
export function rollUp(minutes: readonly StreamBucket[], size: number): StreamBucket[] {
  const out = new Map<string, StreamBucket>();
  for (const m of minutes) {
    const start = bucketStart(m.start, size);
    const key = `${m.step}@${start}`;
    const prev = out.get(key) ?? { flowId: m.flowId, step: m.step, start, batches: 0, ...NO_COUNTS };
    out.set(key, { ...prev, ...addCounters(prev, m), batches: prev.batches + m.batches });
  }
  return [...out.values()].sort((a, b) => a.start - b.start || a.step - b.step);
}

/** A completion as a ledger sums it (run-ledger.ts `BatchCompletion` without its run id). */
type Summed = Omit<BatchCompletion, 'runId'>;

/**
 * A run's batch counts, per-step counters and timings, usage and last progress, summed from its
 * batches' completions, each batch id counted once (the first seen: a redelivery repeats it).
 */
export function sumCompletions(
  completions: Iterable<Summed>,
  roots: number,
): { batches: RunRecord['batches']; steps: StepRecord[]; usage: RunUsage; lastAt: number } {
  const seen = new Set<string>();
  const steps = new Map<number, StepCounters & { fid?: string }>();
  const durations = new Map<number, KeptDurations>();
  let spawned = 0;
  let deadLettered = 0;
  let lastAt = 0;
  let usage = NO_USAGE;
  for (const c of completions) {
    if (seen.has(c.batchId)) continue;
    seen.add(c.batchId);
    spawned += c.children ?? 0;
    if (c.outcome === 'dead_lettered') deadLettered += 1;
    const at = c.at ?? 0;
    lastAt = Math.max(lastAt, at);
    usage = addUsage(usage, c.usage);
    // A completion with neither counters nor fid (a retry's announcement) is no step's work.
    if (c.counters === undefined && c.fid === undefined && c.durationMs === undefined) continue;
    const step = steps.get(c.step) ?? { ...NO_COUNTS };
    steps.set(c.step, { ...addCounters(step, c.counters), fid: step.fid ?? c.fid });
    if (c.durationMs !== undefined)
      durations.set(c.step, keepDuration(durations.get(c.step), c.durationMs, at));
  }
  const records: StepRecord[] = [...steps]
    .sort((a, b) => a[0] - b[0])
    .map(([index, s]) => {
      const d = durations.get(index);
      const { fid, ...counters } = s;
      return {
        index,
        ...(fid === undefined ? {} : { fid }),
        ...counters,
        ...(d === undefined ? {} : { timings: stepTimings(d) }),
      };
    });
  return { batches: { roots, spawned, done: seen.size, deadLettered }, steps: records, usage, lastAt };
}
