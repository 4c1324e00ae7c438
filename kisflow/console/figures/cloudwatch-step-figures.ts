import {
  type CloudWatchClient,
  GetDashboardCommand,
  GetMetricDataCommand,
  type GetMetricDataCommandInput,
  type GetMetricDataCommandOutput,
  type MetricDataQuery,
  type StandardUnit,
} from '@aws-sdk/client-cloudwatch';
import { type StepFigure, unknown } from './figure.ts';

/**
 * A deployed flow's per-step figures from CloudWatch: the input queue's
 * ApproximateAgeOfOldestMessage (Maximum) and the step Lambda's Duration p95, both over the last
 * 5 minutes, in one GetMetricData call (2 metrics a step; CloudWatch bills per metric read, so
 * the console caches the answer for a minute).
 *
 * Queue names come from the queue URLs the console already located; Lambda names are generated
 * by CloudFormation, so they are read from the flow's dashboard (named by
 * `resourceNames().flowMonitoring`), whose `s<i> <fid>: Lambda` widget plots that step's Duration.
 */

export const WINDOW_MS = 5 * 60_000;
const MINUTE = 60_000;

export interface CloudWatchStep {
  readonly index: number;
  /** The step's input queue name (the metric's QueueName dimension). */
  readonly queueName: string;
  /** The step's Lambda, when the dashboard names one. */
  readonly functionName?: string;
}

export interface CloudWatchStepFigures {
  readonly oldestAge: StepFigure;
  readonly p95: StepFigure;
}

/**
 * The Lambda of each step a flow dashboard's body plots, by step index.
 *
 * @example stepFunctionNames(JSON.stringify(body)).get(0) // 'KisFlow-orders-StepVerifyFunction12AB-xyz'
 */
export function stepFunctionNames(dashboardBody: string): Map<number, string> {
  const names = new Map<number, string>();
  let body: { widgets?: { properties?: { title?: unknown; metrics?: unknown } }[] };
  try {
    body = JSON.parse(dashboardBody) as typeof body;
  } catch {
    return names;
  }
  for (const widget of body.widgets ?? []) {
    const title = widget.properties?.title;
    const m = typeof title === 'string' ? /^s(\d+) .*: Lambda$/.exec(title) : null;
    if (m === null || !Array.isArray(widget.properties?.metrics)) continue;
    for (const metric of widget.properties.metrics as unknown[]) {
      if (!Array.isArray(metric) || metric[0] !== 'AWS/Lambda' || metric[1] !== 'Duration') continue;
      const at = metric.indexOf('FunctionName');
      if (at > 1 && typeof metric[at + 1] === 'string') {
        names.set(Number(m[1]), metric[at + 1] as string);
        break;
      }
    }
  }
  return names;
}

function query(
  id: string,
  metric: { namespace: string; name: string; dimension: string; value: string },
  stat: string,
  unit: StandardUnit,
): MetricDataQuery {
  return {
    Id: id,
    ReturnData: true,
    MetricStat: {
      Metric: {
        Namespace: metric.namespace,
        MetricName: metric.name,
        Dimensions: [{ Name: metric.dimension, Value: metric.value }],
      },
      Period: WINDOW_MS / 1000,
      Stat: stat,
      Unit: unit,
    },
  };
}

/** The GetMetricData request for `steps` at `now`: whole minutes, the last 5 of them, one period. */
export function stepFiguresRequest(steps: readonly CloudWatchStep[], now: number): GetMetricDataCommandInput {
  const end = Math.floor(now / MINUTE) * MINUTE;
  return {
    StartTime: new Date(end - WINDOW_MS),
    EndTime: new Date(end),
    ScanBy: 'TimestampDescending',
    MetricDataQueries: steps.flatMap((s) => [
      query(
        `age_${s.index}`,
        {
          namespace: 'AWS/SQS',
          name: 'ApproximateAgeOfOldestMessage',
          dimension: 'QueueName',
          value: s.queueName,
        },
        'Maximum',
        'Seconds',
      ),
      ...(s.functionName === undefined
        ? []
        : [
            query(
              `p95_${s.index}`,
              { namespace: 'AWS/Lambda', name: 'Duration', dimension: 'FunctionName', value: s.functionName },
              'p95',
              'Milliseconds',
            ),
          ]),
    ]),
  };
}

/** The figures of each step in a GetMetricData answer (all its pages), in milliseconds. */
export function parseStepFigures(
  steps: readonly CloudWatchStep[],
  pages: readonly Pick<GetMetricDataCommandOutput, 'MetricDataResults'>[],
): Map<number, CloudWatchStepFigures> {
  const latest = new Map<string, number>();
  for (const page of pages) {
    for (const r of page.MetricDataResults ?? []) {
      if (r.Id === undefined || latest.has(r.Id)) continue;
      // Descending by timestamp: the first value is the newest period's.
      const value = r.Values?.[0];
      if (typeof value === 'number' && Number.isFinite(value)) latest.set(r.Id, value);
    }
  }
  return new Map(
    steps.map((s) => {
      const age = latest.get(`age_${s.index}`);
      const p95 = latest.get(`p95_${s.index}`);
      return [
        s.index,
        {
          oldestAge:
            age === undefined
              ? unknown('noDatapoints')
              : { value: Math.round(age * 1000), note: 'ageCloudWatch' },
          p95:
            s.functionName === undefined
              ? unknown('p95NoFunction')
              : p95 === undefined
                ? unknown('noDatapoints')
                : { value: Math.round(p95 * 100) / 100, note: 'p95CloudWatch' },
        },
      ];
    }),
  );
}

/**
 * Reads a deployed flow's per-step figures: its dashboard for the Lambda names, then the metrics.
 * A missing dashboard leaves the p95s unknown (`p95NoFunction`) and still reads the ages.
 */
export async function readCloudWatchStepFigures(
  cloudwatch: CloudWatchClient,
  dashboardName: string,
  queues: readonly { readonly index: number; readonly queueName: string }[],
  now: number,
): Promise<Map<number, CloudWatchStepFigures>> {
  let functions = new Map<number, string>();
  try {
    const dashboard = await cloudwatch.send(new GetDashboardCommand({ DashboardName: dashboardName }));
    functions = stepFunctionNames(dashboard.DashboardBody ?? '');
  } catch (error) {
    // The SDK's name for the API's ResourceNotFound: the flow was deployed without its dashboard.
    const name = (error as { name?: string }).name;
    if (name !== 'DashboardNotFoundError' && name !== 'ResourceNotFound') throw error;
  }
  const steps = queues.map((q): CloudWatchStep => {
    const functionName = functions.get(q.index);
    return functionName === undefined ? q : { ...q, functionName };
  });
  const request = stepFiguresRequest(steps, now);
  const pages: GetMetricDataCommandOutput[] = [];
  let nextToken: string | undefined;
  do {
    const page = await cloudwatch.send(
      new GetMetricDataCommand({ ...request, ...(nextToken === undefined ? {} : { NextToken: nextToken }) }),
    );
    pages.push(page);
    nextToken = page.NextToken;
  } while (nextToken !== undefined);
  return parseStepFigures(steps, pages);
}
