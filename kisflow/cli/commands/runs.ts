import { existsSync } from 'node:fs';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { Command } from 'commander';
import { type AwsClients, createAwsClients, destroyAwsClients } from '../../aws/clients.ts';
import { announceRunEnded } from '../../aws/control-queue.ts';
import { DynamoRunLedger } from '../../aws/dynamodb-run-ledger.ts';
import { queryRunLogs, stepLogGroups } from '../../aws/run-log-query.ts';
import { cloudWatchLag } from '../../aws/source-lag-metric.ts';
import { mappedSourceKind } from '../../config/flow-source.ts';
import { loadProject } from '../../config/index.ts';
import type { FlowSpec } from '../../config/model.ts';
import { resourceNames } from '../../config/names.ts';
import { KisFlowError, UsageError } from '../../errors.ts';
import { followRunLog, readRunLog, runLogDir } from '../../local/run-log.ts';
import {
  costPerMillionRows,
  DEFAULT_PRICE_REGION,
  estimateCost,
  type FlowCost,
  rowsIn,
} from '../../runs/cost.ts';
import { repairsOf } from '../../runs/retry-run.ts';
import { RUN_STATUSES, type RunLedger, type RunRecord, type RunStatus } from '../../runs/run-ledger.ts';
import { type DayStats, runStats } from '../../runs/run-stats.ts';
import { lagText, type StreamStats, streamStats, streamWindow } from '../../runs/stream-stats.ts';
import { openDeployment } from '../deployment-options.ts';
import { resolveEndpoints } from '../endpoints.ts';
import { retryRunDeadLetters } from '../redrive-flow.ts';
import { type LagOf, sourceLagReader } from '../source-lag.ts';
import { formatTable } from './dlq.ts';

/**
 * Where the runs table is: `--table`, else the running `kisflow dev`'s (`.kisflow/dev.json`), else
 * `--prefix`'s (`<prefix>-runs`, as KisFlow-Shared names it) on the endpoint in use.
 */
export interface LedgerOptions {
  table?: string;
  endpoint?: string;
  region?: string;
  prefix?: string;
}

export function ledgerOptions(command: Command): Command {
  return command
    .option('--table <name>', 'the runs table (default: the running kisflow dev one, else <prefix>-runs)')
    .option('--prefix <prefix>', 'resource name prefix of the deployment', 'kisflow')
    .option(
      '--endpoint <url>',
      'AWS-compatible endpoint (default: AWS_ENDPOINT_URL, a running kisflow dev, else AWS)',
    )
    .option('--region <region>', 'AWS region; also the price list used for cost');
}

/** Opens the ledger the options name, runs `use`, and closes it. */
export async function withLedger<T>(
  opts: LedgerOptions,
  use: (ledger: RunLedger, clients: AwsClients, prefix: string) => Promise<T>,
): Promise<T> {
  const found = resolveEndpoints({
    root: process.cwd(),
    ...(opts.endpoint === undefined ? {} : { endpoint: opts.endpoint }),
  });
  const table = opts.table ?? found.runsTable ?? resourceNames(opts.prefix).runsTable();
  const clients = createAwsClients({
    ...(found.sqsEndpoint === undefined ? {} : { sqsEndpoint: found.sqsEndpoint }),
    ...(found.dynamodbEndpoint === undefined ? {} : { dynamodbEndpoint: found.dynamodbEndpoint }),
    ...(opts.region === undefined ? {} : { region: opts.region }),
  });
  try {
    return await use(
      new DynamoRunLedger({ dynamodb: clients.dynamodb, tableName: table }),
      clients,
      // An explicit --prefix wins; the default one gives way to a running dev stack's.
      opts.prefix !== undefined && opts.prefix !== 'kisflow' ? opts.prefix : (found.prefix ?? 'kisflow'),
    );
  } catch (err) {
    if (opts.table !== undefined || !(err instanceof KisFlowError) || err instanceof UsageError) throw err;
    // The table was guessed: say where it was looked for and how to name another.
    throw new KisFlowError(
      'RUNS_TABLE_UNREACHABLE',
      `Could not use the runs table '${table}' (${found.source === 'aws' ? 'AWS' : found.dynamodbEndpoint}): ${err.message}. Start \`kisflow dev\` in this directory, or give --table <name> (and --endpoint <url> for a local stack).`,
      { table, source: found.source },
      { cause: err },
    );
  } finally {
    destroyAwsClients(clients);
  }
}

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `24h`, `30m`, `7d`, or an ISO date/time, as epoch ms. */
export function parseSince(text: string, now: number, flag = '--since'): number {
  const rel = /^(\d+)([mhd])$/.exec(text);
  if (rel) return now - Number(rel[1]) * (UNITS[rel[2] as string] as number);
  const at = Date.parse(text);
  if (Number.isNaN(at)) {
    throw new UsageError(
      'BAD_OPTION',
      `${flag} must be a duration such as 30m, 24h, 7d or an ISO date, received "${text}"`,
    );
  }
  return at;
}

