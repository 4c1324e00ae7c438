import { Duration } from 'aws-cdk-lib';
import {
  EventBus,
  EventField,
  type EventPattern,
  type IEventBus,
  Rule,
  RuleTargetInput,
} from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { eventEnvelope } from '../kisflow/wire/envelope.ts';

export interface FlowEventSourceProps {
  readonly flowId: string;
  /**
   * The pattern in EventBridge's JSON form (`source`, `detail-type`, `detail`, ...), as written in
   * the flow's `source.eventPattern`.
   */
  readonly eventPattern: Readonly<Record<string, unknown>>;
  /** @default - the account's default event bus */
  readonly eventBusName?: string;
  /** The flow's first queue. */
  readonly queue: IQueue;
  /** Where an event goes when it cannot be delivered after the retries. */
  readonly deadLetterQueue: IQueue;
  /** @default 10 */
  readonly retryAttempts?: number;
  /** @default Duration.hours(1) */
  readonly maxEventAge?: Duration;
  /** Whether the rule delivers (`status: 0` flows deploy it disabled). @default true */
  readonly enabled?: boolean;
}

/**
 * Events that enter a flow: a rule on the flow's event bus whose input transformer turns each
 * matching event into a one-row envelope (the row is the event's `detail`) in the first queue.
 */
export class FlowEventSource extends Construct {
  public readonly rule: Rule;
  public readonly eventBus: IEventBus;

  constructor(scope: Construct, id: string, props: FlowEventSourceProps) {
    super(scope, id);
    this.eventBus = props.eventBusName
      ? EventBus.fromEventBusName(this, 'Bus', props.eventBusName)
      : EventBus.fromEventBusName(this, 'Bus', 'default');
    this.rule = new Rule(this, 'Rule', {
      description: `KisFlow: events into flow ${props.flowId}`.slice(0, 512),
      eventBus: props.eventBusName ? this.eventBus : undefined,
      enabled: props.enabled ?? true,
      // The L2 passes keys through (it only renames its own `detailType`), so EventBridge's JSON
      // spelling (`detail-type`) reaches the template unchanged.
      eventPattern: props.eventPattern as EventPattern,
    });
    this.rule.addTarget(
      new SqsQueue(props.queue, {
        message: RuleTargetInput.fromObject(
          eventEnvelope({
            flowId: props.flowId,
            eventId: EventField.eventId,
            detail: EventField.fromPath('$.detail'),
            meta: {
              event_source: EventField.source,
              event_type: EventField.detailType,
              event_time: EventField.time,
            },
          }),
        ),
        deadLetterQueue: props.deadLetterQueue,
        // An ordered flow's first queue is FIFO and needs a group; EventBridge takes only a fixed
        // one: events then enter in the order they were delivered (content-based deduplication).
        ...(props.queue.fifo ? { messageGroupId: 'events' } : {}),
        retryAttempts: props.retryAttempts ?? 10,
        maxEventAge: props.maxEventAge ?? Duration.hours(1),
      }),
    );
  }
}
