import { randomUUID } from 'node:crypto';
import { DynamoRunLedger } from '../aws/dynamodb-run-ledger.ts';
import { SqsTransport } from '../aws/sqs-transport.ts';
import type { JobSpec, Params, ProjectConfig } from '../config/model.ts';
import { resourceNames } from '../config/names.ts';
import { type FireOutcome, fireBatches, fireJob } from '../runs/fire-job.ts';
import { type FlowDeployment, openFlowDeployment } from './deployment.ts';

/** Where a trigger is sent: the deployment lookup of every operator command. */
export interface TriggerTarget {
  /** Where `.kisflow/dev.json` is looked for. */
  readonly root: string;
  readonly endpoint?: string;
  readonly prefix?: string;
}

/** What a manual trigger did; `message` is the one line `jobs trigger` prints on stderr. */
export interface JobTriggerResult {
  readonly kind: 'started' | 'queued' | 'not_started';
  /** The new run (or the queued fire's, or the skipped one's). */
  readonly runId: string;
  readonly message: string;
}

/**
 * Fires `job` now with trigger `manual`, through its overlap policy, and sends its tick batches
 * into the flow's first queue: what `kisflow jobs trigger` and the console's Jobs page both do.
 *
 * @example const { runId } = await triggerJob(project, job, { day: '2026-12-01' }, { root: process.cwd() });
 */
export async function triggerJob(
  project: ProjectConfig,
  job: JobSpec,
  params: Params,
  target: TriggerTarget,
): Promise<JobTriggerResult> {
  const deployment = await openFlowDeployment(project, {
    flowId: job.flowId,
    root: target.root,
    ...(target.endpoint === undefined ? {} : { endpoint: target.endpoint }),
    ...(target.prefix === undefined ? {} : { prefix: target.prefix }),
  });
  try {
    const ledger = new DynamoRunLedger({
      dynamodb: deployment.clients.dynamodb,
      tableName: resourceNames(deployment.prefix).runsTable(),
    });
    const outcome = await fireJob(ledger, {
      job,
      scheduledAt: new Date(),
      trigger: 'manual',
      params,
      runId: `manual-${randomUUID()}`,
    });
    if (outcome.kind === 'started') {
      await sendToFlow(deployment, job, outcome);
      const covered =
        outcome.covered === undefined ? '' : `; run ${outcome.covered} cancelled (overlap: cover_early)`;
      return {
        kind: 'started',
        runId: outcome.run.id,
        message: `job ${job.jobId}: run started in flow ${job.flowId} with ${outcome.ticks.length} batch(es)${covered}`,
      };
    }
    if (outcome.kind === 'queued') {
      return {
        kind: 'queued',
        runId: outcome.runId,
        message: `job ${job.jobId}: queued behind run ${outcome.behind} (overlap: serial)`,
      };
    }
    return {
      kind: 'not_started',
      runId: outcome.run.id,
      message: `job ${job.jobId}: not started: ${outcome.run.reason ?? outcome.kind}`,
    };
  } finally {
    deployment.close();
  }
}

/**
 * A started run's batches, into its flow's first step queue (grouped by key when the flow is
 * ordered): what a manual trigger and a resume's misfire run send.
 */
export async function sendToFlow(
  deployment: FlowDeployment,
  job: JobSpec,
  outcome: Extract<FireOutcome, { kind: 'started' }>,
): Promise<void> {
  const transport = new SqsTransport({
    sqs: deployment.clients.sqs,
    queueUrl: () => deployment.queues.stepQueues[0] as string,
    maxMessageBytes: deployment.flow.tuning.maxMessageBytes,
    orderingOf: () => deployment.flow.tuning.ordering,
  });
  for (const batch of fireBatches(job, outcome)) {
    await transport.send({ kind: 'step', flowId: job.flowId, step: 0 }, batch);
  }
}
