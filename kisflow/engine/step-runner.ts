import { prettifyError } from 'zod';
import { didYouMeanHint } from '../config/did-you-mean.ts';
import type { Params } from '../config/model.ts';
import { flowMetricLabel, stepMetricLabel } from '../config/names.ts';
import {
  ConnectorError,
  EnvelopeError,
  InfrastructureError,
  RowRejectedError,
  StepError,
} from '../errors.ts';
import type { Log, MetricDimensions, Metrics, RejectedRow, Row, StepBatch } from '../ports.ts';
import { AttemptContext, type AttemptScope } from './attempt-context.ts';
import { defaultClock, type EngineDeps, logWith, noLog } from './deps.ts';
import type { FlowInfo, FunctionCache, FunctionMetrics, KisFunction } from './function.ts';
import { StepCache } from './function-cache.ts';
import { BatchState } from './keyed-state.ts';
import { compileMustCheck, isPresent } from './must-check.ts';
import type { FlowPlan, PlannedStep } from './plan.ts';
import type { Registry } from './registry.ts';
import { type PendingSave, StepConnector } from './step-connector.ts';

/** What one step did with one batch. */
export interface StepOutcome {
  /** The rows for `next` (or the flow's output when `next` is null). */
  readonly emitted: Row[];
  /** Step index to send `emitted` to; null: the flow ends here and `emitted` is its output. */
  readonly next: number | null;
  readonly rejected: RejectedRow[];
  /** The batch's metadata after this step: carry it to the next batch. */
  readonly meta: Record<string, unknown>;
  /** The function called `abort()`. */
  readonly aborted: boolean;
  readonly stats: {
    readonly in: number;
    readonly out: number;
    readonly rejected: number;
    readonly ms: number;
  };
}

