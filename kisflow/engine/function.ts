import type { ZodType } from 'zod';
import type { Params } from '../config/model.ts';
import type { Log, Row } from '../ports.ts';

/** Function-level cache: lives as long as the process (a Lambda container, a `kisflow run`). */
export interface FunctionCache {
  get<T = unknown>(key: string): T | undefined;
  /** `ttlMs` unset: no expiry (KisFlow's default). */
  set(key: string, value: unknown, ttlMs?: number): void;
  delete(key: string): void;
}

/** The step's connector, bound to its key rule. */
export interface Connector {
  readonly cid: string;
  readonly type: string;
  readonly params: Params;
  /** Stores rows under the keys the connector's key rule builds from them. Idempotent per batch. */
  save(rows: readonly Row[]): Promise<void>;
  /** For each given row, the rows stored under its key (same order as the input). */
  load(rows: readonly Row[]): Promise<Row[][]>;
}

/** Keyed state of a stateful function, scoped to (flow, fid). Applied exactly once per batch. */
export interface KeyedState {
  get<T = unknown>(key: string): Promise<T | undefined>;
  /** Buffered; written when the step's batch completes. */
  set(key: string, value: unknown): void;
}

export interface FunctionMetrics {
  count(name: string, value?: number): void;
}

export interface FlowInfo {
  readonly id: string;
  readonly name: string;
  readonly runId: string;
  readonly batchId: string;
  /** 0-based index of the running step. */
  readonly step: number;
  readonly fid: string;
}

/** One shard of a job fire (see `FunctionContext.shard`). */
export interface Shard {
  readonly index: number;
  readonly total: number;
}

/** The shard a batch's metadata names (`meta.shard`, as job fires set it), if well formed. */
export function shardOf(value: unknown): Shard | undefined {
  const s = value as { index?: unknown; total?: unknown } | undefined;
  if (typeof s !== 'object' || s === null) return undefined;
  const { index, total } = s;
  if (!Number.isInteger(index) || !Number.isInteger(total)) return undefined;
  if ((index as number) < 0 || (index as number) >= (total as number)) return undefined;
  return { index: index as number, total: total as number };
}

export interface FunctionContext<P extends Params = Params> {
  /** The step's params over the function's `default_params`. */
  readonly params: P;
  readonly flow: FlowInfo;
  /** Flow-level metadata, carried to the following steps. */
  readonly meta: Record<string, unknown>;
  /**
   * Which part of a sharded job fire this batch is (`shards: N` on the job): `index` from 0 to
   * `total - 1`. Undefined when the run is no sharded fire.
   */
  readonly shard: Shard | undefined;
  readonly cache: FunctionCache;
  /** Throws ConnectorError when the function has no `option.cid`. */
  readonly connector: Connector;
  readonly state: KeyedState;
  readonly log: Log;
  readonly metrics: FunctionMetrics;
  /** Emits a row to the next step. */
  commit(row: Row): void;
  /** Routes one input row to the flow's rejected output with a reason, instead of throwing. */
  reject(row: Row, reason: string): void;
  /** Stops the flow after this step. */
  abort(): void;
  /** Passes this step's input on unchanged (what it committed is dropped). */
  reuse(): void;
  /** Runs the next step even when this step emitted nothing. */
  forceNext(): void;
  /** Continues at the (first) step with this fid, with the rows this step committed. */
  jumpTo(fid: string): void;
}

export type FunctionHandler<In extends Row = Row, P extends Params = Params> = (
  rows: In[],
  ctx: FunctionContext<P>,
) => void | Promise<void>;

/** What a function module exports by default. */
export interface KisFunction<In extends Row = Row, P extends Params = Params> {
  readonly kind: 'kisflow.function';
  readonly handler: FunctionHandler<In, P>;
  /** Rows that do not parse are rejected with the zod message before the handler runs. */
  readonly input?: ZodType<In>;
}

/**
 * Declares a KisFlow function; export it as the module's default.
 *
 * @example
 * export default defineFunction(async (rows, ctx) => {
 *   for (const row of rows) ctx.commit({ ...row, total: Number(row.price) * Number(row.qty) });
 * });
 *
 * @example typed input
 * export default defineFunction({
 *   input: z.object({ price: z.number(), qty: z.number() }),
 *   handler: (rows, ctx) => { for (const r of rows) ctx.commit({ ...r, total: r.price * r.qty }); },
 * });
 */
export function defineFunction<In extends Row = Row, P extends Params = Params>(
  fn: FunctionHandler<In, P> | { input?: ZodType<In>; handler: FunctionHandler<In, P> },
): KisFunction<In, P> {
  if (typeof fn === 'function') return { kind: 'kisflow.function', handler: fn };
  return { kind: 'kisflow.function', handler: fn.handler, ...(fn.input ? { input: fn.input } : {}) };
}

export function isKisFunction(value: unknown): value is KisFunction {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { kind?: unknown }).kind === 'kisflow.function' &&
    typeof (value as { handler?: unknown }).handler === 'function'
  );
}
