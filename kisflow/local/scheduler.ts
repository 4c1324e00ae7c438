import { Cron } from 'croner';
import type { JobSpec, ProjectConfig } from '../config/model.ts';
import { scheduleProblem, timezoneProblem } from '../config/schedule.ts';
import { ConfigError } from '../errors.ts';
import type { StepBatch } from '../ports.ts';
import { type FireOutcome, fireBatches, fireJob } from '../runs/fire-job.ts';
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
  /** A firing whose send failed; the schedule carries on. @default - ignored */
  readonly onError?: (error: unknown, job: JobSpec) => void;
  /** Called after each successful firing. */
  readonly onFire?: (job: JobSpec, tick: StepBatch) => void;
  /** @default Date.now */
  readonly now?: () => number;
  /**
   * With a ledger, each fire starts a run through `fireJob` (the job's overlap policy against the
   * run holding it, `shards: N` → N tick batches with `meta.shard`) and `onOutcome` hears what it
   * did. @default - ticks are sent with no run recorded
   */
  readonly ledger?: RunLedger;
  readonly onOutcome?: (job: JobSpec, outcome: FireOutcome) => void;
  /**
   * Hands each fire on instead (`kisflow dev` puts a `fire` message on its control queue, as
   * EventBridge Scheduler does on AWS: job control then starts the run). @default - as above
   */
  readonly fire?: (job: JobSpec, scheduledAt: Date) => Promise<void>;
}

export interface Scheduler {
  /** Cancels every pending firing and waits for firings in progress. */
  stop(): Promise<void>;
  /** The next `n` firing times of a job, from now. @throws ConfigError for an unknown job id. */
  nextRuns(jobId: string, n: number): Date[];
}

// setTimeout holds at most 2^31-1 ms (~24.8 days); longer waits are taken in hops.
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * The local stand-in for EventBridge Scheduler: a real timer per job that puts a tick batch (the
 * job's `rows`, default `[{ job_id, scheduled_at }]`, with the job's params as flow metadata) into
 * its flow's first queue at each firing time, in the job's time zone.
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
  const started = new Date(now());
  const jobs = new Map<string, { job: JobSpec; schedule: Schedule }>();
  const issues: { file?: string; line?: number; col?: number; message: string }[] = [];
  for (const job of project.jobs.values()) {
    if (!job.enabled || project.flows.get(job.flowId)?.enabled !== true) continue;
    try {
      jobs.set(job.jobId, { job, schedule: parseSchedule(job.schedule, job.timezone) });
    } catch (err) {
      for (const issue of (err as ConfigError).issues ?? [{ message: String(err) }]) {
        issues.push({ ...job.at, message: `job '${job.jobId}': ${issue.message}` });
      }
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);

  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();
  const inFlight = new Set<Promise<void>>();

  const wait = (at: number, then: () => void) => {
    const timer = setTimeout(
      () => {
        timers.delete(timer);
        if (stopped) return;
        if (now() < at) wait(at, then);
        else then();
      },
      Math.min(MAX_TIMEOUT_MS, Math.max(0, at - now())),
    );
    timers.add(timer);
  };

  const plan = (entry: { job: JobSpec; schedule: Schedule }, after: Date) => {
    const [next] = nextRuns(entry.schedule, 1, after, started);
    if (!next || stopped) return;
    wait(next.getTime(), () => {
      const fire = async () => {
        if (options.fire !== undefined) {
          await options.fire(entry.job, next);
          return;
        }
        if (ledger === undefined) {
          const tick = tickBatch(entry.job, next);
          await send(entry.job, tick);
          onFire(entry.job, tick);
          return;
        }
        const outcome = await fireJob(ledger, { job: entry.job, scheduledAt: next, trigger: 'schedule' });
        if (outcome.kind === 'started') {
          for (const tick of fireBatches(entry.job, outcome)) {
            await send(entry.job, tick);
            onFire(entry.job, tick);
          }
        }
        onOutcome(entry.job, outcome);
      };
      const firing = fire().catch((err) => onError(err, entry.job));
      inFlight.add(firing);
      void firing.finally(() => inFlight.delete(firing));
      // The next firing follows the one just due, so a slow send never makes the schedule drift.
      plan(entry, next);
    });
  };

  for (const entry of jobs.values()) plan(entry, started);

  return {
    async stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await Promise.allSettled([...inFlight]);
    },
    nextRuns(jobId, n) {
      const entry = jobs.get(jobId);
      if (!entry) {
        throw new ConfigError([
          { message: `no running job '${jobId}'; running: ${[...jobs.keys()].join(', ') || 'none'}` },
        ]);
      }
      return nextRuns(entry.schedule, n, new Date(now()), started);
    },
  };
}
