import { InfrastructureError, KisFlowError, StepError } from '../errors.ts';
import type { StateEntry, StateStore, StateWrite } from '../ports.ts';
import type { KeyedState } from './function.ts';
import { valueProblem } from './row-values.ts';

const NEVER_WRITTEN: StateEntry = { value: undefined, version: 0 };

function storeFailure(op: string, scope: string, err: unknown): unknown {
  if (err instanceof KisFlowError) return err;
  return new InfrastructureError(
    'STATE_STORE_FAILED',
    `State store ${op} failed for scope '${scope}': ${err instanceof Error ? err.message : String(err)}`,
    { scope },
    { cause: err },
  );
}

/**
 * The state of one step for one batch. Reads go to the store with the batch id, so a redelivered
 * batch sees the values from before its first delivery; they are cached for the batch, and reads
 * issued in the same tick go to the store together. Writes of attempts that succeeded accumulate
 * here and are flushed once, after the whole step succeeded (see `flush`).
 */
export class BatchState {
  readonly #store: StateStore;
  readonly #scope: string;
  readonly #batchId: string;
  readonly #read = new Map<string, StateEntry>();
  readonly #inflight = new Map<string, Promise<StateEntry>>();
  #queued: { keys: string[]; done: Promise<void> } | undefined;
  /** Values written by attempts that succeeded, in write order. */
  readonly committed = new Map<string, unknown>();

  constructor(store: StateStore, scope: string, batchId: string) {
    this.#store = store;
    this.#scope = scope;
    this.#batchId = batchId;
  }

  /** The stored entry of `key` as of before this batch. */
  entry(key: string): Promise<StateEntry> {
    const known = this.#read.get(key);
    if (known !== undefined) return Promise.resolve(known);
    const pending = this.#inflight.get(key);
    if (pending !== undefined) return pending;
    // Coalesce the reads of one tick (`Promise.all(rows.map((r) => ctx.state.get(r.user)))`) into
    // one store call: one BatchGetItem in DynamoDB instead of one round trip per row.
    if (this.#queued === undefined) {
      const keys: string[] = [];
      const done = Promise.resolve().then(() => {
        this.#queued = undefined;
        return this.#fetch(keys);
      });
      this.#queued = { keys, done };
    }
    const queued = this.#queued;
    queued.keys.push(key);
    const promise = queued.done.then(() => this.#read.get(key) ?? NEVER_WRITTEN);
    this.#inflight.set(key, promise);
    return promise;
  }

  async #fetch(keys: readonly string[]): Promise<void> {
    try {
      const got = await this.#store.read(this.#scope, keys, this.#batchId);
      for (const key of keys) this.#read.set(key, got.get(key) ?? NEVER_WRITTEN);
    } catch (err) {
      throw storeFailure('read', this.#scope, err);
    } finally {
      for (const key of keys) this.#inflight.delete(key);
    }
  }

  /** Writes what the succeeded attempts set, with the versions read, under the batch id. */
  async flush(): Promise<void> {
    if (this.committed.size === 0) return;
    const unread = [...this.committed.keys()].filter((k) => !this.#read.has(k));
    if (unread.length > 0) await this.#fetch(unread);
    const writes: StateWrite[] = [];
    for (const [key, value] of this.committed) {
      writes.push({ key, value, expectedVersion: (this.#read.get(key) ?? NEVER_WRITTEN).version });
    }
    try {
      await this.#store.write(this.#scope, this.#batchId, writes);
    } catch (err) {
      throw storeFailure('write', this.#scope, err);
    }
  }
}

/** `ctx.state` for one attempt: its writes are kept apart until the attempt succeeds. */
export class AttemptState implements KeyedState {
  readonly #batch: BatchState;
  readonly #open: () => boolean;
  readonly writes = new Map<string, unknown>();

  /** @param open false when the attempt is over and the write must be ignored (see AttemptContext). */
  constructor(batch: BatchState, open: () => boolean = () => true) {
    this.#batch = batch;
    this.#open = open;
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    if (this.writes.has(key)) return this.writes.get(key) as T;
    if (this.#batch.committed.has(key)) return this.#batch.committed.get(key) as T;
    return (await this.#batch.entry(key)).value as T | undefined;
  }

  /**
   * @throws StepError `BAD_STATE_VALUE` for a value the store cannot keep unchanged (a BigInt, a
   *   cycle, NaN...): thrown inside the function, so the row that led to it is rejected alone.
   */
  set(key: string, value: unknown): void {
    if (!this.#open()) return;
    const problem = valueProblem(value, `the value of state key '${key}'`);
    if (problem !== undefined) {
      throw new StepError('BAD_STATE_VALUE', `ctx.state.set: ${problem}.`, { key });
    }
    this.writes.set(key, value);
  }

  /** Makes this attempt's writes visible to later attempts and due for the flush. */
  commit(): void {
    for (const [key, value] of this.writes) this.#batch.committed.set(key, value);
  }
}
