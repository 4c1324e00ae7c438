import type { JobSpec, MisfirePolicy } from '../config/model.ts';
import type { Fire } from './fire-job.ts';
import type { JobState, RunLedger } from './run-ledger.ts';

export type MisfireDecision =
  | { readonly fire: false; readonly missed: number }
  | { readonly fire: true; readonly scheduledAt: Date; readonly missed: number };

/**
 * What to do about fires that were due while nothing could fire them (dev stopped, Scheduler
 * retries exhausted, job paused): `skip` drops them; `fire_once_now` starts ONE run (trigger
 * `misfire`) for the latest of them, however many were missed. The run id derives from that
 * time, so two processes recovering at once start one run.
 *
 * @param missed due times after the job's last fire and before now, in any order
 * @example decideMisfire('fire_once_now', [nine, ten]) // { fire: true, scheduledAt: ten, missed: 2 }
 */
export function decideMisfire(policy: MisfirePolicy, missed: readonly Date[]): MisfireDecision {
  if (missed.length === 0 || policy === 'skip') return { fire: false, missed: missed.length };
  const latest = missed.reduce((a, b) => (b.getTime() > a.getTime() ? b : a));
  return { fire: true, scheduledAt: latest, missed: missed.length };
}

/**
 * The schedule time of a job's latest fire the ledger knows (skipped fires included: they were
 * handled), or undefined when it has none.
 */
export async function lastFireAt(ledger: RunLedger, jobId: string): Promise<Date | undefined> {
  const { lastFire } = await ledger.jobState(jobId);
  return lastFire === undefined ? undefined : new Date(lastFire);
}

export interface MisfireCheck {
  readonly decision: MisfireDecision;
  /** Set when the policy calls for a run: give it to `fireJob`. */
  readonly fire?: Fire;
  /** The state read (a paused job has nothing to recover until it is resumed). */
  readonly state: JobState;
}

/**
 * A job's misfire check, as the scheduler makes it when it starts and when the job is resumed:
 * the fires due between the ledger's last fire and now (`dueAfter`, which knows the schedule)
 * through the job's policy (default `skip`). A paused job, or one that never fired, has none.
 *
 * @example
 * const { fire } = await checkMisfire(ledger, job, (last) => missedFires(schedule, last, now));
 * if (fire) await fireJob(ledger, fire);
 */
export async function checkMisfire(
  ledger: RunLedger,
  job: JobSpec,
  dueAfter: (lastFire: Date) => readonly Date[],
): Promise<MisfireCheck> {
  const state = await ledger.jobState(job.jobId);
  if (state.state === 'paused' || state.lastFire === undefined) {
    return { decision: { fire: false, missed: 0 }, state };
  }
  const decision = decideMisfire(job.misfire ?? 'skip', dueAfter(new Date(state.lastFire)));
  if (!decision.fire) return { decision, state };
  return { decision, state, fire: { job, scheduledAt: decision.scheduledAt, trigger: 'misfire' } };
}
