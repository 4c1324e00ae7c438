import { ConnectorError, InfrastructureError, isRetryable, KisFlowError, StepError } from '../errors.ts';
import type { Row } from '../ports.ts';
import { AttemptContext } from './attempt-context.ts';
import type { BatchScope } from './batch-scope.ts';

/** Thrown out of an attempt that resolved after its step ran out of time: nothing may follow it. */
export class Abandoned extends Error {}

/** Errors of the world under the engine: the whole message is retried, never blamed on rows. */
function propagates(err: unknown): boolean {
  return err instanceof InfrastructureError || err instanceof ConnectorError || err instanceof Abandoned;
}

/**
 * An error that declares itself not retryable (a key field missing, a bad committed row, state
 * not declared...) fails the same way every time: the row is rejected with its code at once.
 */
function final(err: unknown): err is KisFlowError {
  return err instanceof KisFlowError && !isRetryable(err);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const OK = Symbol('ok');

/**
 * Calls the function on the rows; on success its results join the batch's, on failure nothing
 * remains of it and the error is returned.
 */
async function attempt(scope: BatchScope, originals: Row[], inputs: Row[]): Promise<unknown> {
  const ctx = new AttemptContext(scope, inputs, originals);
  scope.current = ctx;
  let accepted = false;
  try {
    // The function gets its own array: it may sort or filter it in place, and the rows can still
    // be re-run to isolate a failure. (The rows themselves are shared: see StepRunner.)
    await scope.bound.fn.handler(inputs.slice(), ctx);
    if (scope.abandoned) throw new Abandoned();
    ctx.checkCommits();
    scope.accept(ctx, originals);
    accepted = true;
    return OK;
  } catch (err) {
    if (propagates(err)) throw err;
    scope.errors++;
    return err;
  } finally {
    ctx.close(accepted);
  }
}

/**
 * The isolation phase: runs the function on the admitted rows; when it throws, finds the failing
 * rows by bisection, so the others go on. A half is not run whole when its sibling succeeded, as
 * the failure is then known to be in it: one failing row among n costs about 1.5 n rows of wasted
 * work instead of 2 n. A row is always run alone before it is blamed (a flaky failure of a larger
 * attempt never rejects a row), then retried `retry_times` more times, then rejected with the
 * error's reason (`FUNCTION_ERROR`, or the code of an error that declares itself not retryable,
 * which is not retried).
 *
 * @throws StepError `FUNCTION_ERROR` when the function fails on an empty batch;
 *   InfrastructureError / ConnectorError thrown in the function, as they are.
 */
export async function isolate(scope: BatchScope, originals: Row[], inputs: Row[]): Promise<void> {
  const error = await attempt(scope, originals, inputs);
  if (error !== OK) await settle(scope, originals, inputs, error, true);
}

/** Rows known to fail together with `error` (`ran`: in an attempt of exactly these rows). */
async function settle(
  scope: BatchScope,
  originals: Row[],
  inputs: Row[],
  error: unknown,
  ran: boolean,
): Promise<void> {
  const n = inputs.length;
  if (n <= 1) return settleRow(scope, originals, inputs, error, ran);
  const mid = n >>> 1;
  const leftOriginals = originals.slice(0, mid);
  const leftInputs = inputs.slice(0, mid);
  const rightOriginals = originals.slice(mid);
  const rightInputs = inputs.slice(mid);
  const left = await attempt(scope, leftOriginals, leftInputs);
  if (left === OK) {
    // The whole failed and the left half did not: the failure is in the right half.
    await settle(scope, rightOriginals, rightInputs, error, false);
    return;
  }
  await settle(scope, leftOriginals, leftInputs, left, true);
  const right = await attempt(scope, rightOriginals, rightInputs);
  if (right === OK) return;
  await settle(scope, rightOriginals, rightInputs, right, true);
}

async function settleRow(
  scope: BatchScope,
  originals: Row[],
  inputs: Row[],
  error: unknown,
  ran: boolean,
): Promise<void> {
  let last = error;
  if (!ran) {
    last = await attempt(scope, originals, inputs);
    if (last === OK) return;
  }
  if (!final(last)) {
    for (let i = 0; i < scope.bound.step.func.retryTimes; i++) {
      scope.retries++;
      last = await attempt(scope, originals, inputs);
      if (last === OK) return;
    }
  }
  const { flow } = scope;
  if (inputs.length === 0) {
    throw new StepError(
      'FUNCTION_ERROR',
      `Function '${flow.fid}' failed on an empty batch (after forceNext): ${messageOf(last)}`,
      { flowId: flow.id, step: flow.step, fid: flow.fid, batchId: flow.batchId },
      { cause: last },
    );
  }
  // The framework's own row-level codes (MISSING_KEY_FIELD, BAD_ROW) say more than FUNCTION_ERROR.
  const code = final(last) ? last.code : 'FUNCTION_ERROR';
  scope.log.warn('row rejected after the function failed on it', { code, error: messageOf(last) });
  scope.reject(code, messageOf(last), originals[0] as Row);
}
