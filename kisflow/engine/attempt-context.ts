import type { Params } from '../config/model.ts';
import { ConnectorError, StepError } from '../errors.ts';
import type { Log, RejectedRow, Row } from '../ports.ts';
import type { BatchScope } from './batch-scope.ts';
import {
  type Connector,
  type FlowInfo,
  type FunctionCache,
  type FunctionContext,
  type FunctionMetrics,
  type KeyedState,
  type Shard,
  shardOf,
} from './function.ts';
import { AttemptState } from './keyed-state.ts';
import { rowProblem } from './row-values.ts';
import { AttemptConnector } from './step-connector.ts';

function badRow(scope: BatchScope, row: unknown, problem: string): StepError {
  const kind = row === null ? 'null' : Array.isArray(row) ? 'an array' : `a ${typeof row}`;
  const what =
    typeof row === 'object' && row !== null && !Array.isArray(row)
      ? `a row JSON cannot carry unchanged: ${problem}`
      : `${kind}; a row must be a plain object such as { id: 1 }`;
  return new StepError('BAD_ROW', `Function '${scope.flow.fid}' committed ${what}.`, {
    flowId: scope.flow.id,
    step: scope.flow.step,
    fid: scope.flow.fid,
  });
}

type Action = 'commit' | 'reject' | 'abort' | 'reuse' | 'forceNext' | 'jumpTo';

/**
 * The FunctionContext of one call of a function on (part of) a batch. Everything the call does
 * — commits, rejections, actions, metadata, state writes, connector saves — stays here until the
 * step runner accepts the attempt; a failed attempt is simply dropped. Once the handler returned
 * the context is closed: a late action of an accepted attempt is an error naming the function
 * (its rows could no longer be emitted), one of a discarded attempt is ignored (its rows are
 * re-run). The actions are bound arrow functions so `rows.forEach(ctx.commit)` works.
 */
export class AttemptContext implements FunctionContext {
  /** This attempt's own copy of the batch metadata, made when the function first reads it. */
  #meta: Record<string, unknown> | undefined;
  readonly out: Row[] = [];
  rejected: RejectedRow[] | undefined;
  reused = false;
  aborted = false;
  forced = false;
  jump: string | undefined;
  attemptState: AttemptState | undefined;
  attemptConnector: AttemptConnector | undefined;
  /** 0 open, 1 closed after an accepted attempt, 2 closed after a discarded one. */
  #closed: 0 | 1 | 2 = 0;
  readonly #scope: BatchScope;
  readonly #inputs: readonly Row[];
  readonly #originals: readonly Row[];
  /** Input position of each row given to the function; built on the first `reject`. */
  #positions: Map<Row, number> | undefined;
  #rejectedRows: Set<Row> | undefined;

  constructor(scope: BatchScope, inputs: readonly Row[], originals: readonly Row[]) {
    this.#scope = scope;
    this.#inputs = inputs;
    this.#originals = originals;
  }

  // Copied on first use, not per attempt: most functions never touch the metadata, and a batch
  // that is bisected makes many attempts.
  get meta(): Record<string, unknown> {
    this.#meta ??= { ...this.#scope.meta };
    return this.#meta;
  }

  /** The metadata this attempt changed, if the function read it at all. */
  get ownMeta(): Record<string, unknown> | undefined {
    return this.#meta;
  }

  get params(): Params {
    return this.#scope.params;
  }

