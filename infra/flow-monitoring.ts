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
import { stepMetricLabel } from '../kisflow/config/names.ts';

/** The custom metrics each step emits (Powertools EMF), counted in rows. */
export const ROW_METRICS = ['rows_in', 'rows_out', 'rows_rejected'] as const;

/** Powertools' `service` dimension (POWERTOOLS_SERVICE_NAME) on every KisFlow metric. */
export const METRICS_SERVICE = 'kisflow';

/**
 * Dimensions of a step's row metrics: the engine's `flow` and `step` (index and fid, so steps
 * that run the same fid keep their own series) and Powertools' `service`. A dashboard metric matches only
 * the exact dimension set: this is the contract with kisflow/engine and kisflow/lambda.
 */
export function stepMetricDimensions(flowId: string, step: number, fid: string): Record<string, string> {
  return { service: METRICS_SERVICE, flow: flowId, step: stepMetricLabel(step, fid) };
}

export interface MonitoredStep {
  readonly step: number;
  readonly fid: string;
  readonly function: IFunction;
  readonly queue: IQueue;
  readonly deadLetterQueue: IQueue;
}

export interface FlowMonitoringProps {
  readonly flowId: string;
  readonly metricsNamespace: string;
  readonly steps: readonly MonitoredStep[];
  /** Queues whose every message is a failure (ingress DLQ, output DLQ) alarmed like the steps' DLQs. @default {} */
  readonly extraDeadLetterQueues?: Readonly<Record<string, IQueue>>;
  /** @default - a name CloudFormation generates */
  readonly dashboardName?: string;
  /** Prefix of alarm names. @default - names CloudFormation generates */
  readonly alarmNamePrefix?: string;
  /** Topic every alarm notifies (alarm and OK). @default - no action */
  readonly alarmTopic?: ITopic;
  /** Percentage of invocations that fail before the error alarm fires. @default 5 */
  readonly errorRatePercent?: number;
  /** @default Duration.minutes(5) */
  readonly period?: Duration;
}

/**
 * A flow's CloudWatch dashboard (one row per step: rows in/out/rejected, Lambda errors and
 * duration, DLQ depth and input-queue age) and alarms: any message in a DLQ, and a Lambda error
 * rate above the threshold. Alarms have no actions: subscribe them to the team's topic.
 */
export class FlowMonitoring extends Construct {
  public readonly dashboard: Dashboard;
  /** DLQ-depth alarms by queue label (`s<step>` or the extra queue's key). */
  public readonly deadLetterAlarms: ReadonlyMap<string, Alarm>;
  /** Error-rate alarms by step index. */
  public readonly errorRateAlarms: ReadonlyMap<number, Alarm>;

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
    for (const s of props.steps) {
      const label = `s${s.step} ${s.fid}`;
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
        `s${s.step}`,
        new Alarm(this, `DeadLetters-s${s.step}`, {
          alarmName: name(`s${s.step}-dead-letters`),
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
        new Alarm(this, `ErrorRate-s${s.step}`, {
          alarmName: name(`s${s.step}-error-rate`),
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
    if (props.alarmTopic !== undefined) {
      const action = new SnsAction(props.alarmTopic);
      for (const alarm of [...deadLetterAlarms.values(), ...errorRateAlarms.values()]) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }
  }
}
