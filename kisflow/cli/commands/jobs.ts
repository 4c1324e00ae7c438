import type { Command } from 'commander';
import { loadProject } from '../../config/index.ts';
import type { JobSpec, Params, ProjectConfig } from '../../config/model.ts';
import { UsageError } from '../../errors.ts';
import { nextRuns, parseSchedule } from '../../local/scheduler.ts';
import { jobPolicy } from '../../runs/job-policy.ts';
import type { RunLedger, RunRecord } from '../../runs/run-ledger.ts';
import { resolveEndpoints } from '../endpoints.ts';
import { triggerJob } from '../trigger-job.ts';
import { formatTable } from './dlq.ts';
import { type LedgerOptions, ledgerOptions, withLedger } from './runs.ts';

/**
 * `2026-12-02T02:00:00+08:00`: the wall-clock time in `timeZone` with its UTC offset, the form
 * scripts read from `jobs next`.
 */
export function isoWithOffset(date: Date, timeZone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    })
      .formatToParts(date)
      .map((p) => [p.type, p.value]),
  ) as Record<string, string>;
  const n = (k: string) => Number(parts[k]);
  const wall = Date.UTC(n('year'), n('month') - 1, n('day'), n('hour'), n('minute'), n('second'));
  const offset = Math.round((wall - Math.floor(date.getTime() / 1000) * 1000) / 60_000);
  const abs = Math.abs(offset);
  const hhmm = `${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}${offset < 0 ? '-' : '+'}${hhmm}`;
}

function findJob(project: ProjectConfig, jobId: string): JobSpec {
  const job = project.jobs.get(jobId);
  if (job) return job;
  const known = [...project.jobs.keys()];
  throw new UsageError(
    'UNKNOWN_JOB',
    `No job '${jobId}' in the flows directory (jobs: ${known.join(', ') || 'none'}).`,
    { jobId, known },
  );
}

/** Whether the job's schedule is created: the job and its flow are both on. */
function isOn(project: ProjectConfig, job: JobSpec): boolean {
  return job.enabled && project.flows.get(job.flowId)?.enabled === true;
}

/** The next `n` fire times of a job after `from`, in its time zone with the offset. */
export function jobNext(job: JobSpec, n: number, from: Date): string[] {
  return nextRuns(parseSchedule(job.schedule, job.timezone), n, from).map((d) =>
    isoWithOffset(d, job.timezone),
  );
}

export interface JobRow {
  readonly job: string;
  readonly flow: string;
  readonly schedule: string;
  readonly timezone: string;
  readonly state: 'on' | 'off';
  readonly scene: string | null;
  readonly next: string | null;
  readonly lastRun: { readonly id: string; readonly status: string; readonly started: string } | null;
  /** succeeded / finished over the runs read; null without a ledger or with no finished run. */
  readonly successRatio: number | null;
}

const FINISHED = new Set(['succeeded', 'failed', 'partial', 'timed_out']);

/** `jobs list`: every job with its next fire and, given a ledger, its last run and success ratio over `since`. */
export async function listJobs(
  project: ProjectConfig,
  ledger: RunLedger | undefined,
  now: Date,
  since: number,
): Promise<JobRow[]> {
  const rows: JobRow[] = [];
  for (const job of [...project.jobs.values()].sort((a, b) => (a.jobId < b.jobId ? -1 : 1))) {
    const runs: RunRecord[] = ledger ? await ledger.list({ jobId: job.jobId, since }) : [];
    const finished = runs.filter((r) => FINISHED.has(r.status));
    const last = runs[0];
    const on = isOn(project, job);
    rows.push({
      job: job.jobId,
      flow: job.flowId,
      schedule: job.schedule,
      timezone: job.timezone,
      state: on ? 'on' : 'off',
      scene: jobPolicy(job).scene ?? null,
      next: on ? (jobNext(job, 1, now)[0] ?? null) : null,
      lastRun: last
        ? { id: last.id, status: last.status, started: new Date(last.started).toISOString() }
        : null,
      successRatio:
        finished.length === 0
          ? null
          : finished.filter((r) => r.status === 'succeeded').length / finished.length,
    });
  }
  return rows;
}

