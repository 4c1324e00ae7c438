import type { StepTimings } from './run-ledger.ts';

/**
 * Batch durations as a histogram of geometric buckets, so a ledger keeps a step's p95 with one
 * counter increment per batch (no list of durations that grows with the run). Bucket k holds
 * durations in (2^((k-1)/8), 2^(k/8)] ms: each bucket is 9 % wider than the last, so the p95 read
 * back (a bucket's upper bound) is at most 9 % above the true one. Bucket 0 holds up to 1 ms.
 */
const PER_DOUBLING = 8;

/** The bucket of a duration in ms. */
export function durationBucket(ms: number): number {
  return ms <= 1 ? 0 : Math.ceil(PER_DOUBLING * Math.log2(ms));
}

/** The largest duration bucket `k` holds, in ms. */
export function bucketUpperMs(k: number): number {
  return 2 ** (k / PER_DOUBLING);
}

/** The `q`-quantile (0..1) of a histogram (bucket → count), as its bucket's upper bound; 0 when empty. */
export function quantileMs(histogram: ReadonlyMap<number, number>, q: number): number {
  const total = [...histogram.values()].reduce((a, b) => a + b, 0);
  if (total === 0) return 0;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (const k of [...histogram.keys()].sort((a, b) => a - b)) {
    seen += histogram.get(k) ?? 0;
    if (seen >= rank) return Math.round(bucketUpperMs(k) * 100) / 100;
  }
  return 0;
}

/** Durations summed to 0.01 ms: what a ledger adds per batch. */
export function roundMs(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** What a ledger keeps of a step's batch durations. */
export interface KeptDurations {
  firstAt: number;
  lastAt: number;
  batches: number;
  totalMs: number;
  readonly histogram: Map<number, number>;
}

/** Adds a batch that took `ms` and ended at `end` (epoch ms) to `kept` (a new record when undefined). */
export function keepDuration(kept: KeptDurations | undefined, ms: number, end: number): KeptDurations {
  const d = kept ?? {
    firstAt: Number.POSITIVE_INFINITY,
    lastAt: 0,
    batches: 0,
    totalMs: 0,
    histogram: new Map(),
  };
  d.firstAt = Math.min(d.firstAt, Math.round(end - ms));
  d.lastAt = Math.max(d.lastAt, end);
  d.batches += 1;
  d.totalMs += roundMs(ms);
  const k = durationBucket(ms);
  d.histogram.set(k, (d.histogram.get(k) ?? 0) + 1);
  return d;
}

/** A step's timings from what a ledger kept. */
export function stepTimings(kept: Readonly<KeptDurations>): StepTimings {
  return {
    firstAt: kept.firstAt,
    lastAt: kept.lastAt,
    batches: kept.batches,
    totalMs: roundMs(kept.totalMs),
    p95Ms: quantileMs(kept.histogram, 0.95),
  };
}
