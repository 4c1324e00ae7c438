import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  GetQueueUrlCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { InfrastructureError } from '../errors.ts';
import { SQS_MAX_BATCH_ENTRIES, SQS_MAX_RECEIVE_MESSAGES } from '../wire/limits.ts';

/**
 * Receiving, hiding and deleting messages: the consumer side of SQS that the local poller, `kisflow
 * tail`, the dead-letter tools and the step handler's retry backoff share.
 */

export interface ReceiveOptions {
  /** At most this many (one request carries at most 10). */
  readonly max: number;
  /** Seconds the messages stay hidden from other consumers. @default - the queue's own */
  readonly visibilitySeconds?: number;
  /** Long-poll wait, 0-20 s. */
  readonly waitTimeSeconds: number;
  /** Ask for message attributes and system attributes (real SQS returns none unless asked). */
  readonly attributes?: boolean;
  readonly signal?: AbortSignal;
}

/** One ReceiveMessage request. */
export async function receiveMessages(
  sqs: SQSClient,
  queueUrl: string,
  options: ReceiveOptions,
): Promise<Message[]> {
  const out = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: Math.max(1, Math.min(SQS_MAX_RECEIVE_MESSAGES, options.max)),
      WaitTimeSeconds: options.waitTimeSeconds,
      ...(options.visibilitySeconds === undefined ? {} : { VisibilityTimeout: options.visibilitySeconds }),
      ...(options.attributes ? { MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['All'] } : {}),
    }),
    options.signal === undefined ? {} : { abortSignal: options.signal },
  );
  return out.Messages ?? [];
}

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += SQS_MAX_BATCH_ENTRIES)
    out.push(items.slice(i, i + SQS_MAX_BATCH_ENTRIES));
  return out;
}

/**
 * Deletes received messages (DeleteMessageBatch, 10 per request).
 * @throws InfrastructureError `SQS_DELETE_FAILED` naming how many could not be deleted (they will
 *   be received again).
 */
export async function deleteMessages(
  sqs: SQSClient,
  queueUrl: string,
  messages: readonly Pick<Message, 'ReceiptHandle'>[],
): Promise<void> {
  let failed = 0;
  let first: string | undefined;
  for (const group of chunks(messages)) {
    const out = await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: group.map((m, i) => ({ Id: `m${i}`, ReceiptHandle: m.ReceiptHandle })),
      }),
    );
    failed += out.Failed?.length ?? 0;
    first ??= out.Failed?.[0]?.Message;
  }
  if (failed > 0) {
    throw new InfrastructureError(
      'SQS_DELETE_FAILED',
      `DeleteMessageBatch failed for ${failed} of ${messages.length} message(s) in ${queueUrl}${first ? `: ${first}` : ''}; they will be received again.`,
      { queueUrl, failed },
    );
  }
}

/** Sets the visibility timeout of received messages (ChangeMessageVisibilityBatch, 10 per request). */
export async function setVisibility(
  sqs: SQSClient,
  queueUrl: string,
  messages: readonly Pick<Message, 'ReceiptHandle'>[],
  seconds: number,
): Promise<void> {
  for (const group of chunks(messages)) {
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: group.map((m, i) => ({
          Id: `m${i}`,
          ReceiptHandle: m.ReceiptHandle,
          VisibilityTimeout: seconds,
        })),
      }),
    );
  }
}

/** Makes one received message visible again in `seconds` (a retry's backoff). */
export async function changeVisibility(
  sqs: SQSClient,
  queueUrl: string,
  receiptHandle: string,
  seconds: number,
): Promise<void> {
  await sqs.send(
    new ChangeMessageVisibilityCommand({
      QueueUrl: queueUrl,
      ReceiptHandle: receiptHandle,
      VisibilityTimeout: seconds,
    }),
  );
}

/** The URL of the queue an event source ARN (`arn:aws:sqs:region:account:name`) names. */
export async function queueUrlOfArn(sqs: SQSClient, arn: string): Promise<string> {
  const [, , , , account, name] = arn.split(':');
  const out = await sqs.send(new GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: account }));
  if (!out.QueueUrl) {
    throw new InfrastructureError('SQS_QUEUE_NOT_FOUND', `No queue URL for ${arn}.`, { arn });
  }
  return out.QueueUrl;
}
