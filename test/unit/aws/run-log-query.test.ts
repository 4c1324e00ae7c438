import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { describe, expect, it } from 'vitest';
import {
  insightsString,
  isStepLogGroup,
  queryRunLogs,
  resultLines,
  runLogQuery,
} from '../../../kisflow/aws/run-log-query.ts';

describe('the Logs Insights query of a run', () => {
  it('filters on the runId field, oldest first, within Insights’ row limit', () => {
    expect(runLogQuery('send-1')).toBe(
      'fields @timestamp, @log, @message\n| filter runId = "send-1"\n| sort @timestamp asc\n| limit 10000',
    );
    expect(runLogQuery('r', 50_000)).toMatch(/limit 10000$/);
  });

  it('quotes a run id so that it cannot end the string or the query', () => {
    expect(insightsString('a"b\\c | filter 1=1')).toBe('"a\\"b\\\\c | filter 1=1"');
    expect(runLogQuery('x" or runId like /./ or "')).toContain(
      'filter runId = "x\\" or runId like /./ or \\""',
    );
  });

  it('takes the step log groups of the flow’s stack, not those of a stack whose name extends it', () => {
    expect(isStepLogGroup('KisFlow-orders', 'KisFlow-orders-StepverifyorderLogs1A2B3C4D-abcDEF123')).toBe(
      true,
    );
    expect(isStepLogGroup('KisFlow-orders', 'KisFlow-orders-v2-StepverifyLogs1A2B3C4D-abc')).toBe(false);
    expect(isStepLogGroup('KisFlow-orders', 'KisFlow-orders-Dashboard-abc')).toBe(false);
    expect(isStepLogGroup('KisFlow-orders', '/aws/lambda/KisFlow-orders-Step')).toBe(false);
  });

  it('parses the JSON lines of a result and keeps Lambda’s text lines', () => {
    expect(
      resultLines([
        [
          { field: '@timestamp', value: '2026-12-02 01:00:00.000' },
          { field: '@message', value: '{"level":"INFO","message":"checked","runId":"r"}' },
        ],
        [
          { field: '@timestamp', value: '2026-12-02 01:00:01.000' },
          { field: '@message', value: 'REPORT RequestId: 1' },
        ],
      ]),
    ).toEqual([
      { level: 'INFO', message: 'checked', runId: 'r' },
      { message: 'REPORT RequestId: 1', timestamp: '2026-12-02 01:00:01.000' },
    ]);
  });

  // No emulator serves Logs Insights: a client that answers as the service does.
  it('polls until the query completes, and reports a failed query with a code', async () => {
    const answers = [{ queryId: 'q' }, { status: 'Running' }, { status: 'Complete', results: [] }];
    const sent: string[] = [];
    const logs = {
      send: async (command: { constructor: { name: string }; input: unknown }) => {
        sent.push(command.constructor.name);
        return answers.shift();
      },
    } as unknown as CloudWatchLogsClient;
    const window = { logGroups: ['g'], runId: 'r', since: 0, until: 1000, pollMs: 1 };
    expect(await queryRunLogs(logs, window)).toEqual([]);
    expect(sent).toEqual(['StartQueryCommand', 'GetQueryResultsCommand', 'GetQueryResultsCommand']);
    answers.push({ queryId: 'q' }, { status: 'Failed' });
    await expect(queryRunLogs(logs, window)).rejects.toMatchObject({ code: 'LOGS_QUERY_FAILED' });
    expect(await queryRunLogs(logs, { ...window, logGroups: [] })).toEqual([]);
  });
});
