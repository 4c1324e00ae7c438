/**
 * The Flow page's per-step figures on AWS: the GetMetricData request, and the answer parsed into
 * milliseconds. The client here is a stand-in returning the SDK's output shapes, because no local
 * server offers CloudWatch metrics (fauxqs, dynalite and kinesalite have none); the dashboard
 * lookup is checked against the real synthesized dashboard in test/infra/dashboard-step-functions.
 * Also the ledger's p95 (the figure for `kisflow dev`).
 */
import {
  type CloudWatchClient,
  GetDashboardCommand,
  GetMetricDataCommand,
  type GetMetricDataCommandOutput,
} from '@aws-sdk/client-cloudwatch';
import { describe, expect, it } from 'vitest';
import type { ConsoleContext } from '../../../kisflow/console/console-context.ts';
import {
  parseStepFigures,
  readCloudWatchStepFigures,
  stepFiguresRequest,
} from '../../../kisflow/console/figures/cloudwatch-step-figures.ts';
import { ledgerStepP95 } from '../../../kisflow/console/figures/ledger-step-p95.ts';
import { stepFigures } from '../../../kisflow/console/figures/step-figures.ts';
import type { RunRecord } from '../../../kisflow/runs/run-ledger.ts';

const NOW = Date.parse('2026-12-03T12:34:56.789Z');
const STEPS = [
  { index: 0, queueName: 'kisflow-orders--verify', functionName: 'KisFlow-orders-StepverifyFunction-AbC' },
  { index: 1, queueName: 'kisflow-orders--save' },
];

/** A GetMetricData answer as the SDK returns it (Timestamps are Dates, newest first). */
const answer = (
  results: { Id: string; Values: number[] }[],
  NextToken?: string,
): GetMetricDataCommandOutput => ({
  $metadata: { httpStatusCode: 200, requestId: 'c1e3f1a0-0000-4000-8000-000000000000', attempts: 1 },
  MetricDataResults: results.map((r) => ({
    Id: r.Id,
    Label: r.Id.startsWith('age') ? 'ApproximateAgeOfOldestMessage' : 'Duration',
    Timestamps: r.Values.map((_, i) => new Date(Date.parse('2026-12-03T12:29:00Z') - i * 300_000)),
    Values: r.Values,
    StatusCode: 'Complete',
  })),
  Messages: [],
  ...(NextToken === undefined ? {} : { NextToken }),
});

