import { findControlQueue, sendControlMessage } from '../aws/control-queue.ts';
import { DynamoRunLedger } from '../aws/dynamodb-run-ledger.ts';
import { SqsTransport } from '../aws/sqs-transport.ts';
import type { JobSpec, Params, ProjectConfig } from '../config/model.ts';
import { resourceNames } from '../config/names.ts';
import { InfrastructureError } from '../errors.ts';
import { type FireOutcome, fireBatches, fireJob } from '../runs/fire-job.ts';
import type { RunLedger } from '../runs/run-ledger.ts';
import { manualFire } from '../wire/control-message.ts';
import { type FlowDeployment, openFlowDeployment } from './deployment.ts';

/** Where a trigger is sent: the deployment lookup of every operator command. */
export interface TriggerTarget {
  /** Where `.kisflow/dev.json` is looked for. */
  readonly root: string;
  readonly endpoint?: string;
  readonly prefix?: string;
  /**
   * How long to wait for job control to take a fire sent through the control queue.
   * @default 30 s (tests give less)
   */
  readonly answerWithinMs?: number;
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
    const fire = manualFire(job.jobId, params);
    const runId = fire.run;
    // A deployment with job control: the fire goes where every fire goes (overlap, shards, pause).
    const control = await findControlQueue(deployment.clients.sqs, deployment.prefix);
    if (control !== undefined) {
      await sendControlMessage(deployment.clients.sqs, control, fire);
      return await answered(ledger, job, runId, control, target.answerWithinMs ?? 30_000);
    }
    const outcome = await fireJob(ledger, {
      job,
      scheduledAt: new Date(),
      trigger: 'manual',
      params,
      runId,
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
 * What job control made of the fire `runId`, as the ledger shows it.
 * @throws InfrastructureError `CONTROL_NOT_RUNNING` when nothing took it within `withinMs`.
 */
async function answered(
  ledger: RunLedger,
  job: JobSpec,
  runId: string,
  queueUrl: string,
  withinMs: number,
): Promise<JobTriggerResult> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const run = await ledger.get(runId);
    if (run?.status === 'skipped') {
      return {
        kind: 'not_started',
        runId,
        message: `job ${job.jobId}: not started: ${run.reason ?? 'skipped'}`,
      };
    }
    if (run !== undefined) {
      return {
        kind: 'started',
        runId,
        message: `job ${job.jobId}: run started in flow ${job.flowId} with ${run.batches.roots} batch(es)`,
      };
    }
    if (await ledger.isQueued(job.jobId, runId)) {
      const [holder] = await ledger.list({ jobId: job.jobId, status: 'running', limit: 1 });
      return {
        kind: 'queued',
        runId,
        message: `job ${job.jobId}: queued behind run ${holder?.id ?? '(ended since)'} (overlap: serial)`,
      };
    }
    if (Date.now() >= deadline) {
      throw new InfrastructureError(
        'CONTROL_NOT_RUNNING',
        `Job ${job.jobId}'s fire (run ${runId}) was sent to the control queue ${queueUrl}, but nothing took it within ${Math.round(withinMs / 1000)} s: is job control running (\`kisflow dev\`, or the deployed job-control function)? It will start when job control reads the queue.`,
        { jobId: job.jobId, runId, queueUrl },
        { retryable: true },
      );
    }
    await new Promise((r) => setTimeout(r, 200));
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
