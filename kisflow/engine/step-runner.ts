import { flowMetricLabel, stepMetricLabel } from '../config/names.ts';
import { ConnectorError, EnvelopeError, StepError } from '../errors.ts';
import type { Log, MetricDimensions, Metrics, RejectedRow, Row, StepBatch } from '../ports.ts';
import { Admission } from './admission.ts';
import { BatchScope, type BoundStep, type DroppedRows } from './batch-scope.ts';
import { defaultClock, type EngineDeps, logWith, noLog } from './deps.ts';
import type { FunctionCache, FunctionMetrics, KisFunction } from './function.ts';
import { StepCache } from './function-cache.ts';
import { Abandoned, isolate } from './isolation.ts';
import type { FlowPlan, PlannedStep } from './plan.ts';
import type { Registry } from './registry.ts';
import { route } from './routing.ts';
import { saveEmitted } from './save-mode.ts';
import { StepConnector } from './step-connector.ts';
import { Watchdog } from './watchdog.ts';

/** What one step did with one batch. */
export interface StepOutcome {
  /** The rows for `next` (or the flow's output when `next` is null). */
  readonly emitted: Row[];
  /** Step index to send `emitted` to; null: the flow ends here and `emitted` is its output. */
  readonly next: number | null;
  readonly rejected: RejectedRow[];
  /** Rows that left on purpose (abort, Verify filtering, neither committed nor rejected), per reason. */
  readonly dropped: readonly DroppedRows[];
  /** The batch's metadata after this step: carry it to the next batch. */
  readonly meta: Record<string, unknown>;
  /** The function called `abort()`. */
  readonly aborted: boolean;
  /** Exact: `in + created = out + rejected + dropped` (`created` is 0 unless the function split rows). */
  readonly stats: {
    readonly in: number;
    readonly out: number;
    readonly rejected: number;
    readonly dropped: number;
    /** Rows the function committed beyond the ones it was given and kept (a split, an Expand). */
    readonly created: number;
    readonly ms: number;
  };
}

export interface StepRunnerOptions {
  /**
   * How emitted rows reach the next step. `serialized` (default): as JSON through a queue, so each
   * committed row is checked to be one JSON carries unchanged (a BigInt, a cycle, NaN, a Date...
   * is rejected with the input row that led to it, `BAD_ROW`), and so are rows entering the flow.
   * `memory`: an in-process run hands rows over by reference, unchecked, for speed; whoever
   * serializes its output checks it (`kisflow run` does).
   */
  readonly handoff?: 'serialized' | 'memory';
}

export interface StepRunOptions {
  /** Time allowed for this batch; default the flow's `tuning.timeout`. A runtime with its own budget (Lambda) passes what remains of it. */
  readonly timeoutMs?: number;
}

