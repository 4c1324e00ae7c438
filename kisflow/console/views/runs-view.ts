import { logLine, parseSince, runJson } from '../../cli/commands/runs.ts';
import { UsageError } from '../../errors.ts';
import { readRunLog, runLogDir } from '../../local/run-log.ts';
import { estimateCost, rowsIn } from '../../runs/cost.ts';
import {
  RUN_STATUSES,
  RUN_TRIGGERS,
  type RunQuery,
  type RunRecord,
  type RunStatus,
  type RunTrigger,
} from '../../runs/run-ledger.ts';
import type { ConsoleContext } from '../console-context.ts';
import { type DeadLetterView, deadLetters } from './dead-letters-view.ts';

/** A run as the console lists it: `runs show --json`'s shape plus what the table shows. */
export function runView(run: RunRecord, now: number, region?: string) {
  return {
    ...runJson(run),
    reason: run.reason ?? null,
    parent: run.parentRunId ?? null,
    durationMs: (run.finished ?? now) - run.started,
    rows: rowsIn(run),
    batches: run.batches,
    cost: estimateCost(run.usage, region),
  };
}
export type RunView = ReturnType<typeof runView>;

/** The Runs page's filters, as the query string gives them (`kisflow runs list`'s options). */
export interface RunFilters {
  readonly flow?: string;
  readonly job?: string;
  readonly status?: string;
  readonly trigger?: string;
  readonly since?: string;
  readonly limit?: string;
}

function oneOf<T extends string>(
  value: string | undefined,
  allowed: readonly T[],
  name: string,
): T | undefined {
  if (value === undefined || value === '') return undefined;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError('BAD_FILTER', `${name} must be one of ${allowed.join(', ')}, received "${value}"`, {
    [name]: value,
  });
}

export async function listRuns(context: ConsoleContext, filters: RunFilters): Promise<RunView[]> {
  const now = context.now();
  const status = oneOf<RunStatus>(filters.status, RUN_STATUSES, 'status');
  const trigger = oneOf<RunTrigger>(filters.trigger, RUN_TRIGGERS, 'trigger');
  const limit = Number(filters.limit ?? 200);
  if (!Number.isInteger(limit) || limit < 1) {
    throw new UsageError('BAD_FILTER', `limit must be a positive integer, received "${filters.limit}"`);
  }
  const query: RunQuery = {
    since: parseSince(filters.since || '7d', now),
    limit,
    ...(filters.flow ? { flowId: filters.flow } : {}),
    ...(filters.job ? { jobId: filters.job } : {}),
    ...(status === undefined ? {} : { status }),
    ...(trigger === undefined ? {} : { trigger }),
  };
  return (await context.ledger.list(query)).map((r) => runView(r, now, context.region));
}

export interface RunPage {
  readonly run: RunView;
  /** Its rows waiting in the flow's DLQs (rejected with a reason, or whole messages that failed). */
  readonly deadLetters: readonly DeadLetterView[];
}

/** A run's page: `runs show` and the dead letters that carry its run id. */
export async function runPage(context: ConsoleContext, runId: string): Promise<RunPage> {
  const run = await context.ledger.get(runId);
  if (!run) throw new UsageError('RUN_NOT_FOUND', `No run '${runId}' in the runs table.`, { runId });
  const project = await context.project();
  const letters = project.flows.get(run.flowId)?.enabled
    ? (await deadLetters(context, run.flowId)).filter((d) => d.runId === runId)
    : [];
  return { run: runView(run, context.now(), context.region), deadLetters: letters };
}

/** The most lines of a run's log the run page shows (the newest). */
const RUN_LOG_LINES = 500;

/**
 * A run's log lines, as `kisflow runs logs` prints them. Only `kisflow dev` keeps them where the
 * console can read them; on AWS the page points at `kisflow runs logs` (Logs Insights).
 */
export function runLogs(context: ConsoleContext, runId: string): { available: boolean; lines: string[] } {
  if (context.source !== 'dev') return { available: false, lines: [] };
  const lines = readRunLog(runLogDir(context.target.root), runId);
  return { available: true, lines: lines.slice(-RUN_LOG_LINES).map(logLine) };
}
