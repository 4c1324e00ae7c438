import * as z from 'zod';
import { InfrastructureError, UsageError } from '../errors.ts';
import type { StateEntry, StateStore, StateWrite } from '../ports.ts';

interface Cell {
  value: unknown;
  version: number;
  /** Batches applied to this key, each with the entry as it was before it. */
  readonly applied: Map<string, StateEntry>;
}

/** Applied batch ids remembered per key; a redelivery older than this would apply again. */
const APPLIED_HISTORY = 1000;

const snapshotSchema = z.object({
  kind: z.literal('kisflow.memory-state-store'),
  version: z.literal(1),
  scopes: z.record(
    z.string(),
    z.record(
      z.string(),
      z.object({
        value: z.unknown().optional(),
        version: z.number().int().nonnegative(),
        applied: z.array(
          z.tuple([z.string(), z.object({ value: z.unknown().optional(), version: z.number().int() })]),
        ),
      }),
    ),
  ),
});

export type MemoryStateSnapshot = z.infer<typeof snapshotSchema>;

/**
 * Keyed state in memory with the exactly-once contract of StateStore: a read with a batch id
 * already applied to a key returns the entry from before that batch; a write of an applied batch
 * is a no-op for that key; a write whose `expectedVersion` is stale throws InfrastructureError
 * `STATE_VERSION_CONFLICT` and applies nothing (the whole write is atomic). Each key remembers its
 * last 1000 applied batch ids. Values are copied in and out.
 *
 * @example
 * const state = new MemoryStateStore();
 * await state.write('flow/fn', 'b1', [{ key: 'u1', value: 5, expectedVersion: 0 }]);
 * (await state.read('flow/fn', ['u1'], 'b2')).get('u1'); // { value: 5, version: 1 }
 * (await state.read('flow/fn', ['u1'], 'b1')).get('u1'); // { value: undefined, version: 0 }: before b1
 */
export class MemoryStateStore implements StateStore {
  readonly #scopes = new Map<string, Map<string, Cell>>();

  async read(scope: string, keys: readonly string[], batchId: string): Promise<Map<string, StateEntry>> {
    const cells = this.#scopes.get(scope);
    const entries = new Map<string, StateEntry>();
    for (const key of keys) {
      const cell = cells?.get(key);
      if (cell === undefined) {
        entries.set(key, { value: undefined, version: 0 });
        continue;
      }
      const before = cell.applied.get(batchId);
      const entry = before ?? cell;
      entries.set(key, { value: structuredClone(entry.value), version: entry.version });
    }
    return entries;
  }

  async write(scope: string, batchId: string, writes: readonly StateWrite[]): Promise<void> {
    let cells = this.#scopes.get(scope);
    const due: StateWrite[] = [];
    for (const w of writes) {
      const cell = cells?.get(w.key);
      if (cell?.applied.has(batchId)) continue;
      const version = cell?.version ?? 0;
      if (version !== w.expectedVersion) {
        throw new InfrastructureError(
          'STATE_VERSION_CONFLICT',
          `State '${scope}' key '${w.key}' is at version ${version}, the write expected ${w.expectedVersion}: another batch wrote it concurrently. Retry the batch.`,
          { scope, key: w.key, batchId, version, expectedVersion: w.expectedVersion },
        );
      }
      due.push(w);
    }
    if (due.length === 0) return;
    if (cells === undefined) {
      cells = new Map();
      this.#scopes.set(scope, cells);
    }
    for (const w of due) {
      let cell = cells.get(w.key);
      if (cell === undefined) {
        cell = { value: undefined, version: 0, applied: new Map() };
        cells.set(w.key, cell);
      }
      cell.applied.set(batchId, { value: cell.value, version: cell.version });
      if (cell.applied.size > APPLIED_HISTORY)
        cell.applied.delete(cell.applied.keys().next().value as string);
      cell.value = structuredClone(w.value);
      cell.version += 1;
    }
  }

  /** A JSON-serialisable copy of all state (values must be JSON-serialisable). */
  snapshot(): MemoryStateSnapshot {
    const scopes: MemoryStateSnapshot['scopes'] = {};
    for (const [scope, cells] of this.#scopes) {
      const out: MemoryStateSnapshot['scopes'][string] = {};
      for (const [key, cell] of cells) {
        out[key] = {
          value: structuredClone(cell.value),
          version: cell.version,
          applied: [...cell.applied].map(([id, e]) => [
            id,
            { value: structuredClone(e.value), version: e.version },
          ]),
        };
      }
      scopes[scope] = out;
    }
    return { kind: 'kisflow.memory-state-store', version: 1, scopes };
  }

  /** @throws UsageError `BAD_SNAPSHOT` when `obj` is not what `snapshot()` returned. */
  static restore(obj: unknown): MemoryStateStore {
    const parsed = snapshotSchema.safeParse(obj);
    if (!parsed.success) {
      throw new UsageError(
        'BAD_SNAPSHOT',
        `Not a state store snapshot: ${z.prettifyError(parsed.error)}. Delete the file to start from empty state.`,
      );
    }
    const store = new MemoryStateStore();
    for (const [scope, keys] of Object.entries(parsed.data.scopes)) {
      const cells = new Map<string, Cell>();
      for (const [key, cell] of Object.entries(keys)) {
        cells.set(key, {
          value: cell.value,
          version: cell.version,
          applied: new Map(cell.applied.map(([id, e]) => [id, { value: e.value, version: e.version }])),
        });
      }
      store.#scopes.set(scope, cells);
    }
    return store;
  }
}
