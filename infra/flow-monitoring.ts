import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { safeId } from '../kisflow/config/names.ts';
import { METRICS_SERVICE, ROW_METRICS, stepMetricDimensions } from '../kisflow/wire/metric-names.ts';

export { METRICS_SERVICE, ROW_METRICS, stepMetricDimensions };

/**
 * Age of the oldest message at which a queue alarms: a step's input is normally drained in
 * seconds, the output waits for its consumer. Both far below the 14 days queues retain messages.
 */
export const STEP_QUEUE_AGE_ALARM = Duration.hours(1);
export const OUTPUT_QUEUE_AGE_ALARM = Duration.days(1);

/**
 * How far a stream source may fall behind before it alarms: Lambda's `IteratorAge` (ms, Kinesis
 * and DynamoDB Streams) or `OffsetLag` (records, Kafka) of the first step's mapping.
 */
export const SOURCE_ITERATOR_AGE_ALARM = Duration.minutes(15);
export const SOURCE_OFFSET_LAG_ALARM = 10_000;

/** How long an existing SQS queue feeding the first step may hold its oldest message before it alarms. */
export const SOURCE_QUEUE_AGE_ALARM = Duration.minutes(15);

/** A source feeding the first step, watched by how far it lags. */
export type MonitoredSource =
  | {
      /** `iterator_age`: Kinesis, DynamoDB Streams; `offset_lag`: Kafka. */
      readonly lag: 'iterator_age' | 'offset_lag';
      /** The first step's function (the mapping's metrics are the function's). */
      readonly function: IFunction;
      /** @default SOURCE_ITERATOR_AGE_ALARM ms, or SOURCE_OFFSET_LAG_ALARM records */
      readonly threshold?: number;
    }
  | {
      /** An existing queue (not in this stack): the age of its oldest message. */
      readonly lag: 'oldest_message_age';
      readonly queueName: string;
      /** Seconds. @default SOURCE_QUEUE_AGE_ALARM */
      readonly threshold?: number;
    };

export interface MonitoredStep {
  readonly step: number;
  /** The step's key (`stepKeys`): alarm names follow it, so inserting a step renames no alarm. */
  readonly key: string;
  readonly fid: string;
  readonly function: IFunction;
  readonly queue: IQueue;
  readonly deadLetterQueue: IQueue;
}

export interface FlowMonitoringProps {
  readonly flowId: string;
  readonly metricsNamespace: string;
  readonly steps: readonly MonitoredStep[];
  /** The flow's output queue, alarmed on the age of its oldest message. @default - none */
  readonly outputQueue?: IQueue;
  /** Queues whose every message is a failure (ingress DLQ, output DLQ) alarmed like the steps' DLQs. @default {} */
  readonly extraDeadLetterQueues?: Readonly<Record<string, IQueue>>;
  /** @default - a name CloudFormation generates */
  readonly dashboardName?: string;
  /** Prefix of alarm names. @default - names CloudFormation generates */
  readonly alarmNamePrefix?: string;
  /** Topic every alarm notifies (alarm and OK). @default - no action */
  readonly alarmTopic?: ITopic;
  /** The stream source of the first step, alarmed on its lag. @default - none */
  readonly source?: MonitoredSource;
  /** @default STEP_QUEUE_AGE_ALARM */
  readonly stepQueueAgeAlarm?: Duration;
  /** @default OUTPUT_QUEUE_AGE_ALARM */
  readonly outputQueueAgeAlarm?: Duration;
  /** Percentage of invocations that fail before the error alarm fires. @default 5 */
  readonly errorRatePercent?: number;
  /** @default Duration.minutes(5) */
  readonly period?: Duration;
}

/**
 * A flow's CloudWatch dashboard (one row per step: rows in/out/rejected, Lambda errors and
 * duration, DLQ depth and input-queue age) and alarms: any message in a DLQ, a Lambda error
 * rate above the threshold, and a queue whose oldest message waits too long (a stalled step).
 * Each alarm notifies `alarmTopic` when it fires and when it clears.
 */
