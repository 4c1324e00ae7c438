import type { Row } from '../ports.ts';

/**
 * A change captured from a database (DynamoDB Streams, AWS DMS, Debezium), as the row a flow
 * gets: one shape whatever the capture, so a flow can move from one to another.
 * - `op`: `insert`, `update`, `delete`, `snapshot` (a row of a full load or initial snapshot) or
 *   `truncate`;
 * - `table`: `schema.table` (DMS, Debezium) or the DynamoDB table name;
 * - `keys`: the item's key (DynamoDB Streams) when the capture says it;
 * - `before` / `after`: the row's images, `null` where the capture has none (an insert has no
 *   `before`; DMS gives `before` only with BeforeImageSettings);
 * - `committed_at`: when the source committed it (ISO 8601), `null` when unknown.
 */
export interface ChangeRow extends Row {
  readonly op: ChangeOp;
  readonly table: string | null;
  readonly keys?: Row;
  readonly before: Row | null;
  readonly after: Row | null;
  readonly committed_at: string | null;
}

export type ChangeOp = 'insert' | 'update' | 'delete' | 'snapshot' | 'truncate';

/** An ISO 8601 time from epoch milliseconds, or null when there is no valid one. */
export function isoTime(ms: unknown): string | null {
  const n = typeof ms === 'string' && ms.trim() !== '' ? Number(ms) : ms;
  if (typeof n !== 'number' || !Number.isFinite(n)) return null;
  const date = new Date(n);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}
