import type { MSKEvent, MSKRecord, SelfManagedKafkaEvent } from 'aws-lambda';
import { isoTime } from './change-row.ts';
import { debeziumChange } from './debezium-envelope.ts';
import { jsonRows } from './kinesis-records.ts';
import { base64Text, jsonValue } from './payload.ts';
import { type SourceRecord, sourceRecord } from './source-record.ts';

export type KafkaFormat = 'json' | 'debezium';

/** The id a Kafka record goes by: topic, partition and offset. */
export function kafkaItemId(record: Pick<MSKRecord, 'topic' | 'partition' | 'offset'>): string {
  return `${record.topic}-${record.partition}@${record.offset}`;
}

/**
 * The records of an MSK or self-managed Kafka event, in partition order: each value (base64) is a
 * JSON row, or (`debezium`) a Debezium change envelope. The meta says topic, partition, offset,
 * key and timestamp; headers come as text.
 */
export function kafkaRecords(
  event: MSKEvent | SelfManagedKafkaEvent,
  format: KafkaFormat = 'json',
): SourceRecord[] {
  return Object.entries(event.records ?? {}).flatMap(([partition, records]) =>
    records.map((r) => kafkaRecord(r, format, partition)),
  );
}

function kafkaRecord(record: MSKRecord, format: KafkaFormat, partition: string): SourceRecord {
  const key = record.key === undefined || record.key === null ? undefined : base64Text(record.key, 'key');
  const base = {
    itemId: kafkaItemId(record),
    // Kafka keeps order per partition; a key always lands in one partition.
    orderKey: partition,
    position: { partition, offset: Number(record.offset) },
    raw: JSON.stringify(record),
    ...(Number(record.timestamp) > 0 ? { arrivedAt: Number(record.timestamp) } : {}),
    meta: {
      source: 'kafka',
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      key: key === undefined || 'problem' in key ? null : key.value,
      timestamp: isoTime(record.timestamp),
      headers: headers(record.headers),
    },
  };
  if (key !== undefined && 'problem' in key) return sourceRecord(base, key);
  if (record.value === undefined || record.value === null) {
    return sourceRecord(
      base,
      format === 'debezium'
        ? debeziumChange(null)
        : { value: { skipped: 'Kafka record with no value (a tombstone)' } },
    );
  }
  const text = base64Text(record.value, 'value');
  if ('problem' in text) return sourceRecord(base, text);
  const value = jsonValue(text.value, 'value');
  if ('problem' in value) return sourceRecord(base, value);
  return sourceRecord(base, format === 'debezium' ? debeziumChange(value.value) : jsonRows(value.value));
}

/** Lambda gives each header as a list of bytes; as text they read. */
function headers(list: MSKRecord['headers'] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const header of list ?? []) {
    for (const [name, bytes] of Object.entries(header ?? {})) {
      if (Array.isArray(bytes)) out[name] = Buffer.from(bytes).toString('utf8');
    }
  }
  return out;
}
