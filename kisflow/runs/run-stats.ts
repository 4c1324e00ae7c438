import type { RunRecord } from './run-ledger.ts';

export interface DayStats {
  /** `yyyy-mm-dd` (UTC). */
  readonly day: string;
  readonly runs: number;
  readonly succeeded: number;
  readonly failed: number;
  /** succeeded / finished (runs that ended succeeded, failed, partial or timed out); null with none. */
  readonly successRatio: number | null;
  /** Of finished runs, ms; null with none. */
  readonly p50Ms: number | null;
  readonly p95Ms: number | null;
}

const ENDED = new Set(['succeeded', 'failed', 'partial', 'timed_out']);

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/**
 * Runs per day (by start, UTC), their success ratio and p50/p95 durations, oldest day first;
 * days with no run between `since` and `until` appear with zeros, so a gap shows.
 */
export function runStats(runs: readonly RunRecord[], since: number, until: number): DayStats[] {
  const days: DayStats[] = [];
  const DAY = 86_400_000;
  for (let start = Math.floor(since / DAY) * DAY; start < until; start += DAY) {
    const of = runs.filter((r) => r.started >= start && r.started < start + DAY && r.status !== 'skipped');
    const ended = of.filter((r) => ENDED.has(r.status) && r.finished !== undefined);
    const durations = ended.map((r) => (r.finished as number) - r.started).sort((a, b) => a - b);
    const succeeded = ended.filter((r) => r.status === 'succeeded').length;
    days.push({
      day: new Date(start).toISOString().slice(0, 10),
      runs: of.length,
      succeeded,
      failed: ended.length - succeeded,
      successRatio: ended.length === 0 ? null : succeeded / ended.length,
      p50Ms: percentile(durations, 50),
      p95Ms: percentile(durations, 95),
    });
  }
  return days;
}
