import type { OverlapPolicy } from '../config/model.ts';

/** What a fire does when another run of its job holds the job. */
export type OverlapDecision =
  | { readonly action: 'queue'; readonly behind: string }
  | { readonly action: 'skip'; readonly reason: string }
  | { readonly action: 'cover'; readonly cancel: string; readonly reason: string };

/**
 * XXL-JOB's blocking policies, decided against the run holding the job in the ledger (so for
 * the whole deployment, not per machine): `serial` queues the fire behind it, `discard_later`
 * skips the fire, `cover_early` cancels the running one so the new one can start.
 */
export function decideOverlap(policy: OverlapPolicy, holder: string, fireRunId: string): OverlapDecision {
  switch (policy) {
    case 'serial':
      return { action: 'queue', behind: holder };
    case 'discard_later':
      return {
        action: 'skip',
        reason: `run ${holder} of this job is still running (overlap: discard_later)`,
      };
    case 'cover_early':
      return {
        action: 'cover',
        cancel: holder,
        reason: `covered by run ${fireRunId} (overlap: cover_early)`,
      };
  }
}
