import type { Row } from '../ports.ts';
import type { Decoding } from './payload.ts';

/** The kinds of Lambda event a source hands the flow's first step. */
export type SourceEventKind = 'kinesis' | 'dynamodb_stream' | 'kafka' | 'sqs';

/** Why one record could not become rows: a stable code and a reason naming what was found. */
export interface RecordProblem {
  readonly code: string;
  readonly reason: string;
}

/** What a record decodes to: its rows, or none with the reason they were skipped on purpose. */
export type RecordRows = { readonly rows: readonly Row[] } | { readonly skipped: string };

/**
 * One record of a source event, decoded (or not). Each record is handled alone: its rows become
 * one batch of the flow's first step, and a record that does not decode is dead-lettered with its
 * `problem`, never failing its neighbours.
 */
export interface SourceRecord {
  /** What Lambda's partial batch response names: the sequence number, message id, or Kafka position. */
  readonly itemId: string;
  /** Records with the same key run in their order (partition key, item key, Kafka partition). */
  readonly orderKey: string;
  /** The record as it arrived (JSON), kept as the dead letter's body. */
  readonly raw: string;
  /** Where the record came from (stream, shard or partition, sequence or offset, key, time): the batch's meta. */
  readonly meta: Readonly<Record<string, unknown>>;
  /**
   * When the record entered its stream or queue (epoch ms), as the source stamps it: the same on
   * every redelivery, so the record's stream bucket (kisflow/wire/stream-run.ts) is too.
   */
  readonly arrivedAt?: number;
  /** The rows, when it decoded; empty for a record skipped on purpose (`skipped` says why). */
  readonly rows?: readonly Row[];
  readonly skipped?: string;
  readonly problem?: RecordProblem;
  /** A Kafka record's position: what a Kafka partial batch response names instead of `itemId`. */
  readonly position?: KafkaItemIdentifier;
}

/**
 * How a Kafka partial batch response names a record: its topic-partition (the key of the event's
 * `records`, `<topic>-<partition>`) and its offset; Lambda resumes that partition there.
 */
export interface KafkaItemIdentifier {
  readonly partition: string;
  readonly offset: number;
}

/** The record with what its payload decoded to. */
export function sourceRecord(
  base: Omit<SourceRecord, 'rows' | 'problem' | 'skipped'>,
  result: Decoding<RecordRows>,
): SourceRecord {
  if ('problem' in result) return { ...base, problem: result.problem };
  if ('skipped' in result.value) return { ...base, rows: [], skipped: result.value.skipped };
  return { ...base, rows: result.value.rows };
}
