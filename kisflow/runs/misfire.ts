import type { MisfirePolicy } from '../config/model.ts';
import type { RunLedger } from './run-ledger.ts';

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
 * handled), or undefined when it has none in its retention window.
 */
export async function lastFireAt(ledger: RunLedger, jobId: string): Promise<Date | undefined> {
  const runs = await ledger.list({ jobId });
  const times = runs.flatMap((r) => (r.scheduledAt === undefined ? [] : [r.scheduledAt]));
  return times.length === 0 ? undefined : new Date(Math.max(...times));
}
