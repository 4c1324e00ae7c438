import type { _Record } from '@aws-sdk/client-kinesis';
import type {
  Context,
  KinesisStreamBatchResponse,
  KinesisStreamEvent,
  KinesisStreamRecord,
} from 'aws-lambda';

/** A Lambda handler fed by Kinesis, as the event source mapping calls it. */
export type KinesisEventHandler = (
  event: KinesisStreamEvent,
  context: Context,
  // biome-ignore lint/suspicious/noConfusingVoidType: a Lambda Kinesis handler may return nothing (aws-lambda's KinesisStreamHandler says the same).
) => Promise<KinesisStreamBatchResponse | void>;

/** The stream name in a stream ARN (`arn:aws:kinesis:<region>:<account>:stream/<name>`), or undefined. */
export function streamNameOf(streamArn: string): string | undefined {
  const match = /^arn:[^:]+:kinesis:[^:]*:[^:]*:stream\/([A-Za-z0-9_.-]{1,128})$/.exec(streamArn);
  return match?.[1];
}

/**
 * One record as Lambda's Kinesis mapping hands it to the function: the data base64, the arrival
 * time in epoch seconds (with milliseconds), `eventID` = `<shardId>:<sequenceNumber>`.
 * https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html#services-kinesis-event-example
 */
export function toKinesisStreamRecord(
  record: _Record,
  shardId: string,
  streamArn: string,
): KinesisStreamRecord {
  const region = streamArn.split(':')[3] || 'us-east-1';
  const account = streamArn.split(':')[4] || '000000000000';
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: record.PartitionKey ?? '',
      sequenceNumber: record.SequenceNumber ?? '',
      data: Buffer.from(record.Data ?? new Uint8Array()).toString('base64'),
      approximateArrivalTimestamp: (record.ApproximateArrivalTimestamp?.getTime() ?? Date.now()) / 1000,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${shardId}:${record.SequenceNumber ?? ''}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: `arn:aws:iam::${account}:role/kisflow-dev`,
    awsRegion: region,
    eventSourceARN: streamArn,
  };
}
