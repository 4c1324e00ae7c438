import { Cron } from 'croner';
import type { JobSpec, ProjectConfig } from '../config/model.ts';
import { scheduleProblem, timezoneProblem } from '../config/schedule.ts';
import { ConfigError } from '../errors.ts';
import type { StepBatch } from '../ports.ts';
import { type FireOutcome, fireBatches, fireJob } from '../runs/fire-job.ts';
import { decideMisfire, type MisfireDecision } from '../runs/misfire.ts';
import type { RunLedger } from '../runs/run-ledger.ts';
import { envelopeToBatch, schedulerTime, tickEnvelope } from '../wire/envelope.ts';

/**
 * A parsed EventBridge Scheduler expression.
 * https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
 */
export type Schedule =
  | { readonly kind: 'rate'; readonly expression: string; readonly everyMs: number }
  | { readonly kind: 'cron'; readonly expression: string; readonly timezone: string; readonly cron: Cron }
  | { readonly kind: 'at'; readonly expression: string; readonly timezone: string; readonly at: Date | null };

const UNIT_MS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/**
 * Parses `rate(...)`, `cron(...)` or `at(...)` as EventBridge Scheduler reads them, in `timezone`.
 *
 * `cron(min hour dom month dow year)` runs on croner in its 7-field (Quartz) form: seconds 0 are
 * prepended, the year is kept (croner 11 understands it, so `cron(0 8 * * ? 2027)` fires in 2027
 * only), week days number 1 = Sunday as in AWS, `?` stays a wildcard, `<n>L` becomes croner's
 * `<n>#L`, and both day fields combine with AND because AWS forces one of them to be `?`.
 *
 * @throws ConfigError naming the expression and what is allowed.
 * @example
 * nextRuns(parseSchedule('cron(0 8 ? * MON-FRI *)', 'Europe/Paris'), 3, new Date());
 */
export function parseSchedule(expression: string, timezone = 'UTC'): Schedule {
  const problem = scheduleProblem(expression) ?? timezoneProblem(timezone);
  if (problem)
    throw new ConfigError([{ message: `schedule "${expression}" (timezone ${timezone}): ${problem}` }]);
  const rate = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(expression);
  if (rate) {
    return { kind: 'rate', expression, everyMs: Number(rate[1]) * (UNIT_MS[rate[2] as string] as number) };
  }
  const at = /^at\((.+)\)$/.exec(expression);
  if (at) {
    // A one-time schedule: croner reads an ISO local time in the given zone and fires once.
    const once = new Cron(at[1] as string, { timezone, allowPast: true, paused: true });
    return { kind: 'at', expression, timezone, at: once.nextRun() };
  }
  const body = (/^cron\((.*)\)$/.exec(expression)?.[1] ?? '').trim().split(/\s+/);
  const [minutes, hours, dom, month, dow, year] = body as [string, string, string, string, string, string];
  const weekdays = dow
    .split(',')
    .map((item) => (item === 'L' ? '7' : item.replace(/^(\w+)L$/, '$1#L')))
    .join(',');
  const pattern = `0 ${minutes} ${hours} ${dom} ${month} ${weekdays} ${year}`;
  try {
    const cron = new Cron(pattern, {
      timezone,
      mode: '7-part',
      alternativeWeekdays: true,
      domAndDow: true,
      // AWS writes steps as `0/15`; croner calls those "sloppy ranges".
      sloppyRanges: true,
      paused: true,
    });
    return { kind: 'cron', expression, timezone, cron };
  } catch (err) {
    throw new ConfigError([{ message: `schedule "${expression}": ${(err as Error).message}` }]);
  }
}

/**
 * The next `n` firing times strictly after `from`. A rate schedule counts its periods from
 * `anchor` (when the schedule was created; default `from`), as EventBridge Scheduler does.
 */
