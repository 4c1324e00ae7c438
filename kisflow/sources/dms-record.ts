import { type ChangeOp, type ChangeRow, isoTime } from './change-row.ts';
import { type Decoding, isRow, preview, problem } from './payload.ts';
import type { RecordRows } from './source-record.ts';

/**
 * AWS DMS writes each change to its Kinesis target as JSON:
 * `{ "data": {...row...}, "metadata": { "timestamp", "record-type": "data"|"control",
 * "operation": "load"|"insert"|"update"|"delete", "schema-name", "table-name", ... } }`; with
 * BeforeImageSettings the row before an update sits in `data` under the configured field name
 * (`before-image` by default here).
 * https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Target.Kinesis.html
 */
export const DMS_BEFORE_IMAGE_FIELD = 'before-image';

const OPERATIONS: Readonly<Record<string, ChangeOp>> = {
  load: 'snapshot',
  insert: 'insert',
  update: 'update',
  delete: 'delete',
};

/**
 * A DMS record as a change row. Control records (table created, dropped, columns changed) carry
 * no row: skipped on purpose, with the reason.
 */
export function dmsChange(value: unknown, beforeImageField = DMS_BEFORE_IMAGE_FIELD): Decoding<RecordRows> {
  if (!isRow(value) || !isRow(value.metadata)) {
    return problem('DMS_BAD_RECORD', `not a DMS record: no metadata object (${preview(value)})`);
  }
  const meta = value.metadata;
  const recordType = meta['record-type'];
  if (recordType === 'control') {
    return { value: { skipped: `DMS control record (${String(meta.operation ?? 'unknown')})` } };
  }
  const operation = typeof meta.operation === 'string' ? OPERATIONS[meta.operation] : undefined;
  if (recordType !== 'data' || operation === undefined) {
    return problem(
      'DMS_BAD_RECORD',
      `DMS record-type ${preview(recordType)} with operation ${preview(meta.operation)}; expected record-type data with operation load, insert, update or delete`,
    );
  }
  if (!isRow(value.data)) return problem('DMS_BAD_RECORD', `DMS ${meta.operation} record has no data object`);
  const { [beforeImageField]: before, ...image } = value.data;
  const table = [meta['schema-name'], meta['table-name']].filter((p) => typeof p === 'string' && p !== '');
  const change: ChangeRow = {
    op: operation,
    table: table.length === 0 ? null : table.join('.'),
    // DMS's data of a delete is the deleted row: it is the row's before image.
    before: operation === 'delete' ? image : isRow(before) ? before : null,
    after: operation === 'delete' ? null : image,
    committed_at: typeof meta.timestamp === 'string' ? isoTime(Date.parse(meta.timestamp)) : null,
    ...(meta['transaction-id'] === undefined ? {} : { transaction_id: meta['transaction-id'] }),
  };
  return { value: { rows: [change] } };
}