function parseStatus(text: string | undefined): RunStatus | undefined {
  if (text === undefined) return undefined;
  if ((RUN_STATUSES as readonly string[]).includes(text)) return text as RunStatus;
  throw new UsageError(
    'BAD_OPTION',
    `--status must be one of ${RUN_STATUSES.join(', ')}, received "${text}"`,
  );
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** How `runs show` links a run to its repairs: the run it repairs, the runs that repaired it. */
export interface RunLinks {
  readonly repairedBy: readonly string[];
}

/**
 * The shape scripts rely on (`runs show --json`): exactly issue 9's keys, so a repair's link is
 * in its id (`retry-<n>-<parent>`, trigger `retry`); steps add `timings` (null before a timed batch).
 */
export function runJson(run: RunRecord) {
  return {
    id: run.id,
    flow: run.flowId,
    job: run.jobId ?? null,
    trigger: run.trigger,
    status: run.status,
    started: iso(run.started),
    finished: iso(run.finished),
    params: run.params,
    steps: run.steps.map((s) => ({
      index: s.index,
      fid: s.fid ?? null,
      in: s.in,
      out: s.out,
      rejected: s.rejected,
      dropped: s.dropped,
      dead_lettered: s.deadLettered,
      errors: s.errors,
      timings:
        s.timings === undefined
          ? null
          : {
              first_batch_at: iso(s.timings.firstAt),
              last_batch_at: iso(s.timings.lastAt),
              batches: s.timings.batches,
              total_ms: s.timings.totalMs,
              p95_ms: s.timings.p95Ms,
            },
    })),
  };
}

const ms = (n: number) => (n < 1000 ? `${Math.round(n * 10) / 10}ms` : `${(n / 1000).toFixed(2)}s`);

function duration(run: RunRecord, now: number): string {
  const ms = (run.finished ?? now) - run.started;
  if (ms < 1000) return `${ms}ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.round(ms / 60_000)}m`;
}

function usd(n: number): string {
  return n === 0 ? '$0' : n < 0.01 ? `$${n.toPrecision(2)}` : `$${n.toFixed(2)}`;
}

export function runsTable(runs: readonly RunRecord[], now: number, region = DEFAULT_PRICE_REGION): string {
  if (runs.length === 0) return 'no runs\n';
  return formatTable(
    ['RUN', 'FLOW', 'JOB', 'TRIGGER', 'STATUS', 'STARTED', 'DURATION', 'ROWS', 'COST'],
    runs.map((r) => [
      r.id,
      r.flowId,
      r.jobId ?? '-',
      r.trigger,
      r.status,
      new Date(r.started).toISOString(),
      duration(r, now),
      String(rowsIn(r)),
      usd(estimateCost(r.usage, region).usd),
    ]),
  );
}

export function runDetail(
  run: RunRecord,
  now: number,
  region = DEFAULT_PRICE_REGION,
  links: RunLinks = { repairedBy: [] },
): string {
  const cost = estimateCost(run.usage, region);
  const lines = [
    `run       ${run.id}`,
    `flow      ${run.flowId}${run.jobId === undefined ? '' : `   job ${run.jobId}`}   trigger ${run.trigger}`,
    `status    ${run.status}${run.reason === undefined ? '' : ` (${run.reason})`}`,
    `started   ${new Date(run.started).toISOString()}   finished ${iso(run.finished) ?? '-'}   duration ${duration(run, now)}`,
    `batches   ${run.batches.done} of ${run.batches.roots + run.batches.spawned} done, ${run.batches.deadLettered} dead-lettered`,
    `params    ${JSON.stringify(run.params)}`,
    `cost      ${usd(cost.usd)} (${cost.region} list prices of ${cost.pricesAsOf}${cost.approximate ? ', region unknown: us-east-1 prices' : ''})`,
    ...(run.parentRunId === undefined
      ? []
      : [`${run.trigger === 'retry' ? 'repairs ' : 'parent  '}  ${run.parentRunId}`]),
    ...(links.repairedBy.length === 0 ? [] : [`repaired  by ${links.repairedBy.join(', ')}`]),
  ];
  const steps =
    run.steps.length === 0
      ? 'no batch done yet\n'
      : formatTable(
          [
            'STEP',
            'FID',
            'IN',
            'OUT',
            'REJECTED',
            'DROPPED',
            'DEAD_LETTERED',
            'ERRORS',
            'BATCHES',
            'FIRST',
            'LAST',
            'TOTAL',
            'P95',
          ],
          run.steps.map((s) => [
            ...[s.index, s.fid ?? '-', s.in, s.out, s.rejected, s.dropped, s.deadLettered, s.errors].map(
              String,
            ),
            ...(s.timings === undefined
              ? ['-', '-', '-', '-', '-']
              : [
                  String(s.timings.batches),
                  new Date(s.timings.firstAt).toISOString().slice(11, 23),
                  new Date(s.timings.lastAt).toISOString().slice(11, 23),
                  ms(s.timings.totalMs),
                  ms(s.timings.p95Ms),
                ]),
          ]),
        );
  return `${lines.join('\n')}\n\n${steps}`;
}

export interface RunsStats {
  readonly days: DayStats[];
  readonly flows: FlowCost[];
  /** The stream-fed flows' throughput and lag (their batches are no runs: stream buckets). */
  readonly streams: StreamStats[];
}

/** Minutes `runs stats` measures a stream's throughput over. */
export const STREAM_WINDOW_MINUTES = 15;

export async function runsStats(
  ledger: RunLedger,
  options: {
    jobId?: string;
    days: number;
    now: number;
    region?: string;
    /** Flows whose stream source to report (the others are left out). @default - none */
    flows?: readonly FlowSpec[];
    /** @default - no lag known */
    lagOf?: LagOf;
    /** A lag that could not be read shows as unknown; this hears why. @default - not told */
    onLagError?: (flowId: string, error: unknown) => void;
  },
): Promise<RunsStats> {
  const DAY = 86_400_000;
  const since = Math.floor(options.now / DAY) * DAY - (options.days - 1) * DAY;
  const [runs, streams] = await Promise.all([
    ledger.list({
      since,
      until: options.now + 1,
      limit: 100_000,
      ...(options.jobId === undefined ? {} : { jobId: options.jobId }),
    }),
    streamsStats(ledger, options.flows ?? [], options.now, options.lagOf, options.onLagError),
  ]);
  return {
    days: runStats(runs, since, options.now + 1),
    flows: costPerMillionRows(runs, options.region),
    streams,
  };
}

async function streamsStats(
  ledger: RunLedger,
  flows: readonly FlowSpec[],
  now: number,
  lagOf: LagOf = async () => null,
  onLagError: (flowId: string, error: unknown) => void = () => {},
): Promise<StreamStats[]> {
  const window = streamWindow(now, STREAM_WINDOW_MINUTES);
  const fed = flows.flatMap((flow) => {
    const kind = mappedSourceKind(flow.source);
    return kind === undefined ? [] : [{ flow, source: kind === 'dynamodbStream' ? 'dynamodb_stream' : kind }];
  });
  return Promise.all(
    fed.map(async ({ flow, source }) => {
      const [buckets, lag] = await Promise.all([
        ledger.streamBuckets({ flowId: flow.flowId, granularity: 'minute', ...window }),
        // The lag is beside the throughput, not in its way: an unreadable metric shows as unknown.
        lagOf(flow).catch((error: unknown) => {
          onLagError(flow.flowId, error);
          return null;
        }),
      ]);
      return streamStats(flow.flowId, source, buckets, STREAM_WINDOW_MINUTES, lag);
    }),
  );
}

export function statsTable(stats: RunsStats): string {
  const pct = (r: number | null) => (r === null ? '-' : `${(r * 100).toFixed(1)}%`);
  const ms = (n: number | null) => (n === null ? '-' : `${(n / 1000).toFixed(1)}s`);
  const days = formatTable(
    ['DAY', 'RUNS', 'SUCCEEDED', 'FAILED', 'SUCCESS', 'P50', 'P95'],
    stats.days.map((d) => [
      d.day,
      String(d.runs),
      String(d.succeeded),
      String(d.failed),
      pct(d.successRatio),
      ms(d.p50Ms),
      ms(d.p95Ms),
    ]),
  );
  const streams =
    stats.streams.length === 0
      ? ''
      : `\n${formatTable(
          ['FLOW', 'SOURCE', `ROWS/MIN (${STREAM_WINDOW_MINUTES}m)`, 'LAG', 'STEPS IN/OUT/REJECTED'],
          stats.streams.map((s) => [
            s.flowId,
            s.source,
            String(s.rowsPerMinute),
            lagText(s.lag),
            s.steps.map((t) => `${t.step}:${t.in}/${t.out}/${t.rejected}`).join(' ') || '-',
          ]),
        )}`;
  if (stats.flows.length === 0) return `${days}${streams}`;
  const flows = formatTable(
    ['FLOW', 'RUNS', 'ROWS', 'COST', 'PER MILLION ROWS'],
    stats.flows.map((f) => [
      f.flowId,
      String(f.runs),
      String(f.rows),
      usd(f.usd),
      f.usdPerMillionRows === null ? '-' : usd(f.usdPerMillionRows),
    ]),
  );
  return `${days}\n${flows}${streams}`;
}

/**
 * Cancels a running run, then tells job control it ended (`announce`, the control queue's
 * `run-ended`) so a `serial` fire behind it, its child jobs and alerts follow now, not at the
 * next sweep. A failed announcement is only warned about: the cancel stands and the sweep repairs it.
 *
 * @throws UsageError when there is no such run or it is not running.
 */
/**
 * Cancels a running run and tells job control (`announce`), which hands the end on (child jobs,
 * alerts, queued fires). `warning`: the cancel stands but job control was not told; the next
 * repair pass hands the end on.
 */
export async function cancelRun(
  ledger: RunLedger,
  runId: string,
  reason: string,
  announce?: (runId: string) => Promise<unknown>,
): Promise<{ readonly run: RunRecord; readonly warning?: string }> {
  const run = await ledger.get(runId);
  if (!run) throw new UsageError('RUN_NOT_FOUND', `No run '${runId}' in the runs table.`, { runId });
  if (!(await ledger.cancel(runId, reason))) {
    const now = await ledger.get(runId);
    throw new UsageError(
      'RUN_NOT_RUNNING',
      `Run '${runId}' is ${now?.status ?? run.status}, not running: nothing to cancel.`,
      {
        runId,
        status: now?.status ?? run.status,
      },
    );
  }
  let warning: string | undefined;
  if (announce) {
    await announce(runId).catch((error: unknown) => {
      warning = `run ${runId} cancelled, but job control was not told (${(error as Error)?.message ?? String(error)}); the next sweep hands the end on`;
    });
  }
  const cancelled = (await ledger.get(runId)) as RunRecord;
  return warning === undefined ? { run: cancelled } : { run: cancelled, warning };
}

async function getRun(ledger: RunLedger, runId: string): Promise<RunRecord> {
  const run = await ledger.get(runId);
  if (!run) throw new UsageError('RUN_NOT_FOUND', `No run '${runId}' in the runs table.`, { runId });
  return run;
}

function positive(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError('BAD_OPTION', `${flag} must be a positive integer, received "${text}"`);
  return n;
}

const write = (text: string) => process.stdout.write(text);

/** A log line for a terminal: time, level, step, message, then the other fields as JSON. */
export function logLine(line: Record<string, unknown>): string {
  const {
    timestamp,
    level,
    step,
    fid,
    message,
    runId: _run,
    service: _s,
    sampling_rate: _r,
    flow: _f,
    ...rest
  } = line;
  const where = step === undefined ? '' : `step ${String(step)}${fid === undefined ? '' : ` ${String(fid)}`}`;
  const extra = Object.keys(rest).length === 0 ? '' : ` ${JSON.stringify(rest)}`;
  return `${String(timestamp ?? '-')}  ${String(level ?? '-').padEnd(5)}  ${where}  ${String(message ?? '')}${extra}`;
}

/**
 * `kisflow runs list|show|stats|cancel|retry|logs`: tables on a terminal, JSON with --json; exit 1 (with a
 * message, no stack) for an unknown run, a run that is not running, or a bad option.
 */
export function register(program: Command): void {
  const runs = program
    .command('runs')
    .description('runs: what each trigger started, per-step counters, status and cost');

  ledgerOptions(runs.command('list'))
    .description('runs, newest first')
    .option('--flow <flow_id>', 'only this flow')
    .option('--job <job_id>', 'only this job')
    .option('--status <status>', `only this status (${RUN_STATUSES.join(', ')})`)
    .option('--since <when>', 'started since (30m, 24h, 7d or an ISO date)', '24h')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'one JSON object per run')
    .action(
      async (
        opts: LedgerOptions & {
          flow?: string;
          job?: string;
          status?: string;
          since: string;
          limit: string;
          json?: boolean;
        },
      ) => {
        const now = Date.now();
        const status = parseStatus(opts.status);
        const query = {
          since: parseSince(opts.since, now),
          limit: positive(opts.limit, '--limit'),
          ...(opts.flow === undefined ? {} : { flowId: opts.flow }),
          ...(opts.job === undefined ? {} : { jobId: opts.job }),
          ...(status === undefined ? {} : { status }),
        };
        const found = await withLedger(opts, (ledger) => ledger.list(query));
        if (opts.json) for (const run of found) write(`${JSON.stringify(runJson(run))}\n`);
        else write(runsTable(found, now, opts.region));
      },
    );

  ledgerOptions(runs.command('show'))
    .description('one run: status, times, params and per-step counters')
    .argument('<run>', 'run id')
    .option('--json', 'as one JSON object')
    .action(async (runId: string, opts: LedgerOptions & { json?: boolean }) => {
      const { run, links } = await withLedger(opts, async (ledger) => {
        const found = await getRun(ledger, runId);
        return { run: found, links: { repairedBy: (await repairsOf(ledger, runId)).map((r) => r.id) } };
      });
      write(opts.json ? `${JSON.stringify(runJson(run))}\n` : runDetail(run, Date.now(), opts.region, links));
    });

  ledgerOptions(runs.command('logs'))
    .description(
      "one run's log lines across all its steps: kept by kisflow dev in .kisflow/dev/logs, on AWS read with CloudWatch Logs Insights",
    )
    .argument('<run>', 'run id')
    .option('-f, --follow', 'keep printing lines as they come (kisflow dev; Ctrl-C stops)')
    .option('--cloudwatch', 'read CloudWatch Logs even when a kisflow dev run log is here')
    .option(
      '--log-group <name...>',
      'the log groups to query (default: the step log groups of the run’s flow stack)',
    )
    .option('--json', 'one JSON object per line, as logged')
    .action(
      async (
        runId: string,
        opts: LedgerOptions & { follow?: boolean; cloudwatch?: boolean; logGroup?: string[]; json?: boolean },
      ) => {
        const print = (line: Record<string, unknown>) =>
          write(opts.json ? `${JSON.stringify(line)}\n` : `${logLine(line)}\n`);
        const dir = runLogDir(process.cwd());
        if (!opts.cloudwatch && existsSync(dir)) {
          if (!opts.follow) {
            for (const line of readRunLog(dir, runId)) print(line);
            return;
          }
          const stop = new AbortController();
          process.once('SIGINT', () => stop.abort());
          await followRunLog(dir, runId, print, stop.signal);
          return;
        }
        if (opts.follow) {
          throw new UsageError(
            'BAD_OPTION',
            '--follow reads the kisflow dev run log; on AWS run `kisflow runs logs` again for newer lines.',
          );
        }
        const run = await withLedger(opts, (ledger) => getRun(ledger, runId));
        const logs = new CloudWatchLogsClient(opts.region === undefined ? {} : { region: opts.region });
        try {
          const groups =
            opts.logGroup ??
            (await stepLogGroups(logs, resourceNames(opts.prefix).flowStackName(run.flowId)));
          const minute = 60_000;
          for (const line of await queryRunLogs(logs, {
            logGroups: groups,
            runId,
            since: run.started - minute,
            until: (run.finished ?? Date.now()) + minute,
          }))
            print(line);
        } finally {
          logs.destroy();
        }
      },
    );

  ledgerOptions(runs.command('retry'))
    .description(
      "re-run only what failed: the run's dead letters, from every step's DLQ, as a new run (trigger retry) linked to it",
    )
    .argument('<run>', 'run id')
    .option('-d, --dir <dir>', 'flows directory', 'flows')
    .option('--json', 'print the retry run as JSON')
    .action(async (runId: string, opts: LedgerOptions & { dir: string; json?: boolean }) => {
      const result = await withLedger(opts, async (ledger) => {
        const parent = await getRun(ledger, runId);
        const deployment = await openDeployment(parent.flowId, {
          dir: opts.dir,
          ...(opts.endpoint === undefined ? {} : { endpoint: opts.endpoint }),
          ...(opts.prefix === undefined || opts.prefix === 'kisflow' ? {} : { prefix: opts.prefix }),
        });
        try {
          return await retryRunDeadLetters(ledger, deployment, runId);
        } finally {
          deployment.close();
        }
      });
      if (opts.json) {
        write(`${JSON.stringify(runJson(result.run))}\n`);
        return;
      }
      process.stderr.write(
        `${result.resumed ? 'resumed' : 'started'} ${result.run.id} (repairs ${runId}): ${result.moved} dead letter(s) sent back\n`,
      );
      // The new run id is the last line of stdout, as `jobs trigger` prints it.
      write(`${result.run.id}\n`);
    });

  ledgerOptions(runs.command('stats'))
    .description(
      'runs, success ratio and p50/p95 duration per day; cost per million rows per flow; stream-fed flows: rows/min and lag',
    )
    .option('--job <job_id>', 'only this job')
    .option('--days <n>', 'this many days, today included', '7')
    .option('--dir <path>', 'flows directory: its stream-fed flows get throughput and lag', 'flows')
    .option('--json', 'as one JSON object')
    .action(async (opts: LedgerOptions & { job?: string; days: string; dir: string; json?: boolean }) => {
      const days = positive(opts.days, '--days');
      // Without the project there is no knowing which flows a stream feeds: no stream section.
      const flows = existsSync(opts.dir)
        ? await loadProject(opts.dir).then(
            (project) => [...project.flows.values()].filter((f) => f.enabled),
            (error: unknown) => {
              process.stderr.write(
                `warning: the flows in ${opts.dir} do not load (${error instanceof KisFlowError ? error.code : String(error)}; \`kisflow validate\` says why): no stream figures\n`,
              );
              return [];
            },
          )
        : [];
      const found = resolveEndpoints({
        root: process.cwd(),
        ...(opts.endpoint === undefined ? {} : { endpoint: opts.endpoint }),
      });
      const fed = flows.some((f) => mappedSourceKind(f.source) !== undefined);
      const cloudwatch =
        found.source === 'aws' && fed
          ? new CloudWatchClient(opts.region === undefined ? {} : { region: opts.region })
          : undefined;
      const stats = await withLedger(opts, (ledger) =>
        runsStats(ledger, {
          days,
          now: Date.now(),
          flows,
          lagOf: sourceLagReader(
            found,
            cloudwatch === undefined ? undefined : cloudWatchLag(cloudwatch, opts.prefix),
          ),
          onLagError: (flowId, error) =>
            process.stderr.write(
              `warning: the lag of flow ${flowId} could not be read (${(error as Error)?.message ?? String(error)}); shown as -\n`,
            ),
          ...(opts.job === undefined ? {} : { jobId: opts.job }),
          ...(opts.region === undefined ? {} : { region: opts.region }),
        }),
      ).finally(() => cloudwatch?.destroy());
      write(opts.json ? `${JSON.stringify(stats)}\n` : statsTable(stats));
    });

  ledgerOptions(runs.command('cancel'))
    .description('cancel a running run')
    .argument('<run>', 'run id')
    .option('--reason <text>', 'recorded with the run', 'cancelled from the command line')
    .option('--json', 'print the cancelled run as JSON')
    .action(async (runId: string, opts: LedgerOptions & { reason: string; json?: boolean }) => {
      const { run, warning } = await withLedger(opts, (ledger, clients, prefix) =>
        cancelRun(ledger, runId, opts.reason, (id) => announceRunEnded(clients.sqs, prefix, id)),
      );
      if (warning !== undefined) process.stderr.write(`warning: ${warning}\n`);
      write(opts.json ? `${JSON.stringify(runJson(run))}\n` : `cancelled ${run.id}\n`);
    });
}
