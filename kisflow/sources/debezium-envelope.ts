import { type ChangeOp, type ChangeRow, isoTime } from './change-row.ts';
import { type Decoding, isRow, preview, problem } from './payload.ts';
import type { RecordRows } from './source-record.ts';

/**
 * Debezium's change event as a change row. The value is the envelope `{ before, after, source,
 * op, ts_ms }`, or, with the JSON converter's schemas on, `{ schema, payload: <envelope> }`.
 * A tombstone (null value, after a delete, for log compaction) carries no row: skipped on purpose.
 * https://debezium.io/documentation/reference/stable/connectors/mysql.html#mysql-change-event-values
 */
const OPERATIONS: Readonly<Record<string, ChangeOp>> = {
  c: 'insert',
  u: 'update',
  d: 'delete',
  r: 'snapshot',
  t: 'truncate',
};

export function debeziumChange(value: unknown): Decoding<RecordRows> {
  if (value === null) return { value: { skipped: 'Kafka tombstone (null value after a delete)' } };
  const envelope = isRow(value) && isRow(value.payload) && 'schema' in value ? value.payload : value;
  if (!isRow(envelope) || typeof envelope.op !== 'string' || !isRow(envelope.source)) {
    return problem(
      'DEBEZIUM_BAD_ENVELOPE',
      `not a Debezium change envelope: expected { op, before, after, source } (${preview(value)})`,
    );
  }
  if (envelope.op === 'm') return { value: { skipped: 'Debezium message event (op m) carries no row' } };
  const op = OPERATIONS[envelope.op];
  if (op === undefined) {
    return problem('DEBEZIUM_BAD_ENVELOPE', `Debezium op ${preview(envelope.op)}; expected c, u, d, r or t`);
  }
  const image = (name: 'before' | 'after') => {
    const v = envelope[name];
    return isRow(v) ? v : null;
  };
  for (const name of ['before', 'after'] as const) {
    const v = envelope[name];
    if (v !== undefined && v !== null && !isRow(v)) {
      return problem('DEBEZIUM_BAD_ENVELOPE', `Debezium ${name} is not a row (${preview(v)})`);
    }
  }
  const { source } = envelope;
  const schema = typeof source.schema === 'string' ? source.schema : source.db;
  const table = [schema, source.table].filter((p) => typeof p === 'string' && p !== '');
  const change: ChangeRow = {
    op,
    table: table.length === 0 ? null : table.join('.'),
    before: image('before'),
    after: image('after'),
    // source.ts_ms is when the database committed it; the envelope's ts_ms when Debezium read it.
    committed_at: isoTime(source.ts_ms ?? envelope.ts_ms),
  };
  return { value: { rows: [change] } };
}