/** Errors of the world under the engine: the whole message is retried, never blamed on rows. */
function propagates(err: unknown): boolean {
  return err instanceof InfrastructureError || err instanceof ConnectorError;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Per-batch bookkeeping; also the scope every attempt of the batch reads. */
class BatchWork implements AttemptScope {
  readonly flowId: string;
  readonly fid: string;
  readonly step: number;
  readonly params: Params;
  readonly flow: FlowInfo;
  readonly cache: FunctionCache;
  readonly metrics: FunctionMetrics;
  readonly log: Log;
  readonly connector: StepConnector | undefined;
  readonly rejected: RejectedRow[] = [];
  /** Output of accepted attempts, in input order. */
  readonly parts: Row[][] = [];
  meta: Record<string, unknown>;
  aborted = false;
  forced = false;
  jump: string | undefined;
  saves: PendingSave[] | undefined;
  state: BatchState | undefined;
  errors = 0;
  retries = 0;
  readonly #runner: StepRunner;

  constructor(runner: StepRunner, batch: StepBatch, log: Log) {
    const step = runner.step;
    this.#runner = runner;
    this.flowId = batch.flowId;
    this.fid = step.fid;
    this.step = step.index;
    this.params = step.params;
    this.flow = {
      id: batch.flowId,
      name: runner.plan.flow.flowName,
      runId: batch.runId,
      batchId: batch.batchId,
      step: step.index,
      fid: step.fid,
    };
    this.cache = runner.cache;
    this.metrics = runner.functionMetrics;
    this.log = log;
    this.connector = runner.connector;
    // Replaced, never written: each attempt works on its own copy (see StepRunner.#attempt).
    this.meta = batch.meta as Record<string, unknown>;
  }

  batchState(): BatchState {
    this.state ??= new BatchState(this.#runner.deps.state, this.#runner.stateScope, this.flow.batchId);
    return this.state;
  }

  reject(code: string, reason: string, row: Row): void {
    this.rejected.push({ flowId: this.flowId, step: this.step, fid: this.fid, code, reason, row });
  }

  /** Takes in an attempt that succeeded on `originals` (the rows as they entered the step). */
  accept(ctx: AttemptContext, originals: Row[]): void {
    // reuse: the input goes on. jumpTo without commits: the input goes to the target, as the
    // previous step's output would in KisFlow (see StepRunner). `originals` may be the caller's
    // input array: emit a copy of it.
    const out = ctx.reused || (ctx.jump !== undefined && ctx.out.length === 0) ? originals.slice() : ctx.out;
    if (out.length > 0) this.parts.push(out);
    if (ctx.rejected !== undefined) for (const r of ctx.rejected) this.rejected.push(r);
    this.meta = ctx.meta;
    if (ctx.aborted) this.aborted = true;
    if (ctx.forced) this.forced = true;
    if (ctx.jump !== undefined) {
      if (this.jump !== undefined && this.jump !== ctx.jump) {
        this.log.warn('jumpTo called with different targets in one batch; the first wins', {
          first: this.jump,
          ignored: ctx.jump,
        });
      } else {
        this.jump = ctx.jump;
      }
    }
    ctx.attemptState?.commit();
    if (ctx.attemptConnector !== undefined && ctx.attemptConnector.saves.length > 0) {
      this.saves ??= [];
      for (const s of ctx.attemptConnector.saves) this.saves.push(s);
    }
  }

  emitted(): Row[] {
    if (this.parts.length === 1) return this.parts[0] as Row[];
    return this.parts.length === 0 ? [] : this.parts.flat();
  }
}

/**
 * Runs one step of a flow on batches. Create one per process (a Lambda container, a local run) and
 * reuse it: it holds the function, its cache and its connector binding; `run` keeps no state
 * between calls except the cache.
 *
 * Per batch, KisFlow's semantics with the framework's mode behaviour around the user function:
 * - Verify rejects rows lacking a `source.must` field (`MISSING_FIELD`) before the function runs;
 *   a function's zod `input` schema rejects rows that do not parse (`INVALID_ROW`), in any mode,
 *   and the function gets the parsed rows; the first step also rejects rows that are not objects
 *   (`INVALID_ROW`; later steps get rows committed through `ctx.commit`, which are checked). When
 *   no row is left, the function is not called.
 * - The function's commits are the output; `reuse()` passes the input on instead; `reject(row,
 *   reason)` routes a row out (`REJECTED_BY_FUNCTION`); `abort()` ends the flow after this step;
 *   a step that emits nothing ends the flow unless it called `forceNext()`.
 * - `jumpTo(fid)` continues at the first step running `fid` (an unknown fid rejects the rows with
 *   `UNKNOWN_JUMP_TARGET`). **Serverless change:** in KisFlow the target gets the rows the step
 *   before *it* last emitted; a Lambda step cannot see another step's past output, so the target
 *   gets the rows this step committed, or this step's input if it committed none.
 * - Save writes the committed rows (or the input on `reuse()`) to the connector once the function
 *   succeeded; rows lacking a key field are rejected (`MISSING_KEY_FIELD`), not saved, not passed on.
 *   Connector saves and state writes of the function are applied once, after it succeeded, with
 *   deterministic item keys and the batch id: a redelivered batch changes nothing twice. (A Save
 *   function only commits; calling `ctx.connector.save` as well would store the rows twice.)
 * - `abort()` ends the flow after this step: `next` is null and what the step emitted is the
 *   flow's output.
 * - A function that throws is re-run on halves of the batch until the failing rows are alone; a
 *   row failing alone is retried `retry_times` more times, at once (`retry_duration` is the
 *   transport's delay before redelivering a failed message), then rejected (`FUNCTION_ERROR`, with
 *   the error message; a RowRejectedError or StepError thrown for a row keeps its own code and is
 *   not retried). What failed attempts committed, saved or set is dropped; the other rows
 *   go on. Errors of the stores (InfrastructureError, ConnectorError) are not isolated: they
 *   propagate out of `run`, and the transport retries the whole message.
 *
 * Functions must treat their input as read-only: commit new row objects rather than changing the
 * given ones (a failed attempt's changes could not be undone before the rows are re-run), and copy
 * the `rows` array before sorting or filtering it in place (it is the batch's own array, passed
 * without a copy for speed; `reuse()` passes it on as the function leaves it, and a function that
 * adds or removes its elements and then throws fails the batch with StepError `ROWS_MUTATED`).
 *
 * @example
 * const runner = new StepRunner(plan, 0, registry, { store, state });
 * const outcome = await runner.run({ flowId: 'orders', step: 0, runId, batchId, rows, meta: {} });
 */
export class StepRunner {
  readonly plan: FlowPlan;
  readonly step: PlannedStep;
  readonly deps: EngineDeps;
  /** The function-level cache: lives as long as this runner. */
  readonly cache: FunctionCache;
  readonly connector: StepConnector | undefined;
  readonly functionMetrics: FunctionMetrics;
  /** Keyed state scope: `${flowId}/${fid}`. */
  readonly stateScope: string;
  readonly #fn: KisFunction;
  readonly #metrics: Metrics | undefined;
  readonly #dims: MetricDimensions;
  readonly #log: Log;
  readonly #verify: readonly string[];
  readonly #admissible: (row: Row) => boolean;

  /**
   * @throws StepError `FUNCTION_NOT_REGISTERED` when the registry lacks the step's function,
   *   `UNKNOWN_STEP` for an index outside the flow; ConnectorError `NO_CONNECTOR` for a Save step
   *   whose function has no connector.
   */
  constructor(plan: FlowPlan, stepIndex: number, registry: Registry, deps: EngineDeps) {
    const step = plan.steps[stepIndex];
    if (step === undefined) {
      throw new StepError(
        'UNKNOWN_STEP',
        `Flow '${plan.flow.flowId}' has no step ${stepIndex}; its steps are 0..${plan.steps.length - 1}.`,
        { flowId: plan.flow.flowId, step: stepIndex },
      );
    }
    this.plan = plan;
    this.step = step;
    this.deps = deps;
    this.#fn = registry.getFunction(step.fid);
    this.cache = new StepCache(deps.clock ?? defaultClock);
    this.connector = step.conn === undefined ? undefined : new StepConnector(step.conn, deps.store, registry);
    if (step.func.fmode === 'Save' && this.connector === undefined) {
      throw new ConnectorError(
        'NO_CONNECTOR',
        `Function '${step.fid}' has fmode Save but no connector to save to: set option.cid in its \`kistype: func\` config.`,
        { flowId: plan.flow.flowId, step: stepIndex, fid: step.fid },
      );
    }
    this.stateScope = `${plan.flow.flowId}/${step.fid}`;
    this.#metrics = deps.metrics;
    this.#dims = Object.freeze({
      flow: flowMetricLabel(plan.flow.flowId),
      step: stepMetricLabel(stepIndex, step.fid),
    });
    const metrics = deps.metrics;
    const dims = this.#dims;
    this.functionMetrics = {
      count: metrics === undefined ? () => {} : (name, value = 1) => metrics.count(name, value, dims),
    };
    this.#log = deps.log ?? noLog;
    this.#verify = step.func.fmode === 'Verify' ? step.func.source.must : [];
    this.#admissible = compileMustCheck(this.#verify);
  }

  /**
   * Runs the step's function on a batch.
   *
   * @throws InfrastructureError / ConnectorError when a store or connector fails (retry the message);
   *   EnvelopeError `BATCH_MISMATCH` when the batch is addressed to another flow or step;
   *   StepError `FUNCTION_ERROR` when the function keeps failing on a batch with no rows,
   *   `ROWS_MUTATED` (see above), `BAD_INPUT_SCHEMA` for an asynchronous zod input schema.
   */
  async run(batch: StepBatch): Promise<StepOutcome> {
    const started = performance.now();
    const { step } = this;
    if (batch.flowId !== this.plan.flow.flowId || batch.step !== step.index) {
      throw new EnvelopeError(
        'BATCH_MISMATCH',
        `A batch for flow '${batch.flowId}' step ${batch.step} reached the runner of flow '${this.plan.flow.flowId}' step ${step.index} ('${step.fid}').`,
        { flowId: batch.flowId, step: batch.step },
      );
    }
    const log =
      this.#log === noLog
        ? noLog
        : logWith(this.#log, () => ({
            flow: batch.flowId,
            step: step.index,
            fid: step.fid,
            runId: batch.runId,
            batchId: batch.batchId,
          }));
    const work = new BatchWork(this, batch, log);
    const { originals, inputs } = this.#admit(batch.rows, work);

    // A batch whose every row was refused at the door has nothing for the function; an empty batch
    // (sent on by forceNext) still runs it, as KisFlow does.
    if (inputs.length > 0 || batch.rows.length === 0) await this.#isolate(work, originals, inputs);

    let emitted = work.emitted();
    if (step.func.fmode === 'Save') emitted = this.#toSave(work, emitted);
    if (work.saves !== undefined) await (this.connector as StepConnector).write(batch.batchId, work.saves);
    if (work.state !== undefined) await work.state.flush();

    let next: number | null;
    if (work.aborted) {
      next = null;
    } else if (work.jump !== undefined) {
      next = this.plan.indexOf(work.jump);
      if (next < 0) {
        const fids = this.plan.steps.map((s) => s.fid);
        const reason = `jumpTo('${work.jump}'): flow '${batch.flowId}' has no step '${work.jump}'${didYouMeanHint(work.jump, fids)}. Steps: ${[...new Set(fids)].map((f) => `'${f}'`).join(', ')}.`;
        for (const row of emitted) work.reject('UNKNOWN_JUMP_TARGET', reason, row);
        emitted = [];
        next = null;
      }
    } else if (emitted.length === 0 && !work.forced) {
      next = null;
    } else {
      next = step.index + 1 < this.plan.steps.length ? step.index + 1 : null;
    }

    const ms = performance.now() - started;
    const metrics = this.#metrics;
    if (metrics !== undefined) {
      const dims = this.#dims;
      metrics.count('rows_in', batch.rows.length, dims);
      metrics.count('rows_out', emitted.length, dims);
      metrics.count('rows_rejected', work.rejected.length, dims);
      metrics.count('errors', work.errors, dims);
      if (work.retries > 0) metrics.count('retries', work.retries, dims);
      metrics.duration('duration', ms, dims);
    }
    return {
      emitted,
      next,
      rejected: work.rejected,
      meta: work.meta === batch.meta ? { ...batch.meta } : work.meta,
      aborted: work.aborted,
      stats: { in: batch.rows.length, out: emitted.length, rejected: work.rejected.length, ms },
    };
  }

  /** Input checks before user code: row shape, Verify's `source.must`, the zod `input` schema. */
  #admit(rows: readonly Row[], work: BatchWork): { originals: Row[]; inputs: Row[] } {
    const must = this.#verify;
    const n = rows.length;
    // Rows after the first step were committed through ctx.commit, which checked they are
    // objects; only rows entering the flow, and Verify's fields, need a look. The scan is fast and
    // almost every batch is clean: then the input array is used as is (never written to: see
    // BatchWork.accept) instead of being copied row by row.
    let i = must.length === 0 && this.step.index > 0 ? n : 0;
    const admissible = this.#admissible;
    while (i < n && admissible(rows[i] as Row)) i++;
    let originals: Row[];
    if (i === n) {
      originals = rows as Row[];
    } else {
      originals = rows.slice(0, i);
      for (; i < n; i++) {
        const row = rows[i] as Row;
        if (this.#admitOne(row, work)) originals.push(row);
      }
    }
    const schema = this.#fn.input;
    if (schema === undefined) return { originals, inputs: originals };
    const kept: Row[] = [];
    const inputs: Row[] = [];
    for (const row of originals) {
      let parsed: ReturnType<typeof schema.safeParse>;
      try {
        parsed = schema.safeParse(row);
      } catch (err) {
        // zod throws (instead of returning an issue) for async refinements in a sync parse.
        throw new StepError(
          'BAD_INPUT_SCHEMA',
          `The input schema of function '${this.step.fid}' cannot check a row: ${err instanceof Error ? err.message : String(err)}. Input schemas must be synchronous (no async refine/transform).`,
          { flowId: work.flowId, step: work.step, fid: work.fid },
          { cause: err },
        );
      }
      if (parsed.success) {
        kept.push(row);
        inputs.push(parsed.data);
      } else {
        work.reject('INVALID_ROW', prettifyError(parsed.error), row);
      }
    }
    return { originals: kept, inputs };
  }

  #admitOne(row: Row, work: BatchWork): boolean {
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      work.reject('INVALID_ROW', `A row must be a JSON object, received ${JSON.stringify(row)}.`, row);
      return false;
    }
    const must = this.#verify;
    const missing = must.filter((field) => !isPresent(row[field]));
    if (missing.length === 0) return true;
    work.reject(
      'MISSING_FIELD',
      `Missing required field${missing.length === 1 ? '' : 's'} ${missing.map((f) => `'${f}'`).join(', ')} (source.must of '${this.step.fid}': ${must.map((f) => `'${f}'`).join(', ')}).`,
      row,
    );
    return false;
  }

  /** Calls the function; on success its results join the batch's, on failure nothing remains of it. */
  async #attempt(work: BatchWork, originals: Row[], inputs: Row[]): Promise<void> {
    const ctx = new AttemptContext(work, { ...work.meta });
    await this.#fn.handler(inputs, ctx);
    ctx.checkCommits();
    work.accept(ctx, originals);
  }

  /** Runs the function on the rows; when it throws, bisects until failing rows are alone. */
  async #isolate(work: BatchWork, originals: Row[], inputs: Row[]): Promise<void> {
    let error: unknown;
    const n = inputs.length;
    try {
      // No defensive copy of the rows for the handler: on a clean batch it would be the engine's
      // largest per-row cost. Functions treat `rows` as read-only (see StepRunner); one that
      // shortened or grew it and then failed is caught below, as its rows can no longer be re-run.
      await this.#attempt(work, originals, inputs);
      return;
    } catch (err) {
      if (propagates(err)) throw err;
      error = err;
      work.errors++;
    }
    if (inputs.length !== n || originals.length !== n) {
      throw new StepError(
        'ROWS_MUTATED',
        `Function '${this.step.fid}' added or removed rows of its input array and then threw (${messageOf(error)}), so the rows it was given cannot be re-run to isolate the failure. Treat \`rows\` as read-only: copy it before sorting or filtering (\`[...rows]\`).`,
        { flowId: work.flowId, step: work.step, fid: work.fid, batchId: work.flow.batchId },
        { cause: error },
      );
    }
    if (n > 1) {
      const mid = n >>> 1;
      await this.#isolate(work, originals.slice(0, mid), inputs.slice(0, mid));
      await this.#isolate(work, originals.slice(mid), inputs.slice(mid));
      return;
    }
    // A row the framework itself refused (a key field missing, a bad committed row) fails the same
    // way every time: no retry.
    if (!(error instanceof RowRejectedError || error instanceof StepError)) {
      for (let i = 0; i < this.step.func.retryTimes; i++) {
        work.retries++;
        try {
          await this.#attempt(work, originals, inputs.slice());
          return;
        } catch (err) {
          if (propagates(err)) throw err;
          error = err;
          work.errors++;
        }
      }
    }
    if (n === 0) {
      throw new StepError(
        'FUNCTION_ERROR',
        `Function '${this.step.fid}' failed on an empty batch (after forceNext): ${messageOf(error)}`,
        { flowId: work.flowId, step: work.step, fid: work.fid, batchId: work.flow.batchId },
        { cause: error },
      );
    }
    // The framework's own row-level codes (MISSING_KEY_FIELD, BAD_ROW) say more than FUNCTION_ERROR.
    const code =
      error instanceof RowRejectedError || error instanceof StepError ? error.code : 'FUNCTION_ERROR';
    work.log.warn('row rejected after the function failed on it', { code, error: messageOf(error) });
    work.reject(code, messageOf(error), originals[0] as Row);
  }

  /** Save mode: the rows to store, minus those lacking a key field (rejected). */
  #toSave(work: BatchWork, rows: Row[]): Row[] {
    const connector = this.connector as StepConnector;
    work.saves ??= [];
    const saves = work.saves;
    const kept: Row[] = [];
    for (const row of rows) {
      let key: string;
      try {
        key = connector.keyFor(row);
      } catch (err) {
        if (!(err instanceof RowRejectedError)) throw err;
        work.reject(err.code, err.message, row);
        continue;
      }
      // A row the store can never hold fails alone, instead of failing its batch on every retry.
      const problem = connector.problem(work.flow.batchId, key, row);
      if (problem !== undefined) {
        work.reject(problem.code, problem.reason, row);
        continue;
      }
      saves.push({ key, row });
      kept.push(row);
    }
    return kept;
  }
}