/**
 * Runs one step of a flow on batches. Create one per process (a Lambda container, a local run) and
 * reuse it: it holds the function, its cache and its connector binding; `run` keeps no state
 * between calls except the cache.
 *
 * Per batch, in phases (each in its own module), KisFlow's semantics with the framework's mode
 * behaviour around the user function:
 * - Admission (admission.ts): Verify rejects rows lacking a `source.must` field (`MISSING_FIELD`)
 *   before the function runs; a zod `input` schema rejects rows that do not parse (`INVALID_ROW`),
 *   in any mode, and the function gets the parsed rows; rows entering the flow must be JSON
 *   objects (`INVALID_ROW`). When no row is left, the function is not called.
 * - Isolation (isolation.ts): the function's commits are the output; `reuse()` passes the input on
 *   instead; `reject(row, reason)` routes one of its input rows out (`REJECTED_BY_FUNCTION`; a row
 *   it was not given, or rejects twice, is `BAD_REJECT`), and a rejected row never goes on. A
 *   function that throws is re-run on parts of the batch until the failing rows are alone; a row
 *   failing alone is retried `retry_times` more times, at once (`retry_duration` is the transport's
 *   delay before redelivering a failed message), then rejected (`FUNCTION_ERROR` with the error
 *   message; a RowRejectedError or StepError keeps its own code and is not retried). What failed
 *   attempts committed, saved or set is dropped; the other rows go on. Errors of the stores
 *   (InfrastructureError, ConnectorError) are not isolated: they propagate out of `run`, and the
 *   transport retries the whole message. An action on `ctx` after the handler returned is
 *   StepError `COMMIT_AFTER_RETURN`.
 * - Save mode (save-mode.ts) stores the emitted rows (the commits, or the input on `reuse()`)
 *   once the function succeeded; a row that can never be saved (`MISSING_KEY_FIELD`, `BAD_ROW`, the
 *   store's `ITEM_TOO_LARGE`...) is rejected alone, not saved, not passed on — and so is the input
 *   row behind a `ctx.connector.save` of such a row, in any mode. Connector saves and state writes
 *   are applied once, after the function succeeded, with deterministic item keys and the batch id:
 *   a redelivered batch changes nothing twice. (A Save function only commits; calling
 *   `ctx.connector.save` as well would store the rows twice.)
 * - Routing (routing.ts): `abort()` ends the flow after this step (what it emitted is the flow's
 *   output); `jumpTo(fid)` continues at the first step running `fid` (an unknown fid rejects the
 *   rows with `UNKNOWN_JUMP_TARGET`); a step that emits nothing ends the flow unless it called
 *   `forceNext()`. **Serverless change:** in KisFlow the jump target gets the rows the step before
 *   *it* last emitted; a Lambda step cannot see another step's past output, so the target gets
 *   the rows this step committed, or this step's input if it committed none.
 *
 * Every row is accounted for: `in + created = out + rejected + dropped`, where `dropped` counts
 * rows that left on purpose, per reason (BatchScope's DROP_REASONS: abort() without committing
 * them, filtered by a Verify function, neither committed nor rejected) and `created` the rows a
 * function committed beyond those it kept (a split, an Expand). A batch that runs longer than the
 * flow's `tuning.timeout` fails with StepError `TIMEOUT`, and nothing it did is kept or written.
 *
 * Functions get their own copy of the `rows` array (sort or filter it at will) but share the row
 * objects: commit new row objects rather than changing the given ones, as a failed attempt's
 * changes could not be undone before its rows are re-run.
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
  readonly #bound: BoundStep;
  readonly #admission: Admission;
  readonly #metrics: Metrics | undefined;
  readonly #dims: MetricDimensions;
  readonly #log: Log;
  readonly #watchdog = new Watchdog();

  /**
   * @throws StepError `FUNCTION_NOT_REGISTERED` when the registry lacks the step's function,
   *   `UNKNOWN_STEP` for an index outside the flow; ConnectorError `NO_CONNECTOR` for a Save step
   *   whose function has no connector.
   */
  constructor(
    plan: FlowPlan,
    stepIndex: number,
    registry: Registry,
    deps: EngineDeps,
    options: StepRunnerOptions = {},
  ) {
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
    const fn: KisFunction = registry.getFunction(step.fid);
    this.cache = new StepCache(deps.clock ?? defaultClock);
    this.connector = step.conn === undefined ? undefined : new StepConnector(step.conn, deps.store, registry);
    if (step.func.fmode === 'Save' && this.connector === undefined) {
      throw new ConnectorError(
        'NO_CONNECTOR',
        `Function '${step.fid}' has fmode Save but no connector to save to: set option.cid in its \`kistype: func\` config.`,
        { flowId: plan.flow.flowId, step: stepIndex, fid: step.fid },
      );
    }
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
    const serialized = options.handoff !== 'memory';
    this.#bound = {
      plan,
      step,
      fn,
      cache: this.cache,
      metrics: this.functionMetrics,
      connector: this.connector,
      stateStore: deps.state,
      stateScope: `${plan.flow.flowId}/${step.fid}`,
      serialized,
    };
    this.#admission = new Admission(
      stepIndex === 0,
      step.func.fmode === 'Verify' ? step.func.source.must : [],
      serialized,
    );
  }

  /**
   * Runs the step's function on a batch, within the step's timeout.
   *
   * @throws InfrastructureError / ConnectorError when a store or connector fails (retry the message);
   *   EnvelopeError `BATCH_MISMATCH` when the batch is addressed to another flow or step;
   *   StepError `TIMEOUT` when the batch took longer than its timeout (nothing of it is kept or
   *   written), `COMMIT_AFTER_RETURN` when the function acted on its context after its handler
   *   returned, `FUNCTION_ERROR` when the function keeps failing on a batch with no rows,
   *   `BAD_INPUT_SCHEMA` for an asynchronous zod input schema.
   */
  async run(batch: StepBatch, options: StepRunOptions = {}): Promise<StepOutcome> {
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
    const scope = new BatchScope(this.#bound, batch, log);
    const timeoutMs = options.timeoutMs ?? this.plan.flow.tuning.timeoutSeconds * 1000;
    return new Promise<StepOutcome>((resolve, reject) => {
      const unwatch = this.#watchdog.watch(timeoutMs, () => {
        scope.abandoned = true;
        scope.current?.close(false);
        reject(this.#timedOut(batch, timeoutMs));
      });
      this.#phases(batch, scope, started).then(
        (outcome) => {
          unwatch();
          resolve(outcome);
        },
        (err: unknown) => {
          unwatch();
          reject(err);
        },
      );
    });
  }

  #timedOut(batch: StepBatch, timeoutMs: number): StepError {
    const { step } = this;
    this.#metrics?.count('errors', 1, this.#dims);
    return new StepError(
      'TIMEOUT',
      `Step ${step.index} ('${step.fid}') of flow '${batch.flowId}' ran longer than its timeout (${timeoutMs / 1000} s, tuning.timeout) on batch ${batch.batchId} of ${batch.rows.length} row(s); the batch fails, as a Lambda invocation would, and nothing it did is kept. Make the function finish sooner (is it awaiting a promise that never settles?) or raise the flow's tuning.timeout.`,
      { flowId: batch.flowId, step: step.index, fid: step.fid, batchId: batch.batchId, timeoutMs },
    );
  }

  /** Admission, isolation, Save mode, the buffered writes, routing. */
  async #phases(batch: StepBatch, scope: BatchScope, started: number): Promise<StepOutcome> {
    const { originals, inputs } = this.#admission.admit(batch.rows, scope);

    // A batch whose every row was refused at the door has nothing for the function; an empty batch
    // (sent on by forceNext) still runs it, as KisFlow does.
    if (inputs.length > 0 || batch.rows.length === 0) await isolate(scope, originals, inputs);

    let emitted = scope.emitted();
    if (this.step.func.fmode === 'Save')
      emitted = saveEmitted(scope, this.connector as StepConnector, emitted);
    if (scope.abandoned) throw new Abandoned();
    if (scope.saves !== undefined) await (this.connector as StepConnector).write(batch.batchId, scope.saves);
    if (scope.state !== undefined) await scope.state.flush();
    if (scope.late !== undefined) throw scope.late;
    const routed = route(scope, emitted);
    emitted = routed.emitted;

    const ms = performance.now() - started;
    const dropped = scope.dropped;
    const metrics = this.#metrics;
    if (metrics !== undefined) {
      const dims = this.#dims;
      metrics.count('rows_in', batch.rows.length, dims);
      metrics.count('rows_out', emitted.length, dims);
      metrics.count('rows_rejected', scope.rejected.length, dims);
      metrics.count('rows_dropped', dropped, dims);
      if (scope.created > 0) metrics.count('rows_created', scope.created, dims);
      metrics.count('errors', scope.errors, dims);
      if (scope.retries > 0) metrics.count('retries', scope.retries, dims);
      metrics.duration('duration', ms, dims);
    }
    return {
      emitted,
      next: routed.next,
      rejected: scope.rejected,
      dropped: scope.droppedRows(),
      // Read-only downstream (each attempt copies what it changes): shared, not copied, when unchanged.
      meta: scope.meta,
      aborted: scope.aborted,
      stats: {
        in: batch.rows.length,
        out: emitted.length,
        rejected: scope.rejected.length,
        dropped,
        created: scope.created,
        ms,
      },
    };
  }
}
