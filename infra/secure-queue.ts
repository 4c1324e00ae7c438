import { Duration } from 'aws-cdk-lib';
import {
  type DeadLetterQueue,
  DeduplicationScope,
  FifoThroughputLimit,
  Queue,
  QueueEncryption,
} from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { SQS_MAX_MESSAGE_BYTES, SQS_MAX_RETENTION_SECONDS } from '../kisflow/wire/limits.ts';

/** SQS's largest message: a dead letter or a packed batch is never refused for its size. */
export { SQS_MAX_MESSAGE_BYTES };

/**
 * A dead letter keeps its original enqueue time, so a DLQ must retain messages longer than its
 * source queue or they expire early; 14 days is SQS's maximum.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html
 */
export const DEAD_LETTER_RETENTION = Duration.seconds(SQS_MAX_RETENTION_SECONDS);

export interface SecureQueueProps {
  /** @default - a name CloudFormation generates */
  readonly queueName?: string;
  /** @default Duration.seconds(30) */
  readonly visibilityTimeout?: Duration;
  /** @default Duration.days(4) */
  readonly retentionPeriod?: Duration;
  /** @default SQS_MAX_MESSAGE_BYTES */
  readonly maxMessageSizeBytes?: number;
  /** @default - none: the queue must then be someone's dead-letter queue */
  readonly deadLetterQueue?: DeadLetterQueue;
  /**
   * A FIFO queue (an ordered flow's; the name must end in `.fifo`, and its DLQ must be FIFO too).
   * @default false
   */
  readonly fifo?: boolean;
}

/**
 * Every queue of a deployment: encrypted at rest with SQS-managed keys (no KMS key policy to get
 * wrong, EventBridge and Scheduler can deliver to it) and refusing any request without TLS.
 */
export function secureQueue(scope: Construct, id: string, props: SecureQueueProps = {}): Queue {
  return new Queue(scope, id, {
    queueName: props.queueName,
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    visibilityTimeout: props.visibilityTimeout,
    retentionPeriod: props.retentionPeriod,
    maxMessageSizeBytes: props.maxMessageSizeBytes ?? SQS_MAX_MESSAGE_BYTES,
    deadLetterQueue: props.deadLetterQueue,
    // High-throughput FIFO: limits and deduplication per message group, since KisFlow's groups are
    // independent key hashes and its deduplication ids (batch ids) are unique in the queue anyway.
    // Content-based deduplication serves senders that give no id (EventBridge, Scheduler).
    // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/high-throughput-fifo.html
    ...(props.fifo === true
      ? {
          fifo: true,
          contentBasedDeduplication: true,
          deduplicationScope: DeduplicationScope.MESSAGE_GROUP,
          fifoThroughputLimit: FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
        }
      : {}),
  });
}

/** A dead-letter queue: {@link secureQueue} with the longest retention. */
export function deadLetterQueue(
  scope: Construct,
  id: string,
  props: { readonly queueName?: string; readonly fifo?: boolean } = {},
): Queue {
  return secureQueue(scope, id, {
    queueName: props.queueName,
    retentionPeriod: DEAD_LETTER_RETENTION,
    ...(props.fifo === undefined ? {} : { fifo: props.fifo }),
  });
}
