// Over the usual size on purpose: the four event shapes Lambda's mappings deliver (Kinesis,
// DynamoDB Streams, Kafka, SQS) share one decode → run as a step-0 batch → partial-failure answer
// path, and their per-key ordering rule is one rule; split by kind, each part would restate it.
import { createHash } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import type {
  Context,
  KinesisStreamBatchResponse,
  KinesisStreamEvent,
  SQSEvent,
  SQSRecord,
} from 'aws-lambda';
import { deadLetterMessage } from '../aws/dead-letters.ts';
import type { ProjectConfig } from '../config/model.ts';
import { stepKeys } from '../config/names.ts';
import { type ProjectJson, projectFromJson } from '../config/project-json.ts';
import { EnvelopeError, InfrastructureError, StepError } from '../errors.ts';
import type { Metrics, StepBatch } from '../ports.ts';
import {
  kafkaReportsItemFailures,
  type SourceDecoding,
  type SourceEvent,
  sourceDecoding,
  sourceEventKind,
  sourceRecords,
} from '../sources/source-event.ts';
import type { KafkaItemIdentifier, SourceEventKind, SourceRecord } from '../sources/source-record.ts';
import { encodeEnvelope } from '../wire/envelope.ts';
import { stepDimensions } from '../wire/metric-names.ts';
import { parseWiring, type StepWiring, WIRING_ENV } from '../wire/step-wiring.ts';
import { streamRunId } from '../wire/stream-run.ts';
import { EmfMetrics } from './emf-metrics.ts';
import { sharedLedger } from './shared-ledger.ts';
import { createStepHandler, type StepHandler, type StepHandlerOptions } from './step-handler.ts';
import { streamCounter } from './stream-counts.ts';

/** Counts a source adds to its first step's metrics. */
export const SOURCE_METRICS = {
  /** Records that decoded to no row on purpose (a DMS control record, a Kafka tombstone). */
  skipped: 'source_records_skipped',
  /** Records that could not be decoded, dead-lettered with their reason. */
  undecodable: 'source_records_dead_lettered',
} as const;

export interface SourceHandlerOptions extends Omit<StepHandlerOptions, 'step'> {
  /**
   * How records decode.
   * @default - from the flow's `source`: its `format`; a connector's stream yields the rows it stored
   */
  readonly decoding?: SourceDecoding;
}

/**
 * Lambda's partial batch response for every kind: the records to retry, by sequence number or
 * message id, or (Kafka) by topic-partition and offset.
 */
export interface SourceBatchResponse {
  readonly batchItemFailures: { readonly itemIdentifier: string | KafkaItemIdentifier }[];
}

/**
 * The handler of a flow's first step when a mapping feeds it: the source's events (Kinesis,
 * DynamoDB Streams, Kafka, an existing SQS queue), and the step's own queue's (`kisflow send`,
 * jobs, redrives), which go to the step handler unchanged.
 */
export interface SourceHandler {
  /** A stream's records: named by sequence number, as a Kinesis mapping reads them. */
  (event: KinesisStreamEvent, context?: Context): Promise<KinesisStreamBatchResponse>;
  (event: SourceEvent, context?: Context): Promise<SourceBatchResponse>;
}

/** The Kinesis view of a source handler, as a local shard poller calls it. */
export type KinesisSourceHandler = (
  event: KinesisStreamEvent,
  context?: Context,
) => Promise<KinesisStreamBatchResponse>;

/**
 * The batch id of a source record's rows: the same on every redelivery of the record (so the
 * run's stored results apply once), distinct across streams, shards and topics.
 */
export function sourceBatchId(kind: SourceEventKind, origin: string, itemId: string): string {
  return createHash('sha256').update(`${kind}\u0000${origin}\u0000${itemId}`).digest('hex').slice(0, 32);
}

/**
 * Builds the first step's handler of a flow fed by a source. Each record is decoded alone and its
 * rows run as one batch of step 0 through the step handler (the same engine, delivery, retries and
 * dead letters as a message of the step's queue), so:
 * - a record that does not decode is dead-lettered to the step's DLQ with its code and reason
 *   (once: not while the mapping will hand it over again), its neighbours go on, and the stream's
 *   minute counts it (one in, dead-lettered; a record skipped on purpose: one in, dropped);
 * - a record whose step run fails (retryably) is named in `batchItemFailures`, as is every later
 *   record with the same order key (partition key, item key, Kafka partition, FIFO group): Lambda
 *   then retries from it, and records of one key are never applied out of order. Records of
 *   different keys run in parallel;
 * - a stream position is reported done only after the step's output was sent on (durable in the
 *   next step's queue or the output queue).
 * A Kafka mapping reads partial batch responses only in provisioned mode (`provisioned_pollers`,
 * kafkaReportsItemFailures): there a failed record is named by topic-partition and offset, and
 * its partition resumes from it; otherwise a Kafka batch with a failed record throws, and Lambda
 * retries the whole batch (records already done are no-ops by batch id).
 *
 * @example
 * export const handler = createSourceHandler({ project, flowId: 'orders', fn });
 */
