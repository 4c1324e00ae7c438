import type { _Record } from '@aws-sdk/client-kinesis';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { InfrastructureError } from '../errors.ts';
import { deadLetterAttributes } from '../wire/dead-letter-record.ts';

/** Why Lambda gave up on a Kinesis batch (the invocation record's `condition`). */
export type KinesisFailureCondition = 'RetryAttemptsExhausted' | 'RecordAgeExceeded';

/**
 * What Lambda's Kinesis mapping sends to its on-failure destination for a batch it gave up on: the
 * batch's position (shard, first and last sequence number), not the records, which stay readable
 * in the stream for its retention. Same shape here as in AWS, so one reader serves both.
 * https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html
 */
export interface KinesisFailureRecord {
  readonly requestContext: {
    readonly requestId: string;
    readonly functionArn: string;
    readonly condition: KinesisFailureCondition;
    readonly approximateInvokeCount: number;
  };
  readonly responseContext: {
    readonly statusCode: number;
    readonly executedVersion: string;
    readonly functionError: string;
  };
  readonly version: '1.0';
  readonly timestamp: string;
  readonly KinesisBatchInfo: {
    readonly shardId: string;
    readonly startSequenceNumber: string;
    readonly endSequenceNumber: string;
    readonly approximateArrivalOfFirstRecord: string;
    readonly approximateArrivalOfLastRecord: string;
    readonly batchSize: number;
    readonly streamArn: string;
  };
}

/** A batch the local mapping gave up on, with the reason (the handler's last error). */
export interface KinesisBatchFailure {
  readonly record: KinesisFailureRecord;
  /** `RETRIES_EXHAUSTED` or `RECORD_AGE_EXCEEDED`. */
  readonly code: string;
  readonly reason: string;
  /**
   * The records of the range not done: all of them, unless the handler's last partial batch
   * response named which failed (the failure record names only the range).
   */
  readonly undone: readonly _Record[];
}

export function kinesisFailure(options: {
  readonly records: readonly _Record[];
  readonly undone: readonly _Record[];
  readonly shardId: string;
  readonly streamArn: string;
  readonly functionArn: string;
  readonly requestId: string;
  readonly condition: KinesisFailureCondition;
  readonly invokeCount: number;
  readonly reason: string;
}): KinesisBatchFailure {
  const { records, condition } = options;
  const first = records[0];
  const last = records[records.length - 1];
  const arrival = (r: _Record | undefined) => (r?.ApproximateArrivalTimestamp ?? new Date()).toISOString();
  return {
    code: condition === 'RecordAgeExceeded' ? 'RECORD_AGE_EXCEEDED' : 'RETRIES_EXHAUSTED',
    reason: options.reason,
    undone: options.undone,
    record: {
      requestContext: {
        requestId: options.requestId,
        functionArn: options.functionArn,
        condition,
        approximateInvokeCount: options.invokeCount,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: new Date().toISOString(),
      KinesisBatchInfo: {
        shardId: options.shardId,
        startSequenceNumber: first?.SequenceNumber ?? '',
        endSequenceNumber: last?.SequenceNumber ?? '',
        approximateArrivalOfFirstRecord: arrival(first),
        approximateArrivalOfLastRecord: arrival(last),
        batchSize: records.length,
        streamArn: options.streamArn,
      },
    },
  };
}

/**
 * Sends a failure record to a queue (the flow's DLQ), with the reason in the same message
 * attributes as every other dead letter, so `kisflow dlq` lists it with its code and reason.
 * @throws InfrastructureError `KINESIS_FAILURE_SEND_FAILED` (retryable) when SQS refuses it.
 */
export async function sendKinesisFailure(
  sqs: SQSClient,
  queueUrl: string,
  failure: KinesisBatchFailure,
  flowId?: string,
): Promise<void> {
  try {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify(failure.record),
        MessageAttributes: deadLetterAttributes({
          code: failure.code,
          message: failure.reason,
          ...(flowId === undefined ? {} : { flow: flowId, step: 0 }),
        }),
      }),
    );
  } catch (error) {
    throw new InfrastructureError(
      'KINESIS_FAILURE_SEND_FAILED',
      `Cannot send the failed Kinesis batch of ${failure.record.KinesisBatchInfo.shardId} to ${queueUrl}: ${(error as Error).message}`,
      { queueUrl, shardId: failure.record.KinesisBatchInfo.shardId },
      { cause: error },
    );
  }
}
