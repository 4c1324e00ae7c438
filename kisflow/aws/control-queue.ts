import {
  GetQueueUrlCommand,
  QueueDoesNotExist,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { resourceNames } from '../config/names.ts';
import { InfrastructureError } from '../errors.ts';
import {
  CONTROL_VERSION,
  type ControlMessage,
  encodeControl,
  SQS_MAX_DELAY_SECONDS,
} from '../wire/control-message.ts';

/**
 * Puts one job-control message on the control queue (kisflow/runs/job-control.ts handles it).
 *
 * @throws InfrastructureError `CONTROL_SEND_FAILED` (retryable) naming the message kind.
 * @example await sendControlMessage(sqs, controlQueueUrl, { v: 1, kind: 'run-ended', run: 'r1' });
 */
export async function sendControlMessage(
  sqs: SQSClient,
  queueUrl: string,
  message: ControlMessage,
  delaySeconds = 0,
): Promise<void> {
  try {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: encodeControl(message),
        DelaySeconds: Math.max(0, Math.min(SQS_MAX_DELAY_SECONDS, Math.ceil(delaySeconds))),
      }),
    );
  } catch (error) {
    throw new InfrastructureError(
      'CONTROL_SEND_FAILED',
      `Could not send the ${message.kind} control message to ${queueUrl}: ${(error as Error)?.message ?? String(error)}`,
      { kind: message.kind, queueUrl },
      { cause: error, retryable: true },
    );
  }
}

/**
 * The deployment's control queue URL, or undefined when it has none (no job in any deployed flow,
 * or no deployment at all): an operator command then leaves the run end to the sweep.
 *
 * @example const url = await findControlQueue(sqs, 'kisflow');
 */
export async function findControlQueue(sqs: SQSClient, prefix: string): Promise<string | undefined> {
  try {
    const found = await sqs.send(new GetQueueUrlCommand({ QueueName: resourceNames(prefix).controlQueue() }));
    return found.QueueUrl;
  } catch (error) {
    const name = (error as { name?: string; Code?: string })?.name ?? '';
    if (error instanceof QueueDoesNotExist || /NonExistentQueue|QueueDoesNotExist/.test(name)) {
      return undefined;
    }
    throw new InfrastructureError(
      'CONTROL_LOOKUP_FAILED',
      `Could not look up the control queue '${resourceNames(prefix).controlQueue()}': ${(error as Error)?.message ?? String(error)}`,
      { prefix },
      { cause: error, retryable: true },
    );
  }
}

/**
 * Tells job control that `runId` ended, so what waits on it (a `serial` fire, child jobs, a retry,
 * alerts) follows now rather than at the next sweep. Returns whether a control queue was there.
 */
export async function announceRunEnded(sqs: SQSClient, prefix: string, runId: string): Promise<boolean> {
  const queueUrl = await findControlQueue(sqs, prefix);
  if (queueUrl === undefined) return false;
  await sendControlMessage(sqs, queueUrl, { v: CONTROL_VERSION, kind: 'run-ended', run: runId });
  return true;
}
