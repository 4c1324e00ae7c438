/**
 * What the engine needs from the world. The memory adapters implement these for `kisflow run`
 * and unit tests; the AWS adapters (SQS, DynamoDB, EMF) for Lambda and `kisflow dev`.
 * This file imports nothing of the project.
 */

/** A row is a plain JSON object. */
export type Row = Record<string, unknown>;

/** One item of a connector: `key` is built by the connector's key rule, `sort` tells rows under one key apart. */
export interface StoredItem {
  readonly key: string;
  readonly sort: string;
  readonly row: Row;
}

/**
 * Storage behind connectors of type `dynamodb` (Save/Load). Items are addressed deterministically
 * (`key`, `sort`), so writing the items of a redelivered batch again leaves the same stored result.
 */
export interface ConnectorStore {
  /** Writes all items (in chunks the store allows), retrying unprocessed ones. */
  put(cid: string, items: readonly StoredItem[]): Promise<void>;
  /** Every row stored under each key (all sort keys), in sort-key order. Missing keys map to []. */
  get(cid: string, keys: readonly string[]): Promise<Map<string, Row[]>>;
  /**
   * Why an item can never be stored (too large, key too long), or undefined. The engine rejects
   * such a row on its own instead of failing, and retrying in vain, the whole batch.
   */
  problem?(cid: string, item: StoredItem): { readonly code: string; readonly reason: string } | undefined;
}

export interface StateEntry {
  readonly value: unknown;
  /** 0 for a key never written. */
  readonly version: number;
}

export interface StateWrite {
  readonly key: string;
  readonly value: unknown;
  /** The version `read` returned; the write applies only on that version (optimistic concurrency). */
  readonly expectedVersion: number;
}

/**
 * Keyed state of stateful functions. Exactly-once per batch: `read` with a batch id that was
 * already applied to a key returns the value as it was *before* that batch (so a redelivered
 * batch recomputes the same result), and `write` of an already-applied batch changes nothing.
 * A write whose `expectedVersion` is stale (a concurrent writer) throws InfrastructureError so
 * the message is retried.
 */
export interface StateStore {
  read(scope: string, keys: readonly string[], batchId: string): Promise<Map<string, StateEntry>>;
  write(scope: string, batchId: string, writes: readonly StateWrite[]): Promise<void>;
}

/** A batch of rows addressed to one step of one flow: what a message carries. */
export interface StepBatch {
  readonly flowId: string;
  /** Index (0-based) of the step that consumes this batch. */
  readonly step: number;
  /**
   * The stable key of that step (`stepKeys` in kisflow/config/names.ts): unlike the index, it
   * still names the same step after steps are inserted before it. Absent on batches from outside
   * the flow (ticks, events, older envelopes): the index applies.
   */
  readonly stepKey?: string;
  readonly runId: string;
  /** Deterministic: a redelivered input produces the same downstream batch ids. */
  readonly batchId: string;
  /** Step runs the rows went through before this batch (0 or absent entering the flow): the hop limit counts them. */
  readonly hops?: number;
  readonly rows: readonly Row[];
  /** Flow metadata carried from step to step. */
  readonly meta: Readonly<Record<string, unknown>>;
  /**
   * Completions of earlier batches of the run, not yet written to the run ledger: a batch with
   * one child hands its own completion on in that child instead of writing it (delivery.ts), and
   * the batch that ends the chain writes them all at once. Absent when there are none.
   */
  readonly carry?: readonly CarriedCompletion[];
}

/** What one batch of a run did, as the run ledger counts it (see `RunLedger.complete`). */
export interface CarriedCompletion {
  readonly batchId: string;
  /** Index of the step that processed the batch. */
  readonly step: number;
  readonly fid?: string;
  readonly counters?: Partial<
    Record<'in' | 'out' | 'rejected' | 'dropped' | 'deadLettered' | 'errors', number>
  >;
  /** Messages this batch sent on to the next step. */
  readonly children?: number;
  /** `dead_lettered`: the batch failed every attempt and went to its DLQ. @default 'processed' */
  readonly outcome?: 'processed' | 'dead_lettered';
  /** How long the step ran on the batch (ms). */
  readonly durationMs?: number;
  /** When the batch was done (epoch ms). @default - when the ledger records it */
  readonly at?: number;
  /** The AWS usage handling the batch caused, by the run ledger's `RunUsage` fields (opaque here). */
  readonly usage?: Readonly<Record<string, number>>;
}

/** A row the flow could not process: where, why, and the row as it entered that step. */
export interface RejectedRow {
  readonly flowId: string;
  readonly step: number;
  readonly fid: string;
  /** A stable error code, e.g. `MISSING_FIELD`, `INVALID_ROW`, `FUNCTION_ERROR`. */
  readonly code: string;
  readonly reason: string;
  readonly row: Row;
}

/** Where a runtime sends rows. */
export type Destination =
  | { readonly kind: 'step'; readonly flowId: string; readonly step: number }
  | { readonly kind: 'output'; readonly flowId: string }
  | { readonly kind: 'rejected'; readonly flowId: string; readonly step: number };

export interface Transport {
  send(to: Destination, batch: StepBatch): Promise<void>;
  reject(to: Destination, rows: readonly RejectedRow[], batch: StepBatch): Promise<void>;
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export type MetricDimensions = Readonly<Record<string, string>>;

export interface Metrics {
  count(name: string, value: number, dimensions: MetricDimensions): void;
  /** Milliseconds. */
  duration(name: string, ms: number, dimensions: MetricDimensions): void;
}

export interface Log {
  debug(message: string, data?: Record<string, unknown>): void;
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}
