import type { ProjectConfig } from '../config/model.ts';
import { type Alert, evaluateAlerts } from './alerts.ts';
import { childRuns } from './child-jobs.ts';
import { type Fire, type FireOutcome, fireJob, startQueued } from './fire-job.ts';
import { jobPolicy } from './job-policy.ts';
import { planRetry, retryAttempt } from './retry-plan.ts';
import type { RunLedger, RunRecord } from './run-ledger.ts';

export interface RunEndedActions {
  /** Runs started now (a queued `serial` fire, child jobs): send their ticks. */
  readonly started: readonly Extract<FireOutcome, { kind: 'started' }>[];
  /** Child fires that did not start (their own overlap policy queued or skipped them). */
  readonly deferred: readonly FireOutcome[];
  /** Fire this after `delayMs` (a timer locally, a one-time schedule on AWS). */
  readonly retry?: { readonly fire: Fire; readonly delayMs: number };
  /** Publish these (the alert topic). */
  readonly alerts: readonly Alert[];
}

const NOTHING: RunEndedActions = { started: [], deferred: [], alerts: [] };

/**
 * What follows when a job's run reaches a final status: the fire queued behind it starts
 * (overlap `serial`), its child jobs start (`on_success` / `on_failure`, through their own
 * overlap policies), a retry is planned (`retry`), and its alert rules are evaluated against the
 * job's history in the ledger. Every start is idempotent by run id, so handling one end twice
 * (two processes, a redelivery) starts nothing twice.
 *
 * @example
 * const { started, retry, alerts } = await runEnded(ledger, project, run);
 */
export async function runEnded(
  ledger: RunLedger,
  project: ProjectConfig,
  run: RunRecord,
): Promise<RunEndedActions> {
  const job = run.jobId === undefined ? undefined : project.jobs.get(run.jobId);
  if (!job || run.status === 'running') return NOTHING;
  const policy = jobPolicy(job);
  const started: Extract<FireOutcome, { kind: 'started' }>[] = [];
  const deferred: FireOutcome[] = [];

  const queued = await startQueued(ledger, job);
  if (queued) started.push(queued);

  for (const child of childRuns(job, run, project.jobs)) {
    const childJob = project.jobs.get(child.jobId as string);
    if (!childJob) continue;
    const outcome = await fireJob(ledger, {
      job: childJob,
      scheduledAt: new Date(run.finished ?? run.started),
      trigger: 'child',
      runId: child.runId,
      parentRunId: run.id,
    });
    if (outcome.kind === 'started') started.push(outcome);
    else if (outcome.kind !== 'duplicate') deferred.push(outcome);
  }

  const plan = planRetry(policy, run, retryAttempt(run.id));
  const retry = plan && {
    delayMs: plan.delayMs,
    fire: {
      job,
      scheduledAt: new Date((run.finished ?? run.started) + plan.delayMs),
      trigger: 'retry' as const,
      params: run.params as Fire['params'],
      runId: plan.runId,
      parentRunId: run.id,
    },
  };

  const window = Math.max(policy.alerts.consecutiveFailures ?? 0, policy.alerts.successRatio?.runs ?? 0);
  const history = window > 0 ? await ledger.list({ jobId: job.jobId, limit: window + 10 }) : [];
  const alerts = evaluateAlerts(policy.alerts, run, history);

  return { started, deferred, ...(retry ? { retry } : {}), alerts };
}
