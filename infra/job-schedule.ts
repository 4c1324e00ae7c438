import { Duration, TimeZone } from 'aws-cdk-lib';
import {
  ContextAttribute,
  Schedule,
  ScheduleExpression,
  ScheduleTargetInput,
} from 'aws-cdk-lib/aws-scheduler';
import { SqsSendMessage } from 'aws-cdk-lib/aws-scheduler-targets';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { tickEnvelope } from '../kisflow/wire/envelope.ts';

export interface KisFlowJobProps {
  readonly jobId: string;
  readonly flowId: string;
  /** `rate(...)`, `cron(...)` or `at(...)`, EventBridge Scheduler syntax. */
  readonly schedule: string;
  /** IANA time zone the expression is read in. @default 'UTC' */
  readonly timezone?: string;
  /** Flow metadata every tick carries. @default {} */
  readonly params?: Readonly<Record<string, unknown>>;
  /** Rows every tick carries. @default - one row `{ job_id, scheduled_at }` */
  readonly rows?: readonly Readonly<Record<string, unknown>>[];
  /** @default true */
  readonly enabled?: boolean;
  /** The flow's first queue. */
  readonly queue: IQueue;
  /** Where a tick goes when it cannot be delivered after the retries. */
  readonly deadLetterQueue: IQueue;
  /**
   * Delivery retries of one tick (0-185).
   * @default 10 - a queue throttled or briefly unavailable gets minutes, not a day of retries
   */
  readonly retryAttempts?: number;
  /**
   * How long an undelivered tick stays worth delivering (1 min - 24 h).
   * @default Duration.hours(1) - a tick far behind its schedule is better in the DLQ, where it is seen
   */
  readonly maxEventAge?: Duration;
}

/**
 * A timed job: an EventBridge Scheduler schedule that puts a tick (a v1 envelope) into the
 * flow's first queue, with a retry policy and a dead-letter queue for undeliverable ticks.
 */
export class KisFlowJob extends Construct {
  public readonly schedule: Schedule;

  constructor(scope: Construct, id: string, props: KisFlowJobProps) {
    super(scope, id);
    const envelope = tickEnvelope({
      flowId: props.flowId,
      jobId: props.jobId,
      scheduledTime: ContextAttribute.scheduledTime,
      rows: props.rows,
      params: props.params ?? {},
    });
    this.schedule = new Schedule(this, 'Schedule', {
      description: `KisFlow job ${props.jobId} of flow ${props.flowId}`.slice(0, 512),
      schedule: ScheduleExpression.expression(props.schedule, TimeZone.of(props.timezone ?? 'UTC')),
      enabled: props.enabled ?? true,
      target: new SqsSendMessage(props.queue, {
        input: ScheduleTargetInput.fromObject(envelope),
        deadLetterQueue: props.deadLetterQueue,
        // An ordered flow's first queue is FIFO and needs a group (fixed: ticks enter in order).
        ...(props.queue.fifo ? { messageGroupId: 'ticks' } : {}),
        retryAttempts: props.retryAttempts ?? 10,
        maxEventAge: props.maxEventAge ?? Duration.hours(1),
      }),
    });
  }
}