export function nextRuns(schedule: Schedule, n: number, from: Date, anchor: Date = from): Date[] {
  const out: Date[] = [];
  if (n <= 0) return out;
  switch (schedule.kind) {
    case 'rate': {
      const periods = Math.floor((from.getTime() - anchor.getTime()) / schedule.everyMs) + 1;
      for (let k = Math.max(1, periods); out.length < n; k++) {
        out.push(new Date(anchor.getTime() + k * schedule.everyMs));
      }
      return out;
    }
    case 'at':
      return schedule.at && schedule.at.getTime() > from.getTime() ? [schedule.at] : [];
    case 'cron':
      return schedule.cron.nextRuns(n, from);
  }
}

/** Missed fires are counted one by one up to this many; past it, only the latest is added. */
const MISSED_COUNTED = 1000;

/**
 * The fire times due after `after` and at or before `until`, oldest first: what nothing fired
 * while the scheduler was stopped or the job paused. Past MISSED_COUNTED times, the rest are
 * represented by the latest alone (`fire_once_now` needs only that one).
 *
 * @example missedFires(parseSchedule('rate(1 hour)'), lastFire, new Date(), lastFire)
 */
export function missedFires(schedule: Schedule, after: Date, until: Date, anchor: Date = after): Date[] {
  const missed: Date[] = [];
  let from = after;
  while (missed.length < MISSED_COUNTED) {
    const [next] = nextRuns(schedule, 1, from, anchor);
    if (next === undefined || next.getTime() > until.getTime()) return missed;
    missed.push(next);
    from = next;
  }
  const latest = latestDue(schedule, until, anchor);
  if (latest !== undefined && latest.getTime() > from.getTime()) missed.push(latest);
  return missed;
}

function latestDue(schedule: Schedule, until: Date, anchor: Date): Date | undefined {
  switch (schedule.kind) {
    case 'rate': {
      const periods = Math.floor((until.getTime() - anchor.getTime()) / schedule.everyMs);
      return periods < 1 ? undefined : new Date(anchor.getTime() + periods * schedule.everyMs);
    }
    case 'at':
      return schedule.at && schedule.at.getTime() <= until.getTime() ? schedule.at : undefined;
    case 'cron':
      return schedule.cron.previousRuns(1, new Date(until.getTime() + 1))[0];
  }
}

/** A job's tick: the batch a firing puts into its flow's first queue (the same one EventBridge Scheduler sends). */
export function tickBatch(job: JobSpec, scheduledAt: Date): StepBatch {
  return envelopeToBatch(
    tickEnvelope({
      flowId: job.flowId,
      jobId: job.jobId,
      scheduledTime: schedulerTime(scheduledAt),
      ...(job.rows === undefined ? {} : { rows: job.rows }),
      params: job.params,
    }),
  );
}

export interface SchedulerOptions {
  /** Jobs of this project run when both the job and its flow are enabled. */
  readonly project: ProjectConfig;
  /** Puts a tick into the job's flow (the dev stack sends it to the flow's first queue). */
  readonly send: (job: JobSpec, tick: StepBatch) => Promise<void>;
  /** A firing whose send failed, or a job state that could not be read; the schedule carries on. @default - ignored */
  readonly onError?: (error: unknown, job: JobSpec) => void;
  /** Called after each successful firing. */
  readonly onFire?: (job: JobSpec, tick: StepBatch) => void;
  /** @default Date.now */
  readonly now?: () => number;
  /**
   * With a ledger, each fire starts a run through `fireJob` (the job's overlap policy against the
   * run holding it, `shards: N` → N tick batches with `meta.shard`) and `onOutcome` hears what it
   * did; the job's state there is honoured (a paused job does not fire) and missed fires are
   * counted from the ledger's last fire, across restarts. @default - ticks are sent with no run
   * recorded, no pause, and missed fires counted from the scheduler's start only
   */
  readonly ledger?: RunLedger;
  readonly onOutcome?: (job: JobSpec, outcome: FireOutcome) => void;
  /** Fires found missed (stopped, paused, the process asleep), and what the job's misfire policy made of them. */
  readonly onMissed?: (job: JobSpec, decision: MisfireDecision) => void;
  /**
   * How often each job's state is read from the ledger (a resume is noticed within this) and the
   * longest the timer sleeps, so that a clock that jumps is noticed too. @default 5000
   */
  readonly checkMs?: number;
  /** A fire handled later than this after its time is a missed fire (the machine slept). @default 60000 */
  readonly lateMs?: number;
  /**
   * Hands each fire on instead (`kisflow dev` puts a `fire` message on its control queue, as
   * EventBridge Scheduler does on AWS: job control then starts the run). @default - as above
   */
  readonly fire?: (job: JobSpec, scheduledAt: Date, trigger: 'schedule' | 'misfire') => Promise<void>;
}