export class FlowMonitoring extends Construct {
  public readonly dashboard: Dashboard;
  /** DLQ-depth alarms by queue label (the step's key or the extra queue's key). */
  public readonly deadLetterAlarms: ReadonlyMap<string, Alarm>;
  /** Error-rate alarms by step index. */
  public readonly errorRateAlarms: ReadonlyMap<number, Alarm>;
  /** Oldest-message-age alarms by queue label (the step's key, or `output`). */
  public readonly queueAgeAlarms: ReadonlyMap<string, Alarm>;
  /** The stream source's lag alarm, when the flow has one. */
  public readonly sourceLagAlarm: Alarm | undefined;

  constructor(scope: Construct, id: string, props: FlowMonitoringProps) {
    super(scope, id);
    const period = props.period ?? Duration.minutes(5);
    const threshold = props.errorRatePercent ?? 5;
    const name = (suffix: string) =>
      props.alarmNamePrefix ? `${props.alarmNamePrefix}-${suffix}` : undefined;

    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown: `# KisFlow flow ${props.flowId}\nRows per step (namespace ${props.metricsNamespace}), Lambda errors and duration, dead letters and queue age.`,
        width: 24,
        height: 2,
      }),
    );

    const deadLetterAlarms = new Map<string, Alarm>();
    const errorRateAlarms = new Map<number, Alarm>();
    const queueAgeAlarms = new Map<string, Alarm>();
    // A step's alarms are named `<stem>--<step key>-...` and the flow's own `<stem>-output-...`:
    // a step key never contains `--`, so a step named `output` keeps its own alarms.
    const ageAlarm = (key: string, id: string, queue: IQueue, limit: Duration, what: string) => {
      queueAgeAlarms.set(
        key,
        new Alarm(this, `QueueAge-${id}`, {
          alarmName: name(`${id}-queue-age`),
          alarmDescription: `The oldest message in ${what} (flow ${props.flowId}) has waited over ${limit.toHumanString()}: is the step stalled or disabled?`,
          metric: queue.metricApproximateAgeOfOldestMessage({
            period: Duration.minutes(5),
            statistic: 'Maximum',
          }),
          threshold: limit.toSeconds(),
          comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      );
    };
    for (const s of props.steps) {
      const label = `s${s.step} ${s.fid}`;
      const alarmKey = `-${safeId(s.key, 64)}`;
      const rows = ROW_METRICS.map(
        (metricName) =>
          new Metric({
            namespace: props.metricsNamespace,
            metricName,
            dimensionsMap: stepMetricDimensions(props.flowId, s.step, s.fid),
            statistic: 'Sum',
            period,
            label: metricName,
          }),
      );
      const errors = s.function.metricErrors({ period, statistic: 'Sum' });
      const invocations = s.function.metricInvocations({ period, statistic: 'Sum' });
      const dlqDepth = s.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: 'Maximum',
      });
      this.dashboard.addWidgets(
        new GraphWidget({ title: `${label}: rows`, left: rows, width: 8 }),
        new GraphWidget({
          title: `${label}: Lambda`,
          left: [errors.with({ label: 'errors' })],
          right: [
            s.function.metricDuration({ period, statistic: 'p99', label: 'duration p99' }),
            s.function.metricDuration({ period, statistic: 'Average', label: 'duration avg' }),
          ],
          width: 8,
        }),
        new GraphWidget({
          title: `${label}: queues`,
          left: [dlqDepth.with({ label: 'dead letters' })],
          right: [
            s.queue.metricApproximateAgeOfOldestMessage({
              period,
              statistic: 'Maximum',
              label: 'oldest input (s)',
            }),
          ],
          width: 8,
        }),
      );

      deadLetterAlarms.set(
        s.key,
        new Alarm(this, `DeadLetters-${alarmKey}`, {
          alarmName: name(`${alarmKey}-dead-letters`),
          alarmDescription: `Messages in the DLQ of ${label} (flow ${props.flowId}): see \`npx kisflow dlq\``,
          metric: dlqDepth,
          threshold: 0,
          comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      );
      errorRateAlarms.set(
        s.step,
        new Alarm(this, `ErrorRate-${alarmKey}`, {
          alarmName: name(`${alarmKey}-error-rate`),
          alarmDescription: `Over ${threshold}% of invocations of ${label} (flow ${props.flowId}) failed`,
          metric: new MathExpression({
            expression: 'IF(invocations > 0, 100 * errors / invocations, 0)',
            usingMetrics: { errors, invocations },
            period,
            label: 'error rate (%)',
          }),
          threshold,
          comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      );
      ageAlarm(
        s.key,
        alarmKey,
        s.queue,
        props.stepQueueAgeAlarm ?? STEP_QUEUE_AGE_ALARM,
        `the input queue of ${label}`,
      );
    }
    if (props.outputQueue) {
      ageAlarm(
        'output',
        'output',
        props.outputQueue,
        props.outputQueueAgeAlarm ?? OUTPUT_QUEUE_AGE_ALARM,
        'the output queue',
      );
    }

    for (const [key, queue] of Object.entries(props.extraDeadLetterQueues ?? {})) {
      const depth = queue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: 'Maximum',
      });
      deadLetterAlarms.set(
        key,
        new Alarm(this, `DeadLetters-${key}`, {
          alarmName: name(`${key}-dead-letters`),
          alarmDescription: `Messages in the ${key} dead-letter queue of flow ${props.flowId}`,
          metric: depth,
          threshold: 0,
          comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      );
      this.dashboard.addWidgets(new GraphWidget({ title: `${key}: dead letters`, left: [depth], width: 8 }));
    }
    this.deadLetterAlarms = deadLetterAlarms;
    this.errorRateAlarms = errorRateAlarms;
    this.queueAgeAlarms = queueAgeAlarms;
    this.sourceLagAlarm = props.source === undefined ? undefined : this.#sourceLag(props.source, name);
    if (props.alarmTopic !== undefined) {
      const action = new SnsAction(props.alarmTopic);
      for (const alarm of [
        ...deadLetterAlarms.values(),
        ...errorRateAlarms.values(),
        ...queueAgeAlarms.values(),
        ...(this.sourceLagAlarm ? [this.sourceLagAlarm] : []),
      ]) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }
  }
  /**
   * Lambda's own lag metric of the mapping (an existing queue: its oldest message's age), the
   * dashboard row and an alarm on its maximum.
   */
  #sourceLag(source: MonitoredSource, name: (suffix: string) => string | undefined): Alarm {
    if (source.lag === 'oldest_message_age') {
      const metric = new Metric({
        namespace: 'AWS/SQS',
        metricName: 'ApproximateAgeOfOldestMessage',
        dimensionsMap: { QueueName: source.queueName },
        statistic: 'Maximum',
        period: Duration.minutes(1),
      });
      const threshold = source.threshold ?? SOURCE_QUEUE_AGE_ALARM.toSeconds();
      this.dashboard.addWidgets(
        new GraphWidget({
          title: 'source: lag',
          left: [metric.with({ label: `oldest message in ${source.queueName} (s)` })],
          width: 8,
        }),
      );
      return new Alarm(this, 'SourceLag', {
        alarmName: name('source-lag'),
        alarmDescription: `The flow's source queue ${source.queueName} has held a message for more than ${threshold} s: the first step cannot keep up, or is failing.`,
        metric,
        threshold,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 5,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
    }
    const iterator = source.lag === 'iterator_age';
    const metric = new Metric({
      namespace: 'AWS/Lambda',
      metricName: iterator ? 'IteratorAge' : 'OffsetLag',
      dimensionsMap: { FunctionName: source.function.functionName },
      statistic: 'Maximum',
      period: Duration.minutes(1),
    });
    const threshold =
      source.threshold ?? (iterator ? SOURCE_ITERATOR_AGE_ALARM.toMilliseconds() : SOURCE_OFFSET_LAG_ALARM);
    // The label only on the graph: a labelled metric makes the alarm a metric-math alarm.
    const label = iterator ? 'iterator age (ms)' : 'offset lag (records)';
    this.dashboard.addWidgets(
      new GraphWidget({ title: 'source: lag', left: [metric.with({ label })], width: 8 }),
    );
    return new Alarm(this, 'SourceLag', {
      alarmName: name('source-lag'),
      alarmDescription: iterator
        ? `The flow's stream source is more than ${threshold} ms behind (IteratorAge): the first step cannot keep up, or a poison record is being retried.`
        : `The flow's Kafka source is more than ${threshold} records behind (OffsetLag): the first step cannot keep up.`,
      metric,
      threshold,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 5,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }
}