function positive(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError('BAD_OPTION', `${flag} must be a positive integer, received "${text}"`);
  }
  return n;
}

/** `kisflow jobs list|next`. */
export function register(program: Command): void {
  const jobs = program.command('jobs').description('timed jobs: schedules, next fires, last runs');

  jobs
    .command('next')
    .description("the next fire times of a job, one ISO-8601 time per line with the job's UTC offset")
    .argument('<job>', 'job id')
    .option('-n, --count <n>', 'how many', '5')
    .option('-d, --dir <dir>', 'flows directory', 'flows')
    .action(async (jobId: string, opts: { count: string; dir: string }) => {
      const job = findJob(await loadProject(opts.dir), jobId);
      const times = jobNext(job, positive(opts.count, '--count'), new Date());
      process.stdout.write(times.map((t) => `${t}\n`).join(''));
    });

  ledgerOptions(jobs.command('list'))
    .description(
      'every job: schedule, time zone, state, next fire; with --table its last run and success ratio',
    )
    .option('-d, --dir <dir>', 'flows directory', 'flows')
    .option('--days <n>', 'success ratio over this many days', '7')
    .option('--json', 'one JSON object per job')
    .action(async (opts: LedgerOptions & { dir: string; days: string; json?: boolean }) => {
      const project = await loadProject(opts.dir);
      const now = new Date();
      const since = now.getTime() - positive(opts.days, '--days') * 86_400_000;
      const devLedger = resolveEndpoints({ root: process.cwd() }).runsTable !== undefined;
      const rows =
        opts.table === undefined && !devLedger
          ? await listJobs(project, undefined, now, since)
          : await withLedger(opts, (ledger) => listJobs(project, ledger, now, since));
      if (opts.json) {
        for (const row of rows) process.stdout.write(`${JSON.stringify(row)}\n`);
        return;
      }
      if (rows.length === 0) {
        process.stdout.write('no jobs\n');
        return;
      }
      process.stdout.write(
        formatTable(
          ['JOB', 'FLOW', 'SCHEDULE', 'TIMEZONE', 'STATE', 'SCENE', 'NEXT FIRE', 'LAST RUN', 'SUCCESS'],
          rows.map((r) => [
            r.job,
            r.flow,
            r.schedule,
            r.timezone,
            r.state,
            r.scene ?? '-',
            r.next ?? '-',
            r.lastRun ? `${r.lastRun.status} ${r.lastRun.started}` : '-',
            r.successRatio === null ? '-' : `${(r.successRatio * 100).toFixed(1)}%`,
          ]),
        ),
      );
    });

  jobs
    .command('trigger')
    .description('fire a job now (trigger manual), through its overlap policy; prints the new run id last')
    .argument('<job>', 'job id')
    .option('-p, --param <k=v>', 'a param for this run (repeatable); overrides the job params', collect, [])
    .option('-d, --dir <dir>', 'flows directory', 'flows')
    .option(
      '--endpoint <url>',
      'AWS-compatible endpoint (default: AWS_ENDPOINT_URL, a running kisflow dev, else AWS)',
    )
    .option('--prefix <prefix>', 'resource name prefix (default: the running kisflow dev one, else kisflow)')
    .action(
      async (jobId: string, opts: { param: string[]; dir: string; endpoint?: string; prefix?: string }) => {
        const project = await loadProject(opts.dir);
        const job = findJob(project, jobId);
        const params = parseParams(opts.param);
        const result = await triggerJob(project, job, params, { root: process.cwd(), ...opts });
        process.stderr.write(`${result.message}\n`);
        process.stdout.write(`${result.runId}\n`);
        if (result.kind === 'not_started') process.exitCode = 1;
      },
    );
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `k=v` pairs; a value that reads as JSON (a number, true, an object) is taken as that. */
export function parseParams(pairs: readonly string[]): Params {
  const params: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError('BAD_OPTION', `--param must be k=v, received "${pair}"`);
    const text = pair.slice(eq + 1);
    let value: unknown = text;
    try {
      value = JSON.parse(text);
    } catch {
      // A plain string.
    }
    params[pair.slice(0, eq)] = value;
  }
  return params as Params;
}