export interface Scheduler {
  /** Cancels every pending firing and waits for firings in progress. */
  stop(): Promise<void>;
  /** The next `n` firing times of a job, from now. @throws ConfigError for an unknown job id. */
  nextRuns(jobId: string, n: number): Date[];
  /** Resolves once every job has made its start-time misfire check. */
  readonly ready: Promise<void>;
}

// setTimeout holds at most 2^31-1 ms (~24.8 days); longer waits are taken in hops.
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

interface Entry {
  readonly job: JobSpec;
  readonly schedule: Schedule;
  /** Where a rate schedule counts its periods from: the last fire the ledger knows, else the start. */
  anchor: Date;
  /** The latest fire time handled (fired, or missed and decided). */
  handled: Date;
  paused: boolean;
}

/**
 * The local stand-in for EventBridge Scheduler: a timer per job that puts a tick batch (the
 * job's `rows`, default `[{ job_id, scheduled_at }]`, with the job's params as flow metadata) into
 * its flow's first queue at each firing time, in the job's time zone.
 *
 * With a ledger it also plays the parts EventBridge Scheduler leaves to us: a job paused there
 * (`kisflow jobs pause`) does not fire, and fires that were due while nothing fired them (the
 * scheduler stopped, the job paused, the machine asleep) go through the job's `misfire` policy
 * when the scheduler starts, when the job is resumed, and when a wake-up finds them: `skip`, or
 * one run with trigger `misfire` for the latest of them (its run id derives from that time, so two
 * processes recovering at once start one run).
 *
 * @throws ConfigError when a job's schedule or time zone is invalid (all jobs are checked first).
 * @example
 * const scheduler = startScheduler({ project, send: (job, tick) => transport.send(firstQueue(job), tick) });
 * scheduler.nextRuns('nightly', 3);
 * await scheduler.stop();
 */
