import type { Params } from '../config/model.ts';
import { ConnectorError, StepError } from '../errors.ts';
import type { Log, RejectedRow, Row } from '../ports.ts';
import type {
  Connector,
  FlowInfo,
  FunctionCache,
  FunctionContext,
  FunctionMetrics,
  KeyedState,
} from './function.ts';
import { AttemptState, type BatchState } from './keyed-state.ts';
import { AttemptConnector, type StepConnector } from './step-connector.ts';

/** What an attempt needs from its step and batch; built once per batch, shared by its attempts. */
export interface AttemptScope {
  readonly flowId: string;
  readonly fid: string;
  readonly step: number;
  readonly params: Params;
  readonly flow: FlowInfo;
  readonly cache: FunctionCache;
  readonly metrics: FunctionMetrics;
  readonly log: Log;
  readonly connector: StepConnector | undefined;
  /** Created on first use of `ctx.state` in the batch. */
  batchState(): BatchState;
}

function badRow(scope: AttemptScope, row: unknown): StepError {
  return new StepError(
    'BAD_ROW',
    `Function '${scope.fid}' committed ${row === null ? 'null' : Array.isArray(row) ? 'an array' : `a ${typeof row}`}; a row must be a plain object such as { id: 1 }.`,
    { flowId: scope.flowId, step: scope.step, fid: scope.fid },
  );
}

/**
 * The FunctionContext of one call of a function on (part of) a batch. Everything the call does
 * — commits, rejections, actions, metadata, state writes, connector saves — stays here until the
 * step runner accepts the attempt; a failed attempt is simply dropped. The actions are bound
 * arrow functions so `rows.forEach(ctx.commit)` works.
 */
export class AttemptContext implements FunctionContext {
  readonly params: Params;
  readonly flow: FlowInfo;
  readonly meta: Record<string, unknown>;
  readonly cache: FunctionCache;
  readonly log: Log;
  readonly metrics: FunctionMetrics;
  readonly out: Row[] = [];
  rejected: RejectedRow[] | undefined;
  reused = false;
  aborted = false;
  forced = false;
  jump: string | undefined;
  attemptState: AttemptState | undefined;
  attemptConnector: AttemptConnector | undefined;
  readonly #scope: AttemptScope;

  constructor(scope: AttemptScope, meta: Record<string, unknown>) {
    this.#scope = scope;
    this.params = scope.params;
    this.flow = scope.flow;
    this.meta = meta;
    this.cache = scope.cache;
    this.log = scope.log;
    this.metrics = scope.metrics;
  }

  get connector(): Connector {
    if (this.attemptConnector !== undefined) return this.attemptConnector;
    const step = this.#scope.connector;
    if (step === undefined) {
      throw new ConnectorError(
        'NO_CONNECTOR',
        `Function '${this.#scope.fid}' has no connector: set option.cid in its \`kistype: func\` config to use ctx.connector.`,
        { flowId: this.#scope.flowId, step: this.#scope.step, fid: this.#scope.fid },
      );
    }
    this.attemptConnector = new AttemptConnector(step);
    return this.attemptConnector;
  }

  get state(): KeyedState {
    this.attemptState ??= new AttemptState(this.#scope.batchState());
    return this.attemptState;
  }

  // The actions are closures, made by the factories below rather than written as arrow-function
  // fields: a named arrow gets a `__name(...)` call per construction when the code runs under
  // tsx/esbuild's keepNames, which cost more than the rest of a small batch.
  readonly commit: (row: Row) => void = AttemptContext.#commit(this);
  readonly reject: (row: Row, reason: string) => void = AttemptContext.#reject(this);
  readonly abort: () => void = AttemptContext.#set(this, 'aborted');
  readonly reuse: () => void = AttemptContext.#set(this, 'reused');
  readonly forceNext: () => void = AttemptContext.#set(this, 'forced');
  readonly jumpTo: (fid: string) => void = AttemptContext.#jump(this);

  static #commit(ctx: AttemptContext): (row: Row) => void {
    const out = ctx.out;
    // Rows are checked in bulk once the function returns (see `checkCommits`): a tight loop there
    // costs less than a check on every call here.
    return (row) => {
      out.push(row);
    };
  }

  /**
   * @throws StepError `BAD_ROW` when the function committed something other than a plain object; the
   *   attempt then fails like a throw, and isolation finds the input row that caused it.
   */
  checkCommits(): void {
    const out = this.out;
    for (let i = 0; i < out.length; i++) {
      const row = out[i];
      if (typeof row !== 'object' || row === null || Array.isArray(row)) throw badRow(this.#scope, row);
    }
  }

  static #reject(ctx: AttemptContext): (row: Row, reason: string) => void {
    return (row, reason) => {
      const scope = ctx.#scope;
      ctx.rejected ??= [];
      ctx.rejected.push({
        flowId: scope.flowId,
        step: scope.step,
        fid: scope.fid,
        code: 'REJECTED_BY_FUNCTION',
        reason: String(reason),
        row,
      });
    };
  }

  static #set(ctx: AttemptContext, flag: 'aborted' | 'reused' | 'forced'): () => void {
    return () => {
      ctx[flag] = true;
    };
  }

  static #jump(ctx: AttemptContext): (fid: string) => void {
    return (fid) => {
      ctx.jump = fid;
    };
  }
}