  get shard(): Shard | undefined {
    return shardOf(this.#scope.meta.shard);
  }

  get flow(): FlowInfo {
    return this.#scope.flow;
  }

  get cache(): FunctionCache {
    return this.#scope.bound.cache;
  }

  get log(): Log {
    return this.#scope.log;
  }

  get metrics(): FunctionMetrics {
    return this.#scope.bound.metrics;
  }

  get connector(): Connector {
    if (this.attemptConnector !== undefined) return this.attemptConnector;
    const scope = this.#scope;
    const step = scope.bound.connector;
    if (step === undefined) {
      throw new ConnectorError(
        'NO_CONNECTOR',
        `Function '${scope.flow.fid}' has no connector: set option.cid in its \`kistype: func\` config to use ctx.connector.`,
        { flowId: scope.flow.id, step: scope.flow.step, fid: scope.flow.fid },
      );
    }
    this.attemptConnector = new AttemptConnector(step, scope.flow.batchId, () =>
      this.#open('connector.save'),
    );
    return this.attemptConnector;
  }

  get state(): KeyedState {
    if (this.attemptState !== undefined) return this.attemptState;
    const scope = this.#scope;
    const func = scope.bound.step.func;
    // In AWS only a declared function's steps get the state table; run and dev refuse the same way.
    if (func.usesState !== true) {
      const where = func.at === undefined ? '' : ` (${func.at.file}:${func.at.line})`;
      throw new ConnectorError(
        'STATE_NOT_DECLARED',
        `Function '${scope.flow.fid}' uses ctx.state but does not declare it: add \`option: { state: true }\` to its \`kistype: func\` document${where}. Only steps of declared functions may read and write the state table (in AWS the others are not granted it).`,
        { flowId: scope.flow.id, step: scope.flow.step, fid: scope.flow.fid },
      );
    }
    this.attemptState = new AttemptState(scope.batchState(), () => this.#open('state.set'));
    return this.attemptState;
  }

  // The actions are closures, made by the factories below rather than written as arrow-function
  // fields: a named arrow gets a `__name(...)` call per construction when the code runs under
  // tsx/esbuild's keepNames, which cost more than the rest of a small batch.
  readonly commit: (row: Row) => void = AttemptContext.#commit(this);
  readonly reject: (row: Row, reason: string) => void = AttemptContext.#reject(this);
  readonly abort: () => void = AttemptContext.#set(this, 'aborted', 'abort');
  readonly reuse: () => void = AttemptContext.#set(this, 'reused', 'reuse');
  readonly forceNext: () => void = AttemptContext.#set(this, 'forced', 'forceNext');
  readonly jumpTo: (fid: string) => void = AttemptContext.#jump(this);

  /** Ends the attempt: later actions are refused (`accepted`) or ignored. */
  close(accepted: boolean): void {
    this.#closed = accepted ? 1 : 2;
  }

  /** False when the action must do nothing; throws when it comes too late to count. */
  #open(action: Action | 'connector.save' | 'state.set'): boolean {
    if (this.#closed === 0) return true;
    if (this.#closed === 2) return false;
    const scope = this.#scope;
    const err = new StepError(
      'COMMIT_AFTER_RETURN',
      `Function '${scope.flow.fid}' called ctx.${action}() after its handler returned (flow '${scope.flow.id}', batch ${scope.flow.batchId}): the call is refused, and nothing it passed is emitted or stored. Await all of the function's work before returning, e.g. \`await Promise.all(rows.map(async (row) => ...))\` instead of \`rows.forEach(async (row) => ...)\`.`,
      {
        flowId: scope.flow.id,
        step: scope.flow.step,
        fid: scope.flow.fid,
        batchId: scope.flow.batchId,
        action,
      },
    );
    scope.late ??= err;
    scope.log.error(err.message, { code: err.code });
    throw err;
  }

  static #commit(ctx: AttemptContext): (row: Row) => void {
    const out = ctx.out;
    // Rows are checked in bulk once the function returns (see `checkCommits`): a tight loop there
    // costs less than a check on every call here.
    return (row) => {
      if (ctx.#closed !== 0 && !ctx.#open('commit')) return;
      out.push(row);
    };
  }

  /**
   * @throws StepError `BAD_ROW` when the function committed something other than a plain object
   *   (or, when rows leave as JSON, a row JSON would change or cannot carry); the attempt then
   *   fails like a throw, and isolation finds the input row that caused it.
   */
  checkCommits(): void {
    const out = this.out;
    if (this.#scope.bound.serialized) {
      for (let i = 0; i < out.length; i++) {
        const problem = rowProblem(out[i]);
        if (problem !== undefined) throw badRow(this.#scope, out[i], problem);
      }
      return;
    }
    for (let i = 0; i < out.length; i++) {
      const row = out[i];
      if (typeof row !== 'object' || row === null || Array.isArray(row)) throw badRow(this.#scope, row, '');
    }
  }

  /** True when `row` is one this attempt rejected (as given to the function, or as it entered the step). */
  wasRejected(row: Row): boolean {
    return this.#rejectedRows?.has(row) === true;
  }

  #positionOf(row: Row): number | undefined {
    if (this.#positions === undefined) {
      this.#positions = new Map();
      const inputs = this.#inputs;
      for (let i = 0; i < inputs.length; i++) this.#positions.set(inputs[i] as Row, i);
    }
    return this.#positions.get(row);
  }

  static #reject(ctx: AttemptContext): (row: Row, reason: string) => void {
    return (row, reason) => {
      if (ctx.#closed !== 0 && !ctx.#open('reject')) return;
      const scope = ctx.#scope;
      const { flow } = scope;
      // A rejection answers for one row the function was given, once: anything else would make
      // `in = out + rejected + dropped` false, or send the dead-letter queue a row no step had.
      const at = ctx.#positionOf(row);
      if (at === undefined || ctx.#rejectedRows?.has(row) === true) {
        throw new StepError(
          'BAD_REJECT',
          `Function '${flow.fid}' called ctx.reject with ${at === undefined ? 'a row it was not given (reject the input row itself, not a copy or a new row)' : 'a row it had already rejected'}.`,
          { flowId: flow.id, step: flow.step, fid: flow.fid },
        );
      }
      const original = ctx.#originals[at] as Row;
      ctx.#rejectedRows ??= new Set();
      ctx.#rejectedRows.add(row).add(original);
      ctx.rejected ??= [];
      ctx.rejected.push({
        flowId: flow.id,
        step: flow.step,
        fid: flow.fid,
        code: 'REJECTED_BY_FUNCTION',
        reason: String(reason),
        row: original,
      });
    };
  }

  static #set(ctx: AttemptContext, flag: 'aborted' | 'reused' | 'forced', action: Action): () => void {
    return () => {
      if (ctx.#closed !== 0 && !ctx.#open(action)) return;
      ctx[flag] = true;
    };
  }

  static #jump(ctx: AttemptContext): (fid: string) => void {
    return (fid) => {
      if (ctx.#closed !== 0 && !ctx.#open('jumpTo')) return;
      ctx.jump = fid;
    };
  }
}
