import {
  countRunDeadLetters,
  moveRunDeadLetters,
  type RedriveOptions,
  redrive,
} from '../aws/dead-letters.ts';
import { type RetryRunResult, retryRun } from '../runs/retry-run.ts';
import type { RunLedger } from '../runs/run-ledger.ts';
import type { FlowDeployment } from './deployment.ts';

/** How many dead letters one step's DLQ sent back. */
export interface StepRedrive {
  readonly step: number;
  readonly fid: string | undefined;
  readonly moved: number;
}

/**
 * Sends the dead letters of `steps` back into the flow: what `kisflow redrive` and the console's
 * Dead letters page both do. A dead letter goes back to the step it names (an oversize row may sit
 * in the sender's DLQ but belong to the next step); one that names none, to its DLQ's step.
 *
 * @example const moved = await redriveSteps(deployment, [0, 1], { max: 10 });
 */
export async function redriveSteps(
  deployment: FlowDeployment,
  steps: readonly number[],
  options: RedriveOptions = {},
): Promise<StepRedrive[]> {
  const { flow, queues } = deployment;
  const done: StepRedrive[] = [];
  for (const step of steps) {
    const target = (message: { step?: number }) =>
      queues.stepQueues[message.step ?? step] ?? (queues.stepQueues[step] as string);
    const moved = await redrive(
      deployment.clients.sqs,
      queues.stepDeadLetterQueues[step] as string,
      target,
      options,
    );
    done.push({ step, fid: flow.steps[step]?.fid, moved });
  }
  return done;
}

/**
 * `kisflow runs retry <run>` and the console's "retry what failed": the run's dead letters, from
 * every step's DLQ of its flow, into a new run linked to it (see kisflow/runs/retry-run.ts).
 */
export function retryRunDeadLetters(
  ledger: RunLedger,
  deployment: FlowDeployment,
  runId: string,
): Promise<RetryRunResult> {
  const { sqs } = deployment.clients;
  return retryRun({
    ledger,
    parentRunId: runId,
    waiting: () => countRunDeadLetters(sqs, deployment.queues, runId),
    move: (into) => moveRunDeadLetters(sqs, deployment.queues, runId, into),
  });
}
