import type { RunRecord, StepCounters } from '../../runs/run-ledger.ts';

/** Per-step counters summed over runs, keyed `flow#step`. */
export type StepTotals = Map<string, StepCounters & { readonly fid?: string }>;

export function sumSteps(runs: readonly RunRecord[]): StepTotals {
  const totals: StepTotals = new Map();
  for (const run of runs) {
    for (const s of run.steps) {
      const key = `${run.flowId}#${s.index}`;
      const t = totals.get(key) ?? { in: 0, out: 0, rejected: 0, dropped: 0, deadLettered: 0, errors: 0 };
      totals.set(key, {
        ...(s.fid === undefined ? {} : { fid: s.fid }),
        in: t.in + s.in,
        out: t.out + s.out,
        rejected: t.rejected + s.rejected,
        dropped: t.dropped + s.dropped,
        deadLettered: t.deadLettered + s.deadLettered,
        errors: t.errors + s.errors,
      });
    }
  }
  return totals;
}
