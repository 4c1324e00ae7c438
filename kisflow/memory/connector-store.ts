import * as z from 'zod';
import { UsageError } from '../errors.ts';
import type { ConnectorStore, Row, StoredItem } from '../ports.ts';

const snapshotSchema = z.object({
  kind: z.literal('kisflow.memory-connector-store'),
  version: z.literal(1),
  connectors: z.record(
    z.string(),
    z.array(z.object({ key: z.string(), sort: z.string(), row: z.record(z.string(), z.unknown()) })),
  ),
});

/** The JSON form of a MemoryConnectorStore (see `snapshot`). */
export type MemoryConnectorSnapshot = z.infer<typeof snapshotSchema>;

/**
 * Connector storage in memory, with DynamoDB's addressing: per connector, items by (key, sort);
 * `get` returns a key's rows in sort-key order. Rows are copied in and out, so callers never share
 * objects with the store. `snapshot`/`restore` let `kisflow run` keep a store between runs.
 *
 * @example
 * const store = new MemoryConnectorStore();
 * await store.put('orders', [{ key: 'u1', sort: '', row: { user: 'u1', total: 3 } }]);
 * (await store.get('orders', ['u1'])).get('u1'); // [{ user: 'u1', total: 3 }]
 */
export class MemoryConnectorStore implements ConnectorStore {
  readonly #connectors = new Map<string, Map<string, Map<string, Row>>>();

  async put(cid: string, items: readonly StoredItem[]): Promise<void> {
    let keys = this.#connectors.get(cid);
    if (keys === undefined) {
      keys = new Map();
      this.#connectors.set(cid, keys);
    }
    for (const item of items) {
      let sorts = keys.get(item.key);
      if (sorts === undefined) {
        sorts = new Map();
        keys.set(item.key, sorts);
      }
      sorts.set(item.sort, structuredClone(item.row));
    }
  }

  async get(cid: string, keys: readonly string[]): Promise<Map<string, Row[]>> {
    const stored = this.#connectors.get(cid);
    const found = new Map<string, Row[]>();
    for (const key of keys) {
      const sorts = stored?.get(key);
      found.set(key, sorts === undefined ? [] : sortedRows(sorts));
    }
    return found;
  }

  /** Every item of a connector, by key then sort key (for tests and inspection). */
  items(cid: string): StoredItem[] {
    const stored = this.#connectors.get(cid);
    if (stored === undefined) return [];
    const items: StoredItem[] = [];
    for (const key of [...stored.keys()].sort(compare)) {
      const sorts = stored.get(key) as Map<string, Row>;
      for (const sort of [...sorts.keys()].sort(compare)) {
        items.push({ key, sort, row: structuredClone(sorts.get(sort) as Row) });
      }
    }
    return items;
  }

  /** A JSON-serialisable copy of everything stored. */
  snapshot(): MemoryConnectorSnapshot {
    const connectors: MemoryConnectorSnapshot['connectors'] = {};
    for (const cid of this.#connectors.keys()) connectors[cid] = this.items(cid);
    return { kind: 'kisflow.memory-connector-store', version: 1, connectors };
  }

  /** @throws UsageError `BAD_SNAPSHOT` when `obj` is not what `snapshot()` returned. */
  static restore(obj: unknown): MemoryConnectorStore {
    const parsed = snapshotSchema.safeParse(obj);
    if (!parsed.success) {
      throw new UsageError(
        'BAD_SNAPSHOT',
        `Not a connector store snapshot: ${z.prettifyError(parsed.error)}. Delete the file to start from an empty store.`,
      );
    }
    const store = new MemoryConnectorStore();
    for (const [cid, items] of Object.entries(parsed.data.connectors)) {
      // put() is async only to honour the interface; with a memory map it completes at once.
      void store.put(cid, items);
    }
    return store;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortedRows(sorts: Map<string, Row>): Row[] {
  if (sorts.size === 1) return [structuredClone(sorts.values().next().value as Row)];
  return [...sorts.keys()].sort(compare).map((sort) => structuredClone(sorts.get(sort) as Row));
}
