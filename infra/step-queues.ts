import { Duration } from 'aws-cdk-lib';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  DEAD_LETTER_RETENTION,
  deadLetterQueue,
  SQS_MAX_MESSAGE_BYTES,
  secureQueue,
} from './secure-queue.ts';

export interface StepQueuesProps {
  /** Physical name of the input queue (`resourceNames().stepQueue(flowId, stepKey)`). */
  readonly queueName: string;
  /** Physical name of the dead-letter queue (`resourceNames().stepDeadLetterQueue(flowId, stepKey)`). */
  readonly deadLetterQueueName: string;
  /**
   * Receives before a message moves to the DLQ (`maxReceiveCount` of config/redelivery.ts: the
   * budget for infrastructure failures). SQS allows 1 to 1000.
   */
  readonly maxReceiveCount: number;
  /** Timeout of the function consuming the queue; the visibility timeout is derived from it. */
  readonly functionTimeout: Duration;
  /**
   * The event source's batching window (messages wait in the poller that long before the batch
   * is invoked, and are invisible meanwhile).
   * @default Duration.seconds(0)
   */
  readonly batchingWindow?: Duration;
  /**
   * Largest message the input queue accepts: the flow's packing limit (`maxMessageBytes`).
   * @default SQS_MAX_MESSAGE_BYTES
   */
  readonly maxMessageSizeBytes?: number;
  /**
   * FIFO queue and DLQ, for a flow that keeps order per key (`tuning.ordering`); both names must
   * end in `.fifo` (`resourceNames().stepQueue(flowId, stepKey, true)`).
   * @default false
   */
  readonly fifo?: boolean;
}

/**
 * The input queue of one step and its dead-letter queue. Created apart from the step's function
 * because a step sends to queues of steps defined after it (the next one) and before it (a
 * `jumpTo` target): every queue of the flow exists before any function is wired.
 */
export class StepQueues extends Construct {
  /** Messages (packed row batches in the v1 envelope) this step consumes. */
  public readonly queue: Queue;
  /** Messages that failed `maxReceiveCount` times, and rows the step rejected with a reason. */
  public readonly deadLetterQueue: Queue;
  public readonly maxReceiveCount: number;
  /** Timeout of the consuming function: the visibility timeout was sized from it. */
  public readonly functionTimeout: Duration;
  /** Batching window of the event source: the visibility timeout was sized from it. */
  public readonly batchingWindow?: Duration;
  /** Whether the queues are FIFO: the event source then has no batching window and at most 10 messages. */
  public readonly fifo: boolean;

  constructor(scope: Construct, id: string, props: StepQueuesProps) {
    super(scope, id);
    if (
      !Number.isInteger(props.maxReceiveCount) ||
      props.maxReceiveCount < 1 ||
      props.maxReceiveCount > 1000
    ) {
      throw new Error(
        `maxReceiveCount of ${props.queueName} is ${props.maxReceiveCount}; SQS allows 1 to 1000 (max_receives)`,
      );
    }
    this.maxReceiveCount = props.maxReceiveCount;
    this.functionTimeout = props.functionTimeout;
    this.batchingWindow = props.batchingWindow;
    this.fifo = props.fifo ?? false;
    this.deadLetterQueue = deadLetterQueue(this, 'DeadLetterQueue', {
      queueName: props.deadLetterQueueName,
      fifo: this.fifo,
    });
    const window = props.batchingWindow?.toSeconds() ?? 0;
    this.queue = secureQueue(this, 'Queue', {
      queueName: props.queueName,
      // A message stays invisible while a batch that holds it runs; at six times the function
      // timeout plus the batching window, Lambda's own retries on throttling never make it visible
      // (and processed twice) in the meantime.
      // https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html#events-sqs-queueconfig
      visibilityTimeout: Duration.seconds(6 * props.functionTimeout.toSeconds() + window),
      maxMessageSizeBytes: props.maxMessageSizeBytes ?? SQS_MAX_MESSAGE_BYTES,
      // As long as its DLQ: a stalled step keeps its backlog for the whole 14 days the age alarm
      // gives an operator, instead of SQS's 4-day default dropping it silently.
      retentionPeriod: DEAD_LETTER_RETENTION,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount },
      fifo: this.fifo,
    });
  }
}
