import {
  type CloudWatchLogsClient,
  DescribeLogGroupsCommand,
  GetQueryResultsCommand,
  type ResultField,
  StartQueryCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { InfrastructureError } from '../errors.ts';

/**
 * A run's log lines on AWS: CloudWatch Logs Insights over the flow's step log groups, filtered by
 * run id. Each step logs Powertools JSON, whose `runId` field Insights discovers by itself.
 */

/** Insights returns at most 10,000 rows per query. https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Limit.html */
export const INSIGHTS_MAX_ROWS = 10_000;

/** A string literal of the Insights query language (double quotes, backslash escapes). */
export function insightsString(text: string): string {
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** The query of one run's lines, oldest first. */
export function runLogQuery(runId: string, limit = INSIGHTS_MAX_ROWS): string {
  return [
    'fields @timestamp, @log, @message',
    `filter runId = ${insightsString(runId)}`,
    'sort @timestamp asc',
    `limit ${Math.min(limit, INSIGHTS_MAX_ROWS)}`,
  ].join('\n| ');
}

/**
 * Whether a log group is a step's of the stack: CloudFormation names a log group without a name
 * `<stack>-<logicalId>-<suffix>`, and a step's log group is `Step-<key>/Logs` (logical id
 * `Step<key>Logs<hash>`). The `Step` right after the stack name keeps `KisFlow-orders-v2`'s groups
 * out of `KisFlow-orders`'s.
 */
export function isStepLogGroup(stackName: string, logGroupName: string): boolean {
  if (!logGroupName.startsWith(`${stackName}-`)) return false;
  return /^Step[A-Za-z0-9]*Logs[0-9A-F]{8}-/.test(logGroupName.slice(stackName.length + 1));
}

/** The step log groups of a flow's stack. */
export async function stepLogGroups(logs: CloudWatchLogsClient, stackName: string): Promise<string[]> {
  const names: string[] = [];
  let nextToken: string | undefined;
  do {
    const out = await logs.send(
      new DescribeLogGroupsCommand({
        logGroupNamePrefix: `${stackName}-`,
        ...(nextToken ? { nextToken } : {}),
      }),
    );
    for (const g of out.logGroups ?? []) {
      if (g.logGroupName !== undefined && isStepLogGroup(stackName, g.logGroupName))
        names.push(g.logGroupName);
    }
    nextToken = out.nextToken;
  } while (nextToken);
  return names;
}

/** The log lines of an Insights result, parsed (a line that is not JSON is kept as `{ message }`). */
export function resultLines(results: readonly (readonly ResultField[])[]): Record<string, unknown>[] {
  return results.map((fields) => {
    const message = fields.find((f) => f.field === '@message')?.value ?? '';
    try {
      const value = JSON.parse(message) as unknown;
      if (typeof value === 'object' && value !== null) return value as Record<string, unknown>;
    } catch {
      // Lambda's own lines (START, END, REPORT) are text.
    }
    return { message, timestamp: fields.find((f) => f.field === '@timestamp')?.value };
  });
}

export interface RunLogQueryOptions {
  readonly logGroups: readonly string[];
  readonly runId: string;
  /** Epoch ms. */
  readonly since: number;
  readonly until: number;
  /** @default 1000 */
  readonly pollMs?: number;
}

/**
 * Runs the query and waits for its result.
 * @throws InfrastructureError `LOGS_QUERY_FAILED` when Insights reports the query failed.
 */
export async function queryRunLogs(
  logs: CloudWatchLogsClient,
  options: RunLogQueryOptions,
): Promise<Record<string, unknown>[]> {
  if (options.logGroups.length === 0) return [];
  // One query reads at most 50 log groups.
  const lines: Record<string, unknown>[] = [];
  for (let i = 0; i < options.logGroups.length; i += 50) {
    const { queryId } = await logs.send(
      new StartQueryCommand({
        logGroupNames: options.logGroups.slice(i, i + 50),
        queryString: runLogQuery(options.runId),
        startTime: Math.floor(options.since / 1000),
        endTime: Math.ceil(options.until / 1000),
      }),
    );
    for (;;) {
      const out = await logs.send(new GetQueryResultsCommand({ queryId }));
      if (out.status === 'Complete') {
        lines.push(...resultLines(out.results ?? []));
        break;
      }
      if (out.status !== 'Running' && out.status !== 'Scheduled') {
        throw new InfrastructureError(
          'LOGS_QUERY_FAILED',
          `The Logs Insights query for run ${options.runId} ended ${out.status}.`,
          { runId: options.runId, status: out.status },
        );
      }
      await new Promise((r) => setTimeout(r, options.pollMs ?? 1000));
    }
  }
  return lines.sort((a, b) => String(a.timestamp ?? '').localeCompare(String(b.timestamp ?? '')));
}
