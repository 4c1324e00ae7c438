import type { SQSEvent } from 'aws-lambda';
import { jsonRows } from './kinesis-records.ts';
import { jsonValue } from './payload.ts';
import { type SourceRecord, sourceRecord } from './source-record.ts';

/**
 * The messages of an existing queue a flow consumes: each body is a JSON row or a list of rows.
 * Order is kept per message group (FIFO queues); standard queues have none to keep.
 */
export function sqsRecords(event: SQSEvent): SourceRecord[] {
  return event.Records.map((record) => {
    const base = {
      itemId: record.messageId,
      orderKey: record.attributes?.MessageGroupId ?? record.messageId,
      raw: record.body,
      ...(Number(record.attributes?.SentTimestamp) > 0
        ? { arrivedAt: Number(record.attributes?.SentTimestamp) }
        : {}),
      meta: {
        source: 'sqs',
        queue: record.eventSourceARN,
        message_id: record.messageId,
        sent_at: sentAt(record.attributes?.SentTimestamp),
      },
    };
    const value = jsonValue(record.body, 'body');
    return sourceRecord(base, 'problem' in value ? value : jsonRows(value.value));
  });
}

function sentAt(ms: string | undefined): string | null {
  const n = Number(ms);
  return ms !== undefined && Number.isFinite(n) ? new Date(n).toISOString() : null;
}