export function startScheduler(options: SchedulerOptions): Scheduler {
  const { project, send, onError = () => {}, onFire = () => {}, now = Date.now, ledger } = options;
  const onOutcome = options.onOutcome ?? (() => {});
  const onMissed = options.onMissed ?? (() => {});
  const checkMs = options.checkMs ?? 5000;
  const lateMs = options.lateMs ?? 60_000;
  const started = new Date(now());
  const jobs = new Map<string, Entry>();
  const issues: { file?: string; line?: number; col?: number; message: string }[] = [];
  for (const job of project.jobs.values()) {
    if (!job.enabled || project.flows.get(job.flowId)?.enabled !== true) continue;
    try {
      const schedule = parseSchedule(job.schedule, job.timezone);
      jobs.set(job.jobId, { job, schedule, anchor: started, handled: started, paused: false });
    } catch (err) {
      for (const issue of (err as ConfigError).issues ?? [{ message: String(err) }]) {
        issues.push({ ...job.at, message: `job '${job.jobId}': ${issue.message}` });
      }
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);

  let stopped = false;
  const sleepers = new Set<() => void>();
  const inFlight = new Set<Promise<void>>();
  const track = (work: Promise<void>, job: JobSpec) => {
    const firing = work.catch((err) => onError(err, job));
    inFlight.add(firing);
    void firing.finally(() => inFlight.delete(firing));
  };

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, Math.min(MAX_TIMEOUT_MS, Math.max(0, ms)));
      sleepers.add(wake);
    });

  const fire = async (entry: Entry, scheduledAt: Date, trigger: 'schedule' | 'misfire') => {
    if (options.fire !== undefined) {
      await options.fire(entry.job, scheduledAt, trigger);
      return;
    }
    if (ledger === undefined) {
      const tick = tickBatch(entry.job, scheduledAt);
      await send(entry.job, tick);
      onFire(entry.job, tick);
      return;
    }
    const outcome = await fireJob(ledger, { job: entry.job, scheduledAt, trigger });
    if (outcome.kind === 'started') {
      for (const tick of fireBatches(entry.job, outcome)) {
        await send(entry.job, tick);
        onFire(entry.job, tick);
      }
    }
    onOutcome(entry.job, outcome);
  };

  /** Reads the job's state; a resume moves `handled` up to the ledger's last fire (another process may have fired). */
  const readState = async (entry: Entry): Promise<void> => {
    if (ledger === undefined) return;
    try {
      const state = await ledger.jobState(entry.job.jobId);
      if (state.lastFire !== undefined && state.lastFire > entry.handled.getTime()) {
        entry.handled = new Date(state.lastFire);
      }
      entry.paused = state.state === 'paused';
    } catch (err) {
      onError(err, entry.job);
    }
  };

  /** Every fire due since the last one handled: on time, fired; late or several, the misfire policy. */
  const handleDue = (entry: Entry): void => {
    const due = missedFires(entry.schedule, entry.handled, new Date(now()), entry.anchor);
    const latest = due.at(-1);
    if (latest === undefined) return;
    entry.handled = latest;
    if (due.length === 1 && now() - latest.getTime() <= lateMs) {
      track(fire(entry, latest, 'schedule'), entry.job);
      return;
    }
    const decision = decideMisfire(entry.job.misfire ?? 'skip', due);
    onMissed(entry.job, decision);
    if (decision.fire) track(fire(entry, decision.scheduledAt, 'misfire'), entry.job);
  };

  const loop = async (entry: Entry, first: () => void): Promise<void> => {
    if (ledger !== undefined) {
      // The last fire before a restart is where missed fires start; rate schedules keep its cadence.
      const { lastFire } = await ledger.jobState(entry.job.jobId);
      if (lastFire !== undefined && lastFire < started.getTime()) {
        entry.handled = new Date(lastFire);
        entry.anchor = entry.handled;
      }
      await readState(entry);
    }
    if (!entry.paused) handleDue(entry);
    first();
    while (!stopped) {
      const [next] = nextRuns(entry.schedule, 1, entry.handled, entry.anchor);
      if (next === undefined && ledger === undefined) return;
      // Paused, the due fire stays due: only the state is worth checking.
      await sleep(entry.paused || next === undefined ? checkMs : Math.min(checkMs, next.getTime() - now()));
      if (stopped) return;
      // Fires due while paused stay unhandled: on resume they are missed fires.
      await readState(entry);
      if (!entry.paused) handleDue(entry);
    }
  };

  const loops: Promise<void>[] = [];
  const checked: Promise<void>[] = [];
  for (const entry of jobs.values()) {
    let first: () => void = () => {};
    checked.push(new Promise<void>((resolve) => (first = resolve)));
    loops.push(
      loop(entry, first).catch((err) => {
        first();
        onError(err, entry.job);
      }),
    );
  }
  const ready = Promise.all(checked).then(() => {});

  return {
    ready,
    async stop() {
      stopped = true;
      for (const wake of [...sleepers]) wake();
      await Promise.allSettled(loops);
      await Promise.allSettled([...inFlight]);
    },
    nextRuns(jobId, n) {
      const entry = jobs.get(jobId);
      if (!entry) {
        throw new ConfigError([
          { message: `no running job '${jobId}'; running: ${[...jobs.keys()].join(', ') || 'none'}` },
        ]);
      }
      return nextRuns(entry.schedule, n, new Date(now()), entry.anchor);
    },
  };
}
