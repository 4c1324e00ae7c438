import {
  type CloudWatchClient,
  GetMetricDataCommand,
  type GetMetricDataCommandInput,
  ListMetricsCommand,
  type ListMetricsCommandInput,
} from '@aws-sdk/client-cloudwatch';
import { describe, expect, it } from 'vitest';
import { cloudWatchLag } from '../../../kisflow/aws/source-lag-metric.ts';
import type { FlowSpec } from '../../../kisflow/config/model.ts';

/**
 * No CloudWatch server runs locally (localstack/README.md), so the metric reads are exercised with
 * a stand-in client that answers ListMetrics (two pages) and GetMetricData, recording what it was asked.
 */
function fakeCloudWatch(values: number[]) {
  const listed: ListMetricsCommandInput[] = [];
  const queried: GetMetricDataCommandInput[] = [];
  const fn = (name: string) => ({ Dimensions: [{ Name: 'FunctionName', Value: name }] });
  const client = {
    async send(command: { input: unknown }) {
      if (command instanceof ListMetricsCommand) {
        listed.push(command.input);
        return command.input.NextToken === undefined
          ? { Metrics: [fn('KisFlow-ordersX-StepAFunction1-abc')], NextToken: 'p2' }
          : {
              Metrics: [
                fn('KisFlow-orders-StepLoadFunction12AB-xyz'),
                // Another dimension set of the same function is no FunctionName-only series.
                {
                  Dimensions: [
                    ...fn('KisFlow-orders-StepLoadFunction12AB-xyz').Dimensions,
                    { Name: 'Resource', Value: 'r' },
                  ],
                },
              ],
            };
      }
      if (command instanceof GetMetricDataCommand) {
        queried.push(command.input);
        return { MetricDataResults: [{ Id: 'lag', Values: values }] };
      }
      throw new Error('unexpected command');
    },
  };
  return { client: client as unknown as CloudWatchClient, listed, queried };
}

const flow = (source: FlowSpec['source']): FlowSpec => ({ flowId: 'orders', source }) as unknown as FlowSpec;
const now = Date.parse('2026-12-03T12:30:00Z');

describe('source lag on AWS (CloudWatch)', () => {
  it("reads the first step's IteratorAge: its function found by the flow's stack name, the latest minute's maximum", async () => {
    const cw = fakeCloudWatch([4200, 100]);
    const lagOf = cloudWatchLag(cw.client, undefined, () => now);
    expect(
      await lagOf(
        flow({ kinesis: { streamArn: 'arn:aws:kinesis:us-east-1:1:stream/s', startingPosition: 'latest' } }),
      ),
    ).toEqual({
      metric: 'iterator_age_ms',
      value: 4200,
      from: 'cloudwatch',
    });
    expect(cw.listed.map((l) => [l.MetricName, l.NextToken])).toEqual([
      ['IteratorAge', undefined],
      ['IteratorAge', 'p2'],
    ]);
    expect(cw.queried[0]).toMatchObject({
      StartTime: new Date(now - 600_000),
      EndTime: new Date(now),
      ScanBy: 'TimestampDescending',
      MetricDataQueries: [
        {
          MetricStat: {
            Metric: {
              Namespace: 'AWS/Lambda',
              MetricName: 'IteratorAge',
              Dimensions: [{ Name: 'FunctionName', Value: 'KisFlow-orders-StepLoadFunction12AB-xyz' }],
            },
            Period: 60,
            Stat: 'Maximum',
          },
        },
      ],
    });
  });

  it('Kafka: OffsetLag in records; no data points, no lag', async () => {
    const cw = fakeCloudWatch([17]);
    const lagOf = cloudWatchLag(cw.client, undefined, () => now);
    const kafka = flow({ kafka: { topic: 't' } } as unknown as FlowSpec['source']);
    expect(await lagOf(kafka)).toEqual({ metric: 'offset_lag_records', value: 17, from: 'cloudwatch' });
    expect(cw.queried[0]?.MetricDataQueries?.[0]?.MetricStat?.Metric?.MetricName).toBe('OffsetLag');
    const empty = cloudWatchLag(fakeCloudWatch([]).client);
    expect(await empty(kafka)).toBeNull();
  });

  it("an existing source queue: its ApproximateAgeOfOldestMessage (seconds) as ms, by the queue's name", async () => {
    const cw = fakeCloudWatch([42]);
    const lagOf = cloudWatchLag(cw.client, undefined, () => now);
    expect(await lagOf(flow({ sqs: { queueArn: 'arn:aws:sqs:us-east-1:1:orders-in' } }))).toEqual({
      metric: 'oldest_message_age_ms',
      value: 42_000,
      from: 'cloudwatch',
    });
    expect(cw.listed).toEqual([]);
    expect(cw.queried[0]?.MetricDataQueries?.[0]?.MetricStat?.Metric).toEqual({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: 'orders-in' }],
    });
  });
});