describe('CloudWatch step figures', () => {
  it('asks, per step, the queue age (Maximum) and the Lambda Duration p95 over the last 5 whole minutes', () => {
    const request = stepFiguresRequest(STEPS, NOW);
    expect(request.StartTime).toEqual(new Date('2026-12-03T12:29:00.000Z'));
    expect(request.EndTime).toEqual(new Date('2026-12-03T12:34:00.000Z'));
    expect(request.ScanBy).toBe('TimestampDescending');
    expect(request.MetricDataQueries).toEqual([
      {
        Id: 'age_0',
        ReturnData: true,
        MetricStat: {
          Metric: {
            Namespace: 'AWS/SQS',
            MetricName: 'ApproximateAgeOfOldestMessage',
            Dimensions: [{ Name: 'QueueName', Value: 'kisflow-orders--verify' }],
          },
          Period: 300,
          Stat: 'Maximum',
          Unit: 'Seconds',
        },
      },
      {
        Id: 'p95_0',
        ReturnData: true,
        MetricStat: {
          Metric: {
            Namespace: 'AWS/Lambda',
            MetricName: 'Duration',
            Dimensions: [{ Name: 'FunctionName', Value: 'KisFlow-orders-StepverifyFunction-AbC' }],
          },
          Period: 300,
          Stat: 'p95',
          Unit: 'Milliseconds',
        },
      },
      // No function known for step 1: its age only.
      expect.objectContaining({ Id: 'age_1' }),
    ]);
    // Ids CloudWatch accepts: a lower-case letter, then letters, digits, underscores.
    for (const q of request.MetricDataQueries ?? []) expect(q.Id).toMatch(/^[a-z][a-zA-Z0-9_]*$/);
  });

  it('reads seconds of age and milliseconds of p95, the newest value of each, across pages', () => {
    const figures = parseStepFigures(STEPS, [
      answer([{ Id: 'age_0', Values: [42, 7] }], 'page-2'),
      answer([
        { Id: 'p95_0', Values: [123.456] },
        { Id: 'age_1', Values: [] },
      ]),
    ]);
    expect(figures.get(0)).toEqual({
      oldestAge: { value: 42_000, note: 'ageCloudWatch' },
      p95: { value: 123.46, note: 'p95CloudWatch' },
    });
    // No datapoint is unknown, not 0; no function is unknown for its own reason.
    expect(figures.get(1)).toEqual({
      oldestAge: { value: null, note: 'noDatapoints' },
      p95: { value: null, note: 'p95NoFunction' },
    });
  });

  it('looks the Lambdas up on the flow dashboard and follows NextToken', async () => {
    const sent: unknown[] = [];
    const body = {
      widgets: [
        {
          type: 'metric',
          properties: {
            title: 's0 verify: Lambda',
            metrics: [
              ['AWS/Lambda', 'Errors', 'FunctionName', 'fn-verify', { label: 'errors', stat: 'Sum' }],
              ['AWS/Lambda', 'Duration', 'FunctionName', 'fn-verify', { stat: 'p99', yAxis: 'right' }],
            ],
          },
        },
      ],
    };
    const client = {
      async send(command: unknown) {
        sent.push(command);
        if (command instanceof GetDashboardCommand) {
          return { DashboardName: 'kisflow-orders', DashboardBody: JSON.stringify(body) };
        }
        if (command instanceof GetMetricDataCommand) {
          return command.input.NextToken === undefined
            ? answer([{ Id: 'age_0', Values: [3] }], 't2')
            : answer([{ Id: 'p95_0', Values: [80] }]);
        }
        throw new Error('unexpected command');
      },
    } as unknown as CloudWatchClient;
    const figures = await readCloudWatchStepFigures(
      client,
      'kisflow-orders',
      [{ index: 0, queueName: 'kisflow-orders--verify' }],
      NOW,
    );
    expect((sent[0] as GetDashboardCommand).input).toEqual({ DashboardName: 'kisflow-orders' });
    const metricQueries = (sent[1] as GetMetricDataCommand).input.MetricDataQueries ?? [];
    expect(metricQueries.map((q) => q.MetricStat?.Metric?.Dimensions?.[0]?.Value)).toEqual([
      'kisflow-orders--verify',
      'fn-verify',
    ]);
    expect((sent[2] as GetMetricDataCommand).input.NextToken).toBe('t2');
    expect(figures.get(0)).toEqual({
      oldestAge: { value: 3000, note: 'ageCloudWatch' },
      p95: { value: 80, note: 'p95CloudWatch' },
    });
  });

  it('without the dashboard still reads the ages; another error is thrown', async () => {
    const missing = Object.assign(new Error('Dashboard kisflow-orders does not exist'), {
      name: 'DashboardNotFoundError',
    });
    const client = (fail: Error) =>
      ({
        async send(command: unknown) {
          if (command instanceof GetDashboardCommand) throw fail;
          return answer([{ Id: 'age_0', Values: [0] }]);
        },
      }) as unknown as CloudWatchClient;
    const figures = await readCloudWatchStepFigures(
      client(missing),
      'kisflow-orders',
      [STEPS[1] as never],
      NOW,
    );
    expect(figures.get(1)?.p95.note).toBe('p95NoFunction');
    const denied = Object.assign(new Error('not authorized to perform: cloudwatch:GetDashboard'), {
      name: 'AccessDenied',
    });
    await expect(readCloudWatchStepFigures(client(denied), 'kisflow-orders', [], NOW)).rejects.toThrow(
      /not authorized/,
    );
  });
});

