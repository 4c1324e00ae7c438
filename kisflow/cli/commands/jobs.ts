import type { Command } from 'commander';
import { DynamoRunLedger } from '../../aws/dynamodb-run-ledger.ts';
import { setScheduleState } from '../../aws/job-schedules.ts';
import { loadProject } from '../../config/index.ts';
import type { JobSpec, Params, ProjectConfig } from '../../config/model.ts';
import { resourceNames } from '../../config/names.ts';
import { UsageError } from '../../errors.ts';
import { missedFires, nextRuns, parseSchedule } from '../../local/scheduler.ts';
import { type FireOutcome, fireJob } from '../../runs/fire-job.ts';
import { jobPolicy } from '../../runs/job-policy.ts';
import { checkMisfire, type MisfireDecision } from '../../runs/misfire.ts';
import type { JobState, RunLedger, RunRecord } from '../../runs/run-ledger.ts';
import { type FlowDeployment, openFlowDeployment } from '../deployment.ts';
import { resolveEndpoints } from '../endpoints.ts';
import { sendToFlow, triggerJob } from '../trigger-job.ts';
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

export function findJob(project: ProjectConfig, jobId: string): JobSpec {
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
  /** `disabled`: `status: 0` in the YAML (or its flow's), so never deployed to fire; `paused`: `jobs pause`. */
  readonly state: 'enabled' | 'paused' | 'disabled';
  /** Why it was paused or resumed, as given. */
  readonly reason: string | null;
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
    const kept = on && ledger ? await ledger.jobState(job.jobId) : undefined;
    const state = !on ? 'disabled' : kept?.state === 'paused' ? 'paused' : 'enabled';
    rows.push({
      job: job.jobId,
      flow: job.flowId,
      schedule: job.schedule,
      timezone: job.timezone,
      state,
      reason: kept?.reason ?? null,
      scene: jobPolicy(job).scene ?? null,
      next: state === 'enabled' ? (jobNext(job, 1, now)[0] ?? null) : null,
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

/** Where `jobs pause|resume` act: the ledger always, the cloud schedule and the flow where no local scheduler runs. */
export interface JobControl {
  readonly ledger: RunLedger;
  /** Sets the job's EventBridge Scheduler schedule. @default - none (under `kisflow dev`: its scheduler reads the ledger) */
  readonly setSchedule?: (state: 'ENABLED' | 'DISABLED') => Promise<void>;
  /**
   * Sends a started run's batches into its flow. Given, `resumeJob` applies the misfire policy
   * itself. @default - none: a running `kisflow dev` applies it when it sees the resume
   */
  readonly sendRun?: (job: JobSpec, outcome: Extract<FireOutcome, { kind: 'started' }>) => Promise<void>;
  /** @default Date.now */
  readonly now?: () => number;
}

export function jobThatFires(project: ProjectConfig, jobId: string): JobSpec {
  const job = findJob(project, jobId);
  if (!isOn(project, job)) {
    throw new UsageError(
      'JOB_DISABLED',
      `Job '${jobId}' is off in the YAML (status: 0, or its flow '${job.flowId}' is): it has no schedule to pause or resume. Set status: 1 and deploy it.`,
      { jobId },
    );
  }
  return job;
}

/**
 * Pauses a job for the whole deployment: the ledger first (every fire checks it), then its cloud
 * schedule. Fires due while paused are missed fires: the misfire policy applies on resume.
 */
export async function pauseJob(control: JobControl, job: JobSpec, reason?: string): Promise<JobState> {
  const state = await control.ledger.setJobState(job.jobId, 'paused', reason);
  await control.setSchedule?.('DISABLED');
  return state;
}

export interface Resumed {
  readonly state: JobState;
  /** What the misfire policy made of the fires missed, when this call applied it. */
  readonly missed?: MisfireDecision;
  readonly outcome?: FireOutcome;
}

/** Resumes a job (ledger, then schedule) and, given `sendRun`, applies its misfire policy to the fires missed. */
export async function resumeJob(control: JobControl, job: JobSpec, reason?: string): Promise<Resumed> {
  const now = control.now ?? Date.now;
  const state = await control.ledger.setJobState(job.jobId, 'enabled', reason);
  await control.setSchedule?.('ENABLED');
  if (control.sendRun === undefined) return { state };
  const schedule = parseSchedule(job.schedule, job.timezone);
  const check = await checkMisfire(control.ledger, job, (last) =>
    missedFires(schedule, last, new Date(now()), last),
  );
  if (check.fire === undefined) return { state, missed: check.decision };
  const outcome = await fireJob(control.ledger, check.fire);
  if (outcome.kind === 'started') await control.sendRun(job, outcome);
  return { state, missed: check.decision, outcome };
}

function positive(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError('BAD_OPTION', `${flag} must be a positive integer, received "${text}"`);
  }
  return n;
}

/** `kisflow jobs list|next|trigger|pause|resume`. */
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
            r.reason === null || r.state !== 'paused' ? r.state : `paused (${r.reason})`,
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
    .option(
      '--answer-within <seconds>',
      'how long to wait for job control to take the fire (exit 1 with CONTROL_NOT_RUNNING after)',
      '30',
    )
    .action(
      async (
        jobId: string,
        opts: { param: string[]; dir: string; endpoint?: string; prefix?: string; answerWithin: string },
      ) => {
        const project = await loadProject(opts.dir);
        const job = findJob(project, jobId);
        const params = parseParams(opts.param);
        const { answerWithin, ...where } = opts;
        const result = await triggerJob(project, job, params, {
          root: process.cwd(),
          ...where,
          answerWithinMs: positive(answerWithin, '--answer-within') * 1000,
        });
        process.stderr.write(`${result.message}\n`);
        process.stdout.write(`${result.runId}\n`);
        if (result.kind === 'not_started') process.exitCode = 1;
      },
    );

  for (const [name, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    jobs
      .command(name)
      .description(
        paused
          ? 'pause a job for the whole deployment (runs table, and its EventBridge Scheduler schedule on AWS); fires due meanwhile are missed fires'
          : 'resume a paused job; fires missed meanwhile go through its misfire policy (skip | fire_once_now)',
      )
      .argument('<job>', 'job id')
      .option('--reason <text>', 'why, kept with the state and shown by jobs list')
      .option('-d, --dir <dir>', 'flows directory', 'flows')
      .option(
        '--endpoint <url>',
        'AWS-compatible endpoint (default: AWS_ENDPOINT_URL, a running kisflow dev, else AWS)',
      )
      .option(
        '--prefix <prefix>',
        'resource name prefix (default: the running kisflow dev one, else kisflow)',
      )
      .option('--json', 'print the job state as JSON')
      .action(
        async (
          jobId: string,
          opts: { reason?: string; dir: string; endpoint?: string; prefix?: string; json?: boolean },
        ) => {
          const project = await loadProject(opts.dir);
          const job = jobThatFires(project, jobId);
          const deployment = await openFlowDeployment(project, {
            flowId: job.flowId,
            root: process.cwd(),
            ...(opts.endpoint === undefined ? {} : { endpoint: opts.endpoint }),
            ...(opts.prefix === undefined ? {} : { prefix: opts.prefix }),
          });
          try {
            const control = jobControl(deployment, job);
            const done = paused
              ? { state: await pauseJob(control, job, opts.reason) }
              : await resumeJob(control, job, opts.reason);
            if (opts.json) {
              process.stdout.write(`${JSON.stringify(done.state)}\n`);
            } else {
              process.stdout.write(`job ${jobId} ${done.state.state}\n`);
            }
            process.stderr.write(`${describeChange(job, deployment, done)}\n`);
          } finally {
            deployment.close();
          }
        },
      );
  }
}

/**
 * Under `kisflow dev` only the ledger: its scheduler reads the state (and applies the misfire
 * policy on resume). Elsewhere no local scheduler runs: the cloud schedule is switched too, and
 * resume starts the misfire run itself.
 */
export function jobControl(deployment: FlowDeployment, job: JobSpec): JobControl {
  const ledger = new DynamoRunLedger({
    dynamodb: deployment.clients.dynamodb,
    tableName: resourceNames(deployment.prefix).runsTable(),
  });
  if (deployment.source === 'dev') return { ledger };
  const name = resourceNames(deployment.prefix).jobSchedule(job.jobId);
  return {
    ledger,
    setSchedule: (state) =>
      setScheduleState(
        name,
        state,
        deployment.endpoint === undefined ? {} : { endpoint: deployment.endpoint },
      ),
    sendRun: (j, outcome) => sendToFlow(deployment, j, outcome),
  };
}

function describeChange(job: JobSpec, deployment: FlowDeployment, done: Resumed): string {
  const head = `job ${job.jobId}: ${done.state.state}${done.state.reason === undefined ? '' : ` (${done.state.reason})`}`;
  const policy = job.misfire ?? 'skip';
  if (done.state.state === 'paused')
    return `${head}; fires due while paused are missed fires (misfire: ${policy})`;
  if (deployment.source === 'dev')
    return `${head}; the running kisflow dev applies misfire: ${policy} to the fires it missed`;
  const missed = done.missed?.missed ?? 0;
  if (done.outcome === undefined)
    return `${head}; ${missed} missed fire(s), misfire: ${policy}: nothing started`;
  const run = done.outcome.kind === 'queued' ? done.outcome.runId : done.outcome.run.id;
  return `${head}; ${missed} missed fire(s), misfire: ${policy}: run ${run} ${done.outcome.kind}`;
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
