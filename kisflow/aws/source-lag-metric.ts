import { type CloudWatchClient, GetMetricDataCommand, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import { queueNameOfArn } from '../config/flow-source.ts';
import type { FlowSpec } from '../config/model.ts';
import { resourceNames } from '../config/names.ts';
import type { SourceLag } from '../runs/stream-stats.ts';

/**
 * Lambda's lag metric of a stream mapping: `IteratorAge` (ms; Kinesis, DynamoDB Streams) or
 * `OffsetLag` (records; MSK and self-managed Kafka), both in `AWS/Lambda` by `FunctionName`, the
 * ones infra/flow-monitoring.ts graphs and alarms on.
 */
export type LagMetricName = 'IteratorAge' | 'OffsetLag';

/** How far back the latest minute of the metric is looked for: Lambda publishes it each minute a mapping polls. */
const LOOKBACK_MS = 10 * 60_000;

/**
 * The functions of a flow's stack that published `metric` in the last 3 hours (ListMetrics'
 * RecentlyActive): only a first step fed by a stream has a mapping that publishes it. The flow's
 * functions are named by CloudFormation `<stack name>-<logical id>-<suffix>`; a stack name too
 * long for Lambda's 64 characters is cut short there, and its functions are not found (no lag).
 */
export async function lagFunctionNames(
  cloudwatch: CloudWatchClient,
  metric: LagMetricName,
  stackName: string,
): Promise<string[]> {
  const names = new Set<string>();
  let nextToken: string | undefined;
  do {
    const out = await cloudwatch.send(
      new ListMetricsCommand({
        Namespace: 'AWS/Lambda',
        MetricName: metric,
        Dimensions: [{ Name: 'FunctionName' }],
        RecentlyActive: 'PT3H',
        ...(nextToken === undefined ? {} : { NextToken: nextToken }),
      }),
    );
    for (const m of out.Metrics ?? []) {
      const dims = m.Dimensions ?? [];
      const name = dims.length === 1 && dims[0]?.Name === 'FunctionName' ? dims[0].Value : undefined;
      if (name?.startsWith(`${stackName}-`)) names.add(name);
    }
    nextToken = out.NextToken;
  } while (nextToken);
  return [...names];
}

/** The metric's Maximum over its latest minute with data (of the last 10), or undefined with none. */
export function latestLag(
  cloudwatch: CloudWatchClient,
  metric: LagMetricName,
  functionName: string,
  now: number,
): Promise<number | undefined> {
  return latestMetric(
    cloudwatch,
    { namespace: 'AWS/Lambda', metric, dimension: 'FunctionName', value: functionName },
    now,
  );
}

async function latestMetric(
  cloudwatch: CloudWatchClient,
  m: { namespace: string; metric: string; dimension: string; value: string },
  now: number,
): Promise<number | undefined> {
  const out = await cloudwatch.send(
    new GetMetricDataCommand({
      StartTime: new Date(now - LOOKBACK_MS),
      EndTime: new Date(now),
      ScanBy: 'TimestampDescending',
      MetricDataQueries: [
        {
          Id: 'lag',
          MetricStat: {
            Metric: {
              Namespace: m.namespace,
              MetricName: m.metric,
              Dimensions: [{ Name: m.dimension, Value: m.value }],
            },
            Period: 60,
            Stat: 'Maximum',
          },
        },
      ],
    }),
  );
  return out.MetricDataResults?.find((r) => r.Id === 'lag')?.Values?.[0];
}

/**
 * A stream-fed flow's lag on AWS: the Maximum of its first step's `IteratorAge` (Kinesis, DynamoDB
 * Streams) or `OffsetLag` (Kafka) over the latest minute, or of an existing source queue's
 * `ApproximateAgeOfOldestMessage`; null when the metric has no data.
 *
 * @example
 * const lagOf = cloudWatchLag(new CloudWatchClient({}), 'kisflow');
 * await lagOf(flow); // { metric: 'iterator_age_ms', value: 4200, from: 'cloudwatch' }
 */
export function cloudWatchLag(
  cloudwatch: CloudWatchClient,
  prefix?: string,
  now: () => number = Date.now,
): (flow: FlowSpec) => Promise<SourceLag | null> {
  const names = resourceNames(prefix);
  return async (flow) => {
    // An existing SQS queue: its backlog is the age of its oldest message (SQS publishes it per minute).
    const queueArn = flow.source?.sqs?.queueArn;
    if (queueArn !== undefined) {
      const seconds = await latestMetric(
        cloudwatch,
        {
          namespace: 'AWS/SQS',
          metric: 'ApproximateAgeOfOldestMessage',
          dimension: 'QueueName',
          value: queueNameOfArn(queueArn),
        },
        now(),
      );
      return seconds === undefined
        ? null
        : { metric: 'oldest_message_age_ms', value: seconds * 1000, from: 'cloudwatch' };
    }
    const kafka = flow.source?.kafka !== undefined;
    const metric = kafka ? 'OffsetLag' : 'IteratorAge';
    const [fn] = await lagFunctionNames(cloudwatch, metric, names.flowStackName(flow.flowId));
    if (fn === undefined) return null;
    const value = await latestLag(cloudwatch, metric, fn, now());
    if (value === undefined) return null;
    return { metric: kafka ? 'offset_lag_records' : 'iterator_age_ms', value, from: 'cloudwatch' };
  };
}
