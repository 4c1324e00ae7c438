import type {
  DynamoDBStreamEvent,
  KinesisStreamEvent,
  MSKEvent,
  SelfManagedKafkaEvent,
  SQSEvent,
} from 'aws-lambda';
import type { FlowSourceSpec } from '../config/model.ts';
import { dynamodbStreamRecords } from './dynamodb-stream-records.ts';
import { type KafkaFormat, kafkaRecords } from './kafka-records.ts';
import { type KinesisFormat, kinesisRecords } from './kinesis-records.ts';
import type { SourceEventKind, SourceRecord } from './source-record.ts';
import { sqsRecords } from './sqs-records.ts';

/** Every event a source's mapping invokes the first step with. */
export type SourceEvent =
  | KinesisStreamEvent
  | DynamoDBStreamEvent
  | MSKEvent
  | SelfManagedKafkaEvent
  | SQSEvent;

/**
 * Which mapping an event is from, by the `eventSource` Lambda puts on it: `aws:kinesis`,
 * `aws:dynamodb`, `aws:kafka` / `SelfManagedKafka` (on the event, not its records), `aws:sqs`.
 */
export function sourceEventKind(event: unknown): SourceEventKind | undefined {
  const e = event as { eventSource?: unknown; Records?: { eventSource?: unknown }[]; records?: unknown };
  if (e?.eventSource === 'aws:kafka' || e?.eventSource === 'SelfManagedKafka') return 'kafka';
  const first = Array.isArray(e?.Records) ? e.Records[0]?.eventSource : undefined;
  if (first === 'aws:kinesis') return 'kinesis';
  if (first === 'aws:dynamodb') return 'dynamodb_stream';
  if (first === 'aws:sqs') return 'sqs';
  return undefined;
}

/**
 * Whether a Kafka source's mapping takes partial batch responses (`ReportBatchItemFailures`).
 * Lambda offers it for Kafka in provisioned mode only, and a mapping without it reads any answer
 * as success, so the mapping's flag and the handler's answer both come from this one rule.
 * https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html
 */
export function kafkaReportsItemFailures(kafka: FlowSourceSpec['kafka']): boolean {
  return kafka?.provisionedPollers !== undefined;
}

/** How the records of a flow's source decode (its `format`, and whether a stream is a connector's). */
export interface SourceDecoding {
  readonly kinesisFormat?: KinesisFormat;
  readonly kafkaFormat?: KafkaFormat;
  readonly connectorRows?: boolean;
}

export function sourceDecoding(source: FlowSourceSpec | undefined): SourceDecoding {
  return {
    kinesisFormat: source?.kinesis?.format ?? 'json',
    kafkaFormat: source?.kafka?.format ?? 'json',
    connectorRows: source?.dynamodbStream?.connector !== undefined,
  };
}

/** The records of a source event, each decoded alone. */
export function sourceRecords(
  kind: SourceEventKind,
  event: SourceEvent,
  decoding: SourceDecoding = {},
): SourceRecord[] {
  switch (kind) {
    case 'kinesis':
      return kinesisRecords(event as KinesisStreamEvent, decoding.kinesisFormat);
    case 'dynamodb_stream':
      return dynamodbStreamRecords(event as DynamoDBStreamEvent, {
        connectorRows: decoding.connectorRows ?? false,
      });
    case 'kafka':
      return kafkaRecords(event as MSKEvent, decoding.kafkaFormat);
    case 'sqs':
      return sqsRecords(event as SQSEvent);
  }
}
