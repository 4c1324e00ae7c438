import type { ConnSpec, Params } from '../config/model.ts';
import { ConnectorError, InfrastructureError, KisFlowError, RowRejectedError } from '../errors.ts';
import type { ConnectorStore, Row, StoredItem } from '../ports.ts';
import type { ConnectorDriver } from './connector.ts';
import type { Connector } from './function.ts';
import { keyOf, sortOf } from './keys.ts';
import type { Registry } from './registry.ts';
import { rowProblem } from './row-values.ts';

/** A row due to be saved, with its connector key (for `dynamodb`; '' for other types). */
export interface PendingSave {
  readonly key: string;
  readonly row: Row;
}

/**
 * One step's connector: `dynamodb` through the ConnectorStore and the connector's key rule, any
 * other type through the driver of its registered implementation. Errors of the store or driver
 * are ConnectorError/InfrastructureError, so they fail the whole message (retried by the
 * transport) instead of being blamed on rows.
 */
export class StepConnector {
  readonly conn: ConnSpec;
  readonly #store: ConnectorStore;
  readonly #registry: Registry;

  constructor(conn: ConnSpec, store: ConnectorStore, registry: Registry) {
    this.conn = conn;
    this.#store = store;
    this.#registry = registry;
  }

  get isStore(): boolean {
    return this.conn.type === 'dynamodb';
  }

  /** The key a row is saved under; throws RowRejectedError `MISSING_KEY_FIELD` for `dynamodb`. */
  keyFor(row: Row): string {
    return this.isStore ? keyOf(this.conn.key, row) : '';
  }

  /**
   * The key a row is saved under, or why it can never be saved: not a row JSON carries unchanged
   * (`BAD_ROW`), a key field missing (`MISSING_KEY_FIELD`), or one the store cannot hold (see
   * ConnectorStore.problem: `ITEM_TOO_LARGE`, `KEY_TOO_LONG`).
   */
  check(batchId: string, row: Row): { key: string } | { code: string; reason: string } {
    const bad = rowProblem(row);
    if (bad !== undefined) {
      return {
        code: 'BAD_ROW',
        reason: `A row to save to connector '${this.conn.cid}' cannot be stored unchanged: ${bad}.`,
      };
    }
    let key: string;
    try {
      key = this.keyFor(row);
    } catch (err) {
      if (err instanceof RowRejectedError) return { code: err.code, reason: err.message };
      throw err;
    }
    if (!this.isStore || this.#store.problem === undefined) return { key };
    return (
      this.#store.problem(this.conn.cid, { key, sort: sortOf(this.conn.key, batchId, row), row }) ?? { key }
    );
  }

  async load(rows: readonly Row[]): Promise<Row[][]> {
    if (!this.isStore) {
      const driver = await this.#registry.driver(this.conn);
      const loaded = await this.#guard('load', () => driver.load(rows));
      if (!Array.isArray(loaded) || loaded.length !== rows.length) {
        throw new ConnectorError(
          'BAD_CONNECTOR_RESULT',
          `Connector '${this.conn.cid}' (type '${this.conn.type}') load() must return one array of rows per input row (${rows.length}), received ${Array.isArray(loaded) ? `${loaded.length} entries` : typeof loaded}.`,
          { cid: this.conn.cid, type: this.conn.type },
        );
      }
      return loaded;
    }
    const keys = rows.map((row) => keyOf(this.conn.key, row));
    const found = await this.#guard('get', () => this.#store.get(this.conn.cid, [...new Set(keys)]));
    return keys.map((key) => [...(found.get(key) ?? [])]);
  }

  /** Writes the rows a batch saved; `sortOf` makes the items of a redelivered batch the same items. */
  async write(batchId: string, saves: readonly PendingSave[]): Promise<void> {
    if (saves.length === 0) return;
    if (!this.isStore) {
      const driver: ConnectorDriver = await this.#registry.driver(this.conn);
      await this.#guard('save', () =>
        driver.save(
          saves.map((s) => s.row),
          { batchId },
        ),
      );
      return;
    }
    const rule = this.conn.key;
    const seen = new Map<string, number>();
    const items: StoredItem[] = saves.map((s) => {
      let sort = sortOf(rule, batchId, s.row);
      if (sort !== '') {
        // Identical rows in one save are kept apart by their occurrence, still independent of position.
        const occurrence = seen.get(sort) ?? 0;
        seen.set(sort, occurrence + 1);
        if (occurrence > 0) sort = sortOf(rule, batchId, s.row, occurrence);
      }
      return { key: s.key, sort, row: s.row };
    });
    await this.#guard('put', () => this.#store.put(this.conn.cid, items));
  }

  async #guard<T>(op: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof KisFlowError) throw err;
      const context = { cid: this.conn.cid, type: this.conn.type, op };
      const message = `Connector '${this.conn.cid}' (type '${this.conn.type}') failed in ${op}: ${err instanceof Error ? err.message : String(err)}`;
      if (this.isStore) throw new InfrastructureError('STORE_FAILED', message, context, { cause: err });
      throw new ConnectorError('CONNECTOR_FAILED', message, context, { cause: err });
    }
  }
}

/**
 * `ctx.connector` for one attempt. Saves are buffered and written once the whole step succeeded,
 * so an attempt that fails (and is re-run on a smaller batch) leaves nothing stored twice; a load
 * in the same batch therefore does not see them yet.
 */
export class AttemptConnector implements Connector {
  readonly cid: string;
  readonly type: string;
  readonly params: Params;
  readonly saves: PendingSave[] = [];
  readonly #step: StepConnector;
  readonly #batchId: string;
  readonly #open: () => boolean;

  /** @param open false when the attempt is over and the save must be ignored (see AttemptContext). */
  constructor(step: StepConnector, batchId: string, open: () => boolean = () => true) {
    this.#step = step;
    this.#batchId = batchId;
    this.#open = open;
    this.cid = step.conn.cid;
    this.type = step.conn.type;
    this.params = step.conn.params;
  }

  /**
   * @throws RowRejectedError `MISSING_KEY_FIELD`, `BAD_ROW`, or the store's code (`ITEM_TOO_LARGE`,
   *   `KEY_TOO_LONG`) for a row that can never be saved: thrown inside the function, so isolation
   *   rejects the row that led to it alone, with the reason, as Save mode does.
   */
  save(rows: readonly Row[]): Promise<void> {
    if (!this.#open()) return Promise.resolve();
    for (const row of rows) {
      const checked = this.#step.check(this.#batchId, row);
      // Thrown, not returned as a rejected promise: a function that does not await `save` still fails.
      if (!('key' in checked)) throw new RowRejectedError(checked.code, checked.reason, { cid: this.cid });
      this.saves.push({ key: checked.key, row });
    }
    return Promise.resolve();
  }

  load(rows: readonly Row[]): Promise<Row[][]> {
    return this.#step.load(rows);
  }
}
