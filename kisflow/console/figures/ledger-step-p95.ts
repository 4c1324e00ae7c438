import type { RunRecord } from '../../runs/run-ledger.ts';
import type { StepFigure } from './figure.ts';

/**
 * A step's p95 batch duration over `runs`, from the run ledger: the largest of the runs' own
 * p95s. The ledger keeps each run's histogram only as its p95, so the runs cannot be merged into
 * one exact p95; the largest is an upper bound that a single slow run cannot hide under many
 * fast ones (and each run's p95 is itself at most 9 % above the true one, batch-durations.ts).
 * `detail` is the number of runs that timed a batch of the step.
 *
 * @example ledgerStepP95(await ledger.list({ flowId, since }), 2, 'save_order')
 */
export function ledgerStepP95(runs: readonly RunRecord[], index: number, fid: string): StepFigure {
  let p95: number | undefined;
  let timed = 0;
  for (const run of runs) {
    const step = run.steps.find((s) => s.index === index);
    // A run of an older version of the flow may have had another step at this index.
    if (step?.timings === undefined || (step.fid !== undefined && step.fid !== fid)) continue;
    timed++;
    p95 = Math.max(p95 ?? 0, step.timings.p95Ms);
  }
  return p95 === undefined
    ? { value: null, note: 'p95NoRuns' }
    : { value: p95, note: 'p95Ledger', detail: String(timed) };
}
