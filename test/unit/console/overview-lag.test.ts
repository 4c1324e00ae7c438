import { type CloudWatchClient, GetMetricDataCommand, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import { describe, expect, it } from 'vitest';
import type { FlowSpec, ProjectConfig } from '../../../kisflow/config/model.ts';
import type { ConsoleContext } from '../../../kisflow/console/console-context.ts';
import { overview } from '../../../kisflow/console/views/overview.ts';
import { MemoryRunLedger } from '../../../kisflow/runs/memory-run-ledger.ts';

/**
 * The Overview's Streams panel on AWS reads the lag `kisflow runs stats` reads. No CloudWatch
 * server runs locally, so a stand-in client answers ListMetrics and GetMetricData.
 */
describe('console Overview on AWS: the stream-fed flows lag, from CloudWatch', () => {
  it("shows the first step's IteratorAge, read once a minute however often the page loads", async () => {
    let reads = 0;
    const cloudwatch = {
      async send(command: unknown) {
        if (command instanceof ListMetricsCommand) {
          return {
            Metrics: [{ Dimensions: [{ Name: 'FunctionName', Value: 'KisFlow-orders-StepAFunction1-abc' }] }],
          };
        }
        if (command instanceof GetMetricDataCommand) {
          reads++;
          return { MetricDataResults: [{ Id: 'lag', Values: [4200] }] };
        }
        throw new Error('unexpected command');
      },
    } as unknown as CloudWatchClient;
    const flow = {
      flowId: 'orders',
      enabled: true,
      steps: [{ fid: 'a', params: {} }],
      source: { kinesis: { streamArn: 'arn:aws:kinesis:us-east-1:1:stream/s', startingPosition: 'latest' } },
    } as unknown as FlowSpec;
    const project = {
      flows: new Map([['orders', flow]]),
      jobs: new Map(),
      funcs: new Map(),
    } as unknown as ProjectConfig;
    const kept = new Map<string, Promise<unknown>>();
    const context = {
      endpoints: { source: 'aws' },
      prefix: 'kisflow',
      ledger: new MemoryRunLedger(),
      now: () => Date.now(),
      project: async () => project,
      depths: async () => [],
      cloudwatch: () => cloudwatch,
      cached: <T>(key: string, _ttl: number, read: () => Promise<T>) => {
        if (!kept.has(key)) kept.set(key, read());
        return kept.get(key) as Promise<T>;
      },
    } as unknown as ConsoleContext;
    const first = await overview(context, 7);
    const second = await overview(context, 7);
    expect(first.streams.map((s) => [s.flowId, s.lag])).toEqual([
      ['orders', { metric: 'iterator_age_ms', value: 4200, from: 'cloudwatch' }],
    ]);
    expect(second.streams[0]?.lag).toEqual(first.streams[0]?.lag);
    expect(reads).toBe(1);
  });
});
