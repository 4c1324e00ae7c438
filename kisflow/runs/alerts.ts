import type { JobAlertsSpec } from '../config/model.ts';
import { isFailure } from './job-policy.ts';
import type { RunRecord } from './run-ledger.ts';

export type AlertRule = 'on_failure' | 'consecutive_failures' | 'success_ratio' | 'on_timeout';

/** What phase 2 publishes to the alert topic: the run and one line saying why. */
export interface Alert {
  readonly runId: string;
  readonly jobId?: string;
  readonly rule: AlertRule;
  readonly message: string;
}

/** Runs that count for failure streaks and ratios: finished, and not skipped or cancelled. */
function counted(run: RunRecord): boolean {
  return run.status !== 'running' && run.status !== 'skipped' && run.status !== 'cancelled';
}

function summary(run: RunRecord): string {
  const sum = (k: 'rejected' | 'deadLettered' | 'errors') => run.steps.reduce((n, s) => n + s[k], 0);
  const parts = [
    [sum('rejected'), 'rejected'],
    [sum('deadLettered'), 'dead-lettered'],
    [sum('errors'), 'errors'],
  ]
    .filter(([n]) => (n as number) > 0)
    .map(([n, what]) => `${n} ${what}`);
  if (run.batches.deadLettered > 0) parts.push(`${run.batches.deadLettered} batch(es) in the DLQ`);
  return parts.length > 0 ? parts.join(', ') : (run.reason ?? 'no detail');
}

/**
 * The alerts a just-finished run raises. `history` is the job's earlier runs, newest first (the
 * run itself may be included; it is counted once). A streak alerts once, when it reaches N; a
 * ratio alerts on a failed run while the ratio over the window is under the threshold.
 *
 * @example evaluateAlerts({ on_failure: true }, run, []) // [{ rule: 'on_failure', message: 'run r1 of job J failed: 3 rejected' }]
 */
export function evaluateAlerts(rules: JobAlertsSpec, run: RunRecord, history: readonly RunRecord[]): Alert[] {
  const alerts: Alert[] = [];
  const who = `run ${run.id}${run.jobId === undefined ? '' : ` of job ${run.jobId}`}`;
  const alert = (rule: AlertRule, message: string) =>
    alerts.push({ runId: run.id, ...(run.jobId === undefined ? {} : { jobId: run.jobId }), rule, message });
  if (run.status === 'timed_out' && rules.onTimeout)
    alert('on_timeout', `${who} timed out: ${run.reason ?? ''}`.trim());
  if (isFailure(run.status) && rules.onFailure && !(run.status === 'timed_out' && rules.onTimeout)) {
    alert(
      'on_failure',
      `${who} ${run.status === 'partial' ? 'ended partial' : run.status.replace('_', ' ')}: ${summary(run)}`,
    );
  }
  const runs = [run, ...history.filter((h) => h.id !== run.id)].filter(counted);
  if (rules.consecutiveFailures !== undefined && isFailure(run.status)) {
    const streak = runs.findIndex((r) => !isFailure(r.status));
    const length = streak === -1 ? runs.length : streak;
    if (length === rules.consecutiveFailures) {
      alert(
        'consecutive_failures',
        `${who}: ${length} failed runs in a row (threshold ${rules.consecutiveFailures})`,
      );
    }
  }
  const ratio = rules.successRatio;
  if (ratio !== undefined && isFailure(run.status)) {
    const window = runs.slice(0, ratio.runs);
    const ok = window.filter((r) => r.status === 'succeeded').length;
    if (window.length > 0 && ok / window.length < ratio.below) {
      alert(
        'success_ratio',
        `${who}: success ratio ${(ok / window.length).toFixed(2)} over the last ${window.length} runs is under ${ratio.below}`,
      );
    }
  }
  return alerts;
}