describe('stepFigures on AWS', () => {
  const queueUrls = [
    'https://sqs.eu-west-1.amazonaws.com/123456789012/kisflow-orders--verify',
    'https://sqs.eu-west-1.amazonaws.com/123456789012/kisflow-orders--save',
  ];
  const awsContext = (send: (command: unknown) => Promise<unknown>) =>
    ({
      source: 'aws',
      prefix: 'kisflow',
      resources: async () => ({ flows: { orders: { stepQueues: queueUrls } } }),
      cloudwatch: () => ({ send }) as unknown as CloudWatchClient,
      cached: <T>(_key: string, _ttl: number, read: () => Promise<T>) => read(),
      now: () => NOW,
    }) as unknown as ConsoleContext;

  it("reads the flow's dashboard by its deployed name and each step queue by the name in its URL", async () => {
    const sent: unknown[] = [];
    const figures = await stepFigures(
      awsContext(async (command) => {
        sent.push(command);
        if (command instanceof GetDashboardCommand) return { DashboardBody: '{"widgets":[]}' };
        return answer([
          { Id: 'age_0', Values: [12] },
          { Id: 'age_1', Values: [0] },
        ]);
      }),
      'orders',
      ['verify', 'save'],
      Promise.resolve([]),
    );
    expect((sent[0] as GetDashboardCommand).input.DashboardName).toBe('kisflow-orders');
    const queries = (sent[1] as GetMetricDataCommand).input.MetricDataQueries ?? [];
    expect(queries.map((q) => q.MetricStat?.Metric?.Dimensions?.[0]?.Value)).toEqual([
      'kisflow-orders--verify',
      'kisflow-orders--save',
    ]);
    expect(figures.map((f) => f.oldestAge.value)).toEqual([12_000, 0]);
    expect(figures.map((f) => f.p95.note)).toEqual(['p95NoFunction', 'p95NoFunction']);
  });

  it('a refused read (IAM) leaves every figure unknown with the reason, not the page broken', async () => {
    const figures = await stepFigures(
      awsContext(async () => {
        throw Object.assign(new Error('User is not authorized to perform: cloudwatch:GetDashboard'), {
          name: 'AccessDenied',
        });
      }),
      'orders',
      ['verify', 'save'],
      Promise.resolve([]),
    );
    expect(figures).toHaveLength(2);
    for (const f of figures) {
      expect(f.oldestAge).toEqual({
        value: null,
        note: 'readFailed',
        detail: 'User is not authorized to perform: cloudwatch:GetDashboard',
      });
      expect(f.p95.note).toBe('readFailed');
    }
  });
});

describe('ledgerStepP95', () => {
  const run = (steps: RunRecord['steps']): RunRecord =>
    ({ id: 'r', flowId: 'orders', steps, started: NOW, lastProgress: NOW }) as unknown as RunRecord;
  const timed = (index: number, fid: string, p95Ms: number) => ({
    index,
    fid,
    in: 1,
    out: 1,
    rejected: 0,
    dropped: 0,
    deadLettered: 0,
    errors: 0,
    timings: { firstAt: NOW, lastAt: NOW, batches: 3, totalMs: 3 * p95Ms, p95Ms },
  });

  it('is the largest p95 of the runs that timed the step, with their count', () => {
    const runs = [
      run([timed(0, 'verify', 12.5)]),
      run([timed(0, 'verify', 40)]),
      run([timed(0, 'other', 999)]),
    ];
    expect(ledgerStepP95(runs, 0, 'verify')).toEqual({ value: 40, note: 'p95Ledger', detail: '2' });
  });

  it('is unknown when no run timed it', () => {
    expect(ledgerStepP95([run([])], 0, 'verify')).toEqual({ value: null, note: 'p95NoRuns' });
  });
});
