import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { Row } from '../ports.ts';
import { type ChangeOp, type ChangeRow, isoTime } from './change-row.ts';
import { unmarshallImage } from './dynamodb-image.ts';
import { type Decoding, isRow, jsonRow, problem } from './payload.ts';
import { type RecordRows, type SourceRecord, sourceRecord } from './source-record.ts';

/**
 * The attribute a KisFlow connector table keeps each row in, as JSON text (ROW_ATTRIBUTE of
 * kisflow/aws/dynamodb-connector-store.ts; a test keeps the two equal).
 */
export const CONNECTOR_ROW_ATTRIBUTE = 'row';

const OPERATIONS: Readonly<Record<string, ChangeOp>> = {
  INSERT: 'insert',
  MODIFY: 'update',
  REMOVE: 'delete',
};

export interface DynamodbStreamOptions {
  /**
   * The stream is a KisFlow connector table's: images are the rows it stored (its `row`
   * attribute), not the raw items.
   */
  readonly connectorRows?: boolean;
}

/**
 * The records of a DynamoDB stream event as change rows: `op` from the event name, the table,
 * `keys`, `before` (old image) and `after` (new image) unmarshalled, `committed_at` from the
 * record's creation time, `event_name` as DynamoDB says it, and `expired: true` for a TTL delete.
 */
export function dynamodbStreamRecords(
  event: DynamoDBStreamEvent,
  options: DynamodbStreamOptions = {},
): SourceRecord[] {
  return event.Records.map((record) => dynamodbStreamRecord(record, options));
}

function dynamodbStreamRecord(record: DynamoDBRecord, options: DynamodbStreamOptions): SourceRecord {
  const d = record.dynamodb ?? {};
  const sequence = String(d.SequenceNumber ?? record.eventID ?? '');
  const base = {
    itemId: sequence,
    orderKey: JSON.stringify(d.Keys ?? {}),
    raw: JSON.stringify(record),
    ...(Number(d.ApproximateCreationDateTime) > 0
      ? { arrivedAt: Math.round(Number(d.ApproximateCreationDateTime) * 1000) }
      : {}),
    meta: {
      source: 'dynamodb_stream',
      stream: record.eventSourceARN,
      event_id: record.eventID,
      sequence,
    },
  };
  return sourceRecord(base, change(record, options));
}

function change(record: DynamoDBRecord, options: DynamodbStreamOptions): Decoding<RecordRows> {
  const d = record.dynamodb ?? {};
  const op = OPERATIONS[String(record.eventName)];
  if (op === undefined) {
    return problem(
      'DYNAMODB_BAD_RECORD',
      `eventName ${JSON.stringify(record.eventName)}; expected INSERT, MODIFY or REMOVE`,
    );
  }
  const keys = unmarshallImage(d.Keys, 'Keys');
  if ('problem' in keys) return keys;
  const image = (name: 'OldImage' | 'NewImage'): Decoding<Row | null> => {
    if (d[name] === undefined) return { value: null };
    const item = unmarshallImage(d[name], name);
    if ('problem' in item || !options.connectorRows) return item;
    const stored = item.value[CONNECTOR_ROW_ATTRIBUTE];
    if (typeof stored !== 'string') {
      return problem(
        'DYNAMODB_BAD_RECORD',
        `${name} has no ${CONNECTOR_ROW_ATTRIBUTE} attribute: not an item a connector stored`,
      );
    }
    return jsonRow(stored, `${name}.${CONNECTOR_ROW_ATTRIBUTE}`);
  };
  const before = image('OldImage');
  if ('problem' in before) return before;
  const after = image('NewImage');
  if ('problem' in after) return after;
  const created = Number(d.ApproximateCreationDateTime);
  const row: ChangeRow = {
    op,
    table: tableOf(record.eventSourceARN),
    keys: keys.value,
    before: before.value,
    after: after.value,
    committed_at: Number.isFinite(created) ? isoTime(created * 1000) : null,
    event_name: record.eventName,
    ...(isRow(record.userIdentity) && record.userIdentity.principalId === 'dynamodb.amazonaws.com'
      ? { expired: true }
      : {}),
  };
  return { value: { rows: [row] } };
}

function tableOf(arn: string | undefined): string | null {
  return /:table\/([^/]+)\/stream\//.exec(arn ?? '')?.[1] ?? null;
}
