import type { DynamoDBStreamEvent, KinesisStreamEvent, MSKEvent } from 'aws-lambda';
import type { Row } from '../ports.ts';
import { marshallImage } from './dynamodb-image.ts';

/** What `kisflow send --as` speaks: a source kind, or a change format on one. */
export type SendAs = 'kinesis' | 'kafka' | 'dynamodb_stream' | 'dms' | 'debezium';

export const SEND_AS: readonly SendAs[] = ['kinesis', 'kafka', 'dynamodb_stream', 'dms', 'debezium'];

/** Stand-in ARNs of the local events (no stream exists behind them). */
export const LOCAL_SOURCE_ARNS = {
  kinesis: 'arn:aws:kinesis:us-east-1:000000000000:stream/kisflow-local',
  dynamodb: 'arn:aws:dynamodb:us-east-1:000000000000:table/kisflow-local/stream/local',
  kafka: 'arn:aws:kafka:us-east-1:000000000000:cluster/kisflow-local/00000000-0000-0000-0000-000000000000-1',
} as const;

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64');

/**
 * Rows as the event a source's mapping would deliver, in AWS's shape: each row one Kinesis
 * record, Kafka record, DynamoDB INSERT, DMS insert or Debezium create. `startSequence` numbers
 * the records (sequence numbers, offsets), so two sends of the same rows are distinct records.
 */
export function eventFromRows(
  as: SendAs,
  rows: readonly Row[],
  startSequence = Date.now(),
): KinesisStreamEvent | DynamoDBStreamEvent | MSKEvent {
  const now = Date.now();
  const seq = (i: number) => String(startSequence * 1000 + i);
  const key = (row: Row, i: number) => String(Object.values(row)[0] ?? i);
  if (as === 'kinesis' || as === 'dms') {
    return {
      Records: rows.map((row, i) => ({
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: key(row, i),
          sequenceNumber: seq(i),
          data: b64(
            as === 'dms'
              ? {
                  data: row,
                  metadata: {
                    timestamp: new Date(now).toISOString(),
                    'record-type': 'data',
                    operation: 'insert',
                    'partition-key-type': 'schema-table',
                    'schema-name': 'local',
                    'table-name': 'rows',
                  },
                }
              : row,
          ),
          approximateArrivalTimestamp: now / 1000,
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `shardId-000000000000:${seq(i)}`,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn: 'arn:aws:iam::000000000000:role/kisflow-local',
        awsRegion: 'us-east-1',
        eventSourceARN: LOCAL_SOURCE_ARNS.kinesis,
      })),
    };
  }
  if (as === 'dynamodb_stream') {
    return {
      Records: rows.map((row, i) => ({
        eventID: seq(i),
        eventName: 'INSERT' as const,
        eventVersion: '1.1',
        eventSource: 'aws:dynamodb',
        awsRegion: 'us-east-1',
        dynamodb: {
          ApproximateCreationDateTime: Math.floor(now / 1000),
          Keys: marshallImage({ key: key(row, i) }) as never,
          NewImage: marshallImage(row) as never,
          SequenceNumber: seq(i),
          StreamViewType: 'NEW_AND_OLD_IMAGES' as const,
        },
        eventSourceARN: LOCAL_SOURCE_ARNS.dynamodb,
      })),
    };
  }
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: LOCAL_SOURCE_ARNS.kafka,
    bootstrapServers: '127.0.0.1:9092',
    records: {
      'local-0': rows.map((row, i) => ({
        topic: 'local',
        partition: 0,
        offset: startSequence * 1000 + i,
        timestamp: now,
        timestampType: 'CREATE_TIME' as const,
        key: Buffer.from(key(row, i)).toString('base64'),
        value: b64(
          as === 'debezium'
            ? {
                before: null,
                after: row,
                source: { db: 'local', table: 'rows', ts_ms: now },
                op: 'c',
                ts_ms: now,
              }
            : row,
        ),
        headers: [],
      })),
    },
  };
}
