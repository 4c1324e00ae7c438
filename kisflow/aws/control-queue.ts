import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { InfrastructureError } from '../errors.ts';
import { type ControlMessage, encodeControl, SQS_MAX_DELAY_SECONDS } from '../wire/control-message.ts';

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