export function createSourceHandler(options: SourceHandlerOptions): SourceHandler {
  const { flowId } = options;
  const project =
    options.project.funcs instanceof Map
      ? (options.project as ProjectConfig)
      : projectFromJson(options.project as ProjectJson);
  const flow = project.flows.get(flowId);
  const fid = flow?.steps[0]?.fid;
  if (flow === undefined || fid === undefined) {
    throw new StepError('UNKNOWN_STEP', `Flow '${flowId}' has no first step to feed.`, { flowId });
  }
  const wiring: StepWiring = parseWiring(options.wiring ?? readWiringText());
  const sqs = options.clients?.sqs ?? new SQSClient({});
  const dynamodb = options.clients?.dynamodb ?? new DynamoDBClient({});
  const clients = { ...options.clients, sqs, dynamodb };
  // Records that become no rows are counted in the stream's buckets too, through the step's ledger.
  const countStream =
    wiring.runsTable === undefined ? undefined : streamCounter(sharedLedger(dynamodb, wiring.runsTable));
  const step: StepHandler = createStepHandler({ ...options, project, step: 0, wiring, clients });
  const decoding = options.decoding ?? sourceDecoding(flow.source);
  const sourceQueueArn = flow.source?.sqs?.queueArn;
  const kafkaPartial = kafkaReportsItemFailures(flow.source?.kafka);
  const stepKey = stepKeys(flow.steps.map((s) => s.fid))[0] as string;
  const dims = Object.freeze(stepDimensions(flowId, 0, fid));
  const emf = options.metrics === undefined ? new EmfMetrics(wiring.metricsNamespace, dims) : undefined;
  const metrics: Metrics = options.metrics ?? (emf as EmfMetrics);
  const logger = new Logger({
    serviceName: 'kisflow',
    persistentKeys: { flow: flowId, step: 0, fid },
    ...(options.logLevel === undefined ? {} : { logLevel: options.logLevel }),
  });

  /**
   * Dead-letters what cannot become rows; resolves when it is safe to move past the record. Each
   * is counted in the stream's minute as one record in, dead-lettered or dropped on purpose.
   */
  const settleWithoutRows = async (
    kind: SourceEventKind,
    record: SourceRecord,
    origin: string,
  ): Promise<void> => {
    const count = (counters: { in: number; deadLettered?: number; dropped?: number }) =>
      countStream?.(
        {
          flowId,
          step: 0,
          runId: streamRunId(kind, record.arrivedAt ?? Date.now()),
          batchId: sourceBatchId(kind, origin, record.itemId),
          rows: [],
          meta: {},
        },
        counters,
      );
    if (record.problem !== undefined) {
      // Counted first: a count is idempotent, a dead letter sent twice is not.
      await count({ in: 1, deadLettered: 1 });
      await deadLetterMessage(sqs, wiring.deadLetterQueue, record.raw, {
        code: record.problem.code,
        message: record.problem.reason,
        flow: flowId,
        step: 0,
        fid,
      });
      metrics.count(SOURCE_METRICS.undecodable, 1, dims);
      logger.warn('source record dead-lettered', {
        itemId: record.itemId,
        code: record.problem.code,
        reason: record.problem.reason,
      });
      return;
    }
    await count({ in: 1, dropped: 1 });
    metrics.count(SOURCE_METRICS.skipped, 1, dims);
    logger.info('source record skipped', { itemId: record.itemId, reason: record.skipped });
  };

  const asMessage = (kind: SourceEventKind, record: SourceRecord, origin: string): SQSRecord => {
    const batchId = sourceBatchId(kind, origin, record.itemId);
    const batch: StepBatch = {
      flowId,
      step: 0,
      stepKey,
      // Continuous sources are not one run each: their batches are counted per minute of arrival.
      runId: streamRunId(kind, record.arrivedAt ?? Date.now()),
      batchId,
      rows: record.rows ?? [],
      meta: record.meta,
    };
    return {
      messageId: record.itemId,
      receiptHandle: '',
      body: encodeEnvelope(batch),
      // A stream's mapping retries the batch itself (max_retries, then the on-failure
      // destination): to the step every delivery is a first one.
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: String(Date.now()),
        SenderId: 'kisflow-source',
        ApproximateFirstReceiveTimestamp: String(Date.now()),
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: origin,
      awsRegion: '',
    };
  };

  const handle = async (event: SourceEvent, context?: Context): Promise<SourceBatchResponse> => {
    const kind = sourceEventKind(event);
    if (kind === undefined) {
      throw new EnvelopeError(
        'UNKNOWN_EVENT',
        `The first step of flow '${flowId}' received an event that is from no source it knows (Kinesis, DynamoDB Streams, Kafka, SQS).`,
        { flowId },
      );
    }
    if (kind === 'sqs' && !isFromQueue(event as SQSEvent, sourceQueueArn)) {
      return step(event as SQSEvent, context ?? ({} as Context));
    }
    const origin = originOf(kind, event);
    const records = sourceRecords(kind, event, decoding);
    const failed = new Set<string>();
    // Waves: the n-th record of every order key together; a key whose record failed stops there.
    // Records that become no rows wait for the end: one the mapping hands over again (see below)
    // must not be dead-lettered twice.
    const groups = new Map<string, SourceRecord[]>();
    for (const record of records) {
      const group = groups.get(record.orderKey);
      if (group === undefined) groups.set(record.orderKey, [record]);
      else group.push(record);
    }
    const blocked = new Set<string>();
    const longest = Math.max(0, ...[...groups.values()].map((g) => g.length));
    for (let wave = 0; wave < longest; wave++) {
      const toRun = [...groups.entries()].flatMap(([key, group]) => {
        const r = group[wave];
        return blocked.has(key) || r === undefined || (r.rows?.length ?? 0) === 0 ? [] : [r];
      });
      if (toRun.length === 0) continue;
      const response = await step(
        { Records: toRun.map((r) => asMessage(kind, r, origin)) },
        context ?? ({} as Context),
      );
      for (const f of response.batchItemFailures) failed.add(f.itemIdentifier);
      for (const r of toRun) if (failed.has(r.itemId)) blocked.add(r.orderKey);
    }
    // From a key's first failed record on, every record is retried: none is applied ahead of it.
    const retried = (): SourceRecord[] =>
      [...groups.values()].flatMap((group) => {
        const first = group.findIndex((r) => failed.has(r.itemId));
        return first < 0 ? [] : group.slice(first);
      });
    // What the mapping hands over again: a stream (Kinesis, DynamoDB) resumes at its first failed
    // record, every later one included; a Kafka batch with a failure comes back whole, unless the
    // mapping takes partial responses (then each failed partition resumes at its first failure);
    // SQS redelivers only the failed messages.
    const handedAgain = (): Set<SourceRecord> => {
      const again = retried();
      if (again.length === 0) return new Set();
      if (kind === 'kafka' && !kafkaPartial) return new Set(records);
      if (kind === 'sqs' || kind === 'kafka') return new Set(again);
      const cut = Math.min(...again.map((r) => records.indexOf(r)));
      return new Set(records.slice(cut));
    };
    // In record order, each at most once: a settle that fails makes it (and, on a stream, all after
    // it) come back, so none after it is settled now.
    let again = handedAgain();
    for (const r of records) {
      if ((r.rows?.length ?? 0) > 0 || again.has(r)) continue;
      try {
        await settleWithoutRows(kind, r, origin);
      } catch (error) {
        logger.error('could not dead-letter a source record; it will be retried', {
          itemId: r.itemId,
          error: (error as Error).message,
        });
        failed.add(r.itemId);
        again = handedAgain();
      }
    }
    const toRetry = retried();
    if (emf !== undefined) emf.powertools.publishStoredMetrics();
    // Without ReportBatchItemFailures on the mapping, Lambda would read any answer as success.
    if (kind === 'kafka' && !kafkaPartial && toRetry.length > 0) {
      throw new InfrastructureError(
        'SOURCE_BATCH_RETRY',
        `${toRetry.length} of ${records.length} Kafka records of flow '${flowId}' failed (first: ${toRetry[0]?.itemId}); Lambda retries the batch, and records already done are not applied again.`,
        { flowId, failed: toRetry.map((r) => r.itemId) },
      );
    }
    const batchItemFailures = toRetry.map((r) => ({
      itemIdentifier: kind === 'kafka' ? (r.position as KafkaItemIdentifier) : r.itemId,
    }));
    return { batchItemFailures };
  };
  return handle as SourceHandler;
}

function isFromQueue(event: SQSEvent, queueArn: string | undefined): boolean {
  return queueArn !== undefined && event.Records.some((r) => r.eventSourceARN === queueArn);
}

/** The stream, topic or queue the event's records come from (part of each batch id). */
function originOf(kind: SourceEventKind, event: SourceEvent): string {
  const e = event as {
    eventSourceArn?: string;
    bootstrapServers?: string;
    Records?: { eventSourceARN?: string }[];
  };
  if (kind === 'kafka') return e.eventSourceArn ?? e.bootstrapServers ?? 'kafka';
  return e.Records?.[0]?.eventSourceARN ?? kind;
}

function readWiringText(): string {
  const text = process.env[WIRING_ENV];
  if (!text) {
    throw new InfrastructureError(
      'WIRING_MISSING',
      `The source handler has no wiring: set ${WIRING_ENV} to the StepWiring JSON (the CDK app does) or pass options.wiring.`,
    );
  }
  return text;
}
