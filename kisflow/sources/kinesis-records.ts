import type { KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import type { Row } from '../ports.ts';
import { dmsChange } from './dms-record.ts';
import { base64Text, type Decoding, isRow, jsonValue, preview, problem } from './payload.ts';
import { type RecordRows, type SourceRecord, sourceRecord } from './source-record.ts';

export type KinesisFormat = 'json' | 'dms';

/**
 * The records of a Kinesis event: each record's data (base64) is a JSON row, or a JSON list of
 * rows, or (`dms`) a DMS change record. The meta says where it came from: stream, shard,
 * partition key, sequence number and arrival time.
 */
export function kinesisRecords(event: KinesisStreamEvent, format: KinesisFormat = 'json'): SourceRecord[] {
  return event.Records.map((record) => kinesisRecord(record, format));
}

function kinesisRecord(record: KinesisStreamRecord, format: KinesisFormat): SourceRecord {
  const k = record.kinesis ?? ({} as Partial<KinesisStreamRecord['kinesis']>);
  const sequence = String(k.sequenceNumber ?? record.eventID ?? '');
  const arrived = Number(k.approximateArrivalTimestamp);
  const base = {
    itemId: sequence,
    orderKey: String(k.partitionKey ?? ''),
    raw: JSON.stringify(record),
    ...(arrived > 0 ? { arrivedAt: Math.round(arrived * 1000) } : {}),
    meta: {
      source: 'kinesis',
      stream: record.eventSourceARN,
      shard: String(record.eventID ?? '').split(':')[0],
      partition_key: k.partitionKey,
      sequence,
      arrived_at: Number.isFinite(arrived) ? new Date(arrived * 1000).toISOString() : null,
    },
  };
  const text = base64Text(k.data, 'data');
  if ('problem' in text) return sourceRecord(base, text);
  const value = jsonValue(text.value, 'data');
  if ('problem' in value) return sourceRecord(base, value);
  return sourceRecord(base, format === 'dms' ? dmsChange(value.value) : jsonRows(value.value));
}

/** A JSON object is one row; a list of objects is that many rows (a producer that batches). */
export function jsonRows(value: unknown): Decoding<RecordRows> {
  if (isRow(value)) return { value: { rows: [value] } };
  if (Array.isArray(value) && value.length > 0 && value.every(isRow))
    return { value: { rows: value as Row[] } };
  return problem(
    'SOURCE_NOT_OBJECT',
    `the record's data is JSON but not a row or a list of rows: ${preview(value)}`,
  );
}
