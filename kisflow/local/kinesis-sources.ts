import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
  ResourceInUseException,
  ResourceNotFoundException,
} from '@aws-sdk/client-kinesis';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { FlowSpec } from '../config/model.ts';
import { flowMetricLabel } from '../config/names.ts';
import { InfrastructureError, UsageError } from '../errors.ts';
import { sourceBatchId } from '../lambda/source-handler.ts';
import { streamCounter } from '../lambda/stream-counts.ts';
import type { Metrics } from '../ports.ts';
import type { RunLedger } from '../runs/run-ledger.ts';
import { streamRunId } from '../wire/stream-run.ts';
import type { KinesisCheckpoints } from './kinesis-checkpoints.ts';
import { type KinesisEventHandler, streamNameOf } from './kinesis-event.ts';
import { sendKinesisFailure } from './kinesis-failure.ts';
import type { IteratorAges } from './kinesis-iterator-age.ts';
import { type KinesisPoller, startKinesisPoller } from './kinesis-poller.ts';

/** Records a flow's filter criteria dropped on purpose, per shard. */
export const KINESIS_FILTERED = 'kinesis_records_filtered';

/** The flows of a project fed by a Kinesis stream (`source.kinesis`). */
export function kinesisFedFlows(flows: readonly FlowSpec[]): FlowSpec[] {
  return flows.filter((f) => f.source?.kinesis !== undefined);
}

/**
 * Creates the stream an ARN names on the endpoint the client talks to, unless it exists, and waits
 * until it is ACTIVE. Locally the stream is the project's to make, as a queue is; the account and
 * region in the ARN are not checked (an emulator has one account).
 * @throws UsageError `KINESIS_SOURCE_INVALID` for an ARN that names no stream.
 */
export async function ensureStream(kinesis: KinesisClient, streamArn: string, shardCount = 1): Promise<void> {
  const StreamName = streamNameOf(streamArn);
  if (StreamName === undefined)
    throw new UsageError(
      'KINESIS_SOURCE_INVALID',
      `source.kinesis.stream_arn must be arn:aws:kinesis:<region>:<account>:stream/<name>, received '${streamArn}'.`,
      { streamArn },
    );
  const status = async (): Promise<string | undefined> => {
    try {
      const out = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName }));
      return out.StreamDescriptionSummary?.StreamStatus;
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
  };
  if ((await status()) === undefined) {
    try {
      await kinesis.send(new CreateStreamCommand({ StreamName, ShardCount: shardCount }));
    } catch (error) {
      // Another process created it first.
      if (!(error instanceof ResourceInUseException)) throw error;
    }
  }
  const deadline = Date.now() + 30_000;
  for (;;) {
    const now = await status();
    if (now === 'ACTIVE' || now === 'UPDATING') return;
    if (Date.now() > deadline)
      throw new InfrastructureError(
        'KINESIS_STREAM_NOT_ACTIVE',
        `Kinesis stream ${StreamName} is ${now ?? 'missing'} after 30 s.`,
        { streamArn },
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface KinesisSourcesOptions {
  readonly kinesis: KinesisClient;
  readonly sqs: SQSClient;
  /** Flows with `source.kinesis` (others are ignored). */
  readonly flows: readonly FlowSpec[];
  /** The function a flow's mapping invokes: its first step, fed by Kinesis. */
  readonly handlerFor: (flow: FlowSpec) => KinesisEventHandler;
  /** The on-failure destination of a flow's mapping: its DLQ. */
  readonly deadLetterQueue: (flow: FlowSpec) => string;
  readonly checkpoints: KinesisCheckpoints;
  readonly iteratorAges: IteratorAges;
  /** Where records dropped by the filter criteria are counted (`kinesis_records_filtered`). */
  readonly metrics: Metrics;
  /**
   * The runs ledger whose stream buckets count the records a mapping gave up on, each one in,
   * dead-lettered. @default - not counted
   */
  readonly ledger?: Pick<RunLedger, 'recordStream'>;
  readonly log: (line: string) => void;
  /** @default - the poller's own */
  readonly idlePollMs?: number;
}

/**
 * Starts one local Kinesis mapping (startKinesisPoller) per Kinesis-fed flow, with the flow's
 * `source.kinesis` options, its first step's handler, its DLQ as the on-failure destination and
 * its iterator age in `iteratorAges`. Streams must exist (ensureStream).
 */
export function startKinesisSources(options: KinesisSourcesOptions): KinesisPoller[] {
  const { kinesis, sqs, checkpoints, iteratorAges, metrics, log } = options;
  const countStream = options.ledger === undefined ? undefined : streamCounter(options.ledger);
  return kinesisFedFlows(options.flows).map((flow) => {
    const source = flow.source?.kinesis as NonNullable<NonNullable<FlowSpec['source']>['kinesis']>;
    const deadLetterQueue = options.deadLetterQueue(flow);
    return startKinesisPoller({
      kinesis,
      streamArn: source.streamArn,
      handler: options.handlerFor(flow),
      consumer: flow.flowId,
      checkpoints,
      startingPosition: source.startingPosition,
      ...(source.startingTimestamp === undefined ? {} : { startingTimestamp: source.startingTimestamp }),
      ...(source.batchSize === undefined ? {} : { batchSize: source.batchSize }),
      ...(source.batchingWindowSeconds === undefined
        ? {}
        : { batchingWindowSeconds: source.batchingWindowSeconds }),
      ...(source.bisectOnError === undefined ? {} : { bisectOnError: source.bisectOnError }),
      ...(source.parallelizationFactor === undefined
        ? {}
        : { parallelizationFactor: source.parallelizationFactor }),
      ...(source.maxRetries === undefined ? {} : { maxRetries: source.maxRetries }),
      ...(source.maxRecordAgeSeconds === undefined
        ? {}
        : { maxRecordAgeSeconds: source.maxRecordAgeSeconds }),
      ...(options.idlePollMs === undefined ? {} : { idlePollMs: options.idlePollMs }),
      ...(source.filters === undefined ? {} : { filters: source.filters }),
      onFiltered: (shard, count) =>
        metrics.count(KINESIS_FILTERED, count, { flow: flowMetricLabel(flow.flowId), shard }),
      timeoutSeconds: flow.tuning.timeoutSeconds,
      functionName: `${flow.flowId}-0-${flow.steps[0]?.fid ?? 'source'}`,
      onFailure: async (failure) => {
        // Counted first: a count is idempotent by batch id, a failure record sent twice is not.
        await Promise.all(
          failure.undone.map((r) =>
            countStream?.(
              {
                flowId: flow.flowId,
                step: 0,
                runId: streamRunId('kinesis', r.ApproximateArrivalTimestamp?.getTime() ?? Date.now()),
                batchId: sourceBatchId('kinesis', source.streamArn, r.SequenceNumber ?? ''),
                rows: [],
                meta: {},
              },
              { in: 1, deadLettered: 1 },
            ),
          ),
        );
        await sendKinesisFailure(sqs, deadLetterQueue, failure, flow.flowId);
        log(
          `kisflow dev: flow ${flow.flowId}: ${failure.record.KinesisBatchInfo.batchSize} Kinesis record(s) of ${failure.record.KinesisBatchInfo.shardId} dead-lettered (${failure.code}): ${failure.reason}`,
        );
      },
      onIteratorAge: (shard, ms) => iteratorAges.set(flow.flowId, shard, ms),
      onError: (error, shard) =>
        log(
          `kisflow dev: flow ${flow.flowId} Kinesis ${shard ?? 'stream'}: ${(error as Error).message ?? error}`,
        ),
    });
  });
}
