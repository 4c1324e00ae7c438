import { didYouMeanHint } from '../config/did-you-mean.ts';
import type { Row } from '../ports.ts';
import type { BatchScope } from './batch-scope.ts';

/**
 * The last phase of a step: where its emitted rows go. `abort()` ends the flow here; `jumpTo(fid)`
 * continues at the first step running `fid` (an unknown fid rejects the rows with
 * `UNKNOWN_JUMP_TARGET`); a step that emitted nothing ends the flow unless it called
 * `forceNext()`; otherwise the next step, or the flow's output after the last one.
 */
export function route(scope: BatchScope, emitted: Row[]): { next: number | null; emitted: Row[] } {
  const { plan, step } = scope.bound;
  if (scope.aborted) return { next: null, emitted };
  if (scope.jump !== undefined) {
    const next = plan.indexOf(scope.jump);
    if (next >= 0) return { next, emitted };
    const fids = plan.steps.map((s) => s.fid);
    const reason = `jumpTo('${scope.jump}'): flow '${scope.flow.id}' has no step '${scope.jump}'${didYouMeanHint(scope.jump, fids)}. Steps: ${[...new Set(fids)].map((f) => `'${f}'`).join(', ')}.`;
    for (const row of emitted) scope.reject('UNKNOWN_JUMP_TARGET', reason, row);
    return { next: null, emitted: [] };
  }
  if (emitted.length === 0 && !scope.forced) return { next: null, emitted };
  return { next: step.index + 1 < plan.steps.length ? step.index + 1 : null, emitted };
}
