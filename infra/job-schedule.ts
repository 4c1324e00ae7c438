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
import { fireMessage } from '../kisflow/wire/control-message.ts';

export interface KisFlowJobProps {
  readonly jobId: string;
  readonly flowId: string;
  /** `rate(...)`, `cron(...)` or `at(...)`, EventBridge Scheduler syntax. */
  readonly schedule: string;
  /** IANA time zone the expression is read in. @default 'UTC' */
  readonly timezone?: string;
  /** @default true */
  readonly enabled?: boolean;
  /** The deployment's control queue (job control makes each fire a run). */
  readonly controlQueue: IQueue;
  /** Where a fire goes when it cannot be delivered after the retries. */
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
 * A timed job: an EventBridge Scheduler schedule that puts a `fire` message on the deployment's
 * control queue, with a retry policy and a dead-letter queue for undeliverable fires. Job control
 * (kisflow/runs/job-control.ts) makes it a run: the job's overlap policy, its shards, its timeout,
 * and the ticks (its rows and params, from the deployed project) into the flow's first queue.
 */
export class KisFlowJob extends Construct {
  public readonly schedule: Schedule;

  constructor(scope: Construct, id: string, props: KisFlowJobProps) {
    super(scope, id);
    const fire = fireMessage(props.jobId, ContextAttribute.scheduledTime);
    this.schedule = new Schedule(this, 'Schedule', {
      description: `KisFlow job ${props.jobId} of flow ${props.flowId}`.slice(0, 512),
      schedule: ScheduleExpression.expression(props.schedule, TimeZone.of(props.timezone ?? 'UTC')),
      enabled: props.enabled ?? true,
      target: new SqsSendMessage(props.controlQueue, {
        input: ScheduleTargetInput.fromObject(fire),
        deadLetterQueue: props.deadLetterQueue,
        retryAttempts: props.retryAttempts ?? 10,
        maxEventAge: props.maxEventAge ?? Duration.hours(1),
      }),
    });
  }
}
