import { createHash, randomUUID } from 'node:crypto';
import {
  type _Record,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type GetShardIteratorCommandInput,
  type KinesisClient,
  ListShardsCommand,
  type ListShardsCommandOutput,
  type Shard,
} from '@aws-sdk/client-kinesis';
import type { KinesisStreamBatchResponse } from 'aws-lambda';
import { UsageError } from '../errors.ts';
import { kinesisRecordFilter } from './event-filter.ts';
import { checkpointKey, type KinesisCheckpoints } from './kinesis-checkpoints.ts';
import { type KinesisEventHandler, streamNameOf, toKinesisStreamRecord } from './kinesis-event.ts';
import { type KinesisBatchFailure, type KinesisFailureCondition, kinesisFailure } from './kinesis-failure.ts';
import { lambdaContext } from './poller.ts';

const TIMED_OUT = Symbol('timed out');

export interface KinesisPollerOptions {
  readonly kinesis: KinesisClient;
  /** The stream, as the flow's `source.kinesis.stream_arn` names it (the events carry it). */
  readonly streamArn: string;
  readonly handler: KinesisEventHandler;
  /** Who consumes (a flow id): checkpoints are kept per consumer, as each mapping keeps its own. */
  readonly consumer: string;
  readonly checkpoints: KinesisCheckpoints;
  /** Where a shard starts when it has no checkpoint. */
  readonly startingPosition: 'latest' | 'trim_horizon' | 'at_timestamp';
  /** ISO 8601, for `at_timestamp`. */
  readonly startingTimestamp?: string;
  /** Records per invocation (ESM `BatchSize`, 1 to 10000). @default 100 */
  readonly batchSize?: number;
  /** Seconds to keep reading until the batch is full (ESM `MaximumBatchingWindowInSeconds`). @default 0 */
  readonly batchingWindowSeconds?: number;
  /** Split a batch whose invocation failed in two before retrying (ESM `BisectBatchOnFunctionError`). @default false */
  readonly bisectOnError?: boolean;
  /**
   * Batches of one shard in flight at once (ESM `ParallelizationFactor`, 1 to 10); records of the
   * same partition key stay in order, in one batch after another. @default 1
   */
  readonly parallelizationFactor?: number;
  /** Retries of a failing batch before it goes to `onFailure`; -1: until the record expires. @default -1 */
  readonly maxRetries?: number;
  /** Records older than this go to `onFailure` unprocessed; -1: no limit. @default -1 */
  readonly maxRecordAgeSeconds?: number;
  /**
   * The on-failure destination: a batch given up on (retries exhausted, records too old) is handed
   * here and the shard moves past it only once this resolved; a rejection is retried.
   */
  readonly onFailure: (failure: KinesisBatchFailure) => Promise<void>;
  /** Lambda's filter criteria (kinesisRecordFilter): records no filter matches are never handed over. @default - none */
  readonly filters?: readonly Record<string, unknown>[];
  /** Records filtered out (dropped on purpose, the checkpoint moves past them). */
  readonly onFiltered?: (shardId: string, count: number) => void;
  /** The function timeout; an invocation still running then fails as a whole. @default 30 */
  readonly timeoutSeconds?: number;
  /** Name in the handler's `context.functionName`. @default `consumer` */
  readonly functionName?: string;
  /** Milliseconds between reads of a shard that had nothing new (Lambda polls each shard once a second). @default 1000 */
  readonly idlePollMs?: number;
  /** First delay before a failed batch is retried; doubles up to 5 s. @default 200 */
  readonly retryDelayMs?: number;
  /** Milliseconds between listings of the stream's shards (to find the children of a reshard). @default 10000 */
  readonly shardRefreshMs?: number;
  /** Lambda's `IteratorAge`: ms between a batch's last record arriving and its read (0 when caught up). */
  readonly onIteratorAge?: (shardId: string, ms: number) => void;
  /** Failed invocations, reads and destination sends; the poller carries on. @default - ignored */
  readonly onError?: (error: unknown, shardId?: string) => void;
}

export interface KinesisPoller {
  /** Stops reading: an invocation in flight finishes and is checkpointed; nothing after it starts. */
  stop(): Promise<void>;
}

interface Outcome {
  /** Index of the first record to retry; undefined when the whole batch succeeded. */
  readonly failedAt?: number;
  /** The invocation failed as a whole (threw, timed out, answered nonsense), not record by record. */
  readonly functionError?: boolean;
  /** The sequence numbers the answer named as failed (a partial batch response). */
  readonly named?: ReadonlySet<string>;
  readonly reason?: string;
}

/**
 * Plays Lambda's Kinesis event source mapping locally. Per shard, in order: reads from its
 * checkpoint (else the starting position), gathers up to `batchSize` records within the batching
 * window, invokes the handler with a `KinesisStreamEvent` built as Lambda builds it, and
 * checkpoints. A response's `batchItemFailures` checkpoints before the lowest failed sequence
 * number and retries from there; a failed invocation is retried whole, or bisected until the
 * failing record is alone when `bisectOnError`; a batch out of retries or past its age goes to the
 * on-failure destination and the shard moves on. A parallelization factor above 1 runs that many
 * batches of a shard at once, grouped by partition key, so each key keeps its order. Checkpoints are durable, so a new poller resumes
 * right after the last batch done: a record is handed twice only when the process died between an
 * invocation and its checkpoint (as in AWS, handlers are idempotent). Children of a resharded
 * shard start once their parents are done. Filter criteria
 * drop the records they do not match before the batch is handed over, as Lambda does.
 * https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html
 *
 * @throws UsageError `KINESIS_SOURCE_INVALID` for a stream ARN, batch size or timestamp AWS refuses.
 * @example
 * const poller = startKinesisPoller({ kinesis, streamArn, handler, consumer: 'orders', checkpoints,
 *   startingPosition: 'trim_horizon', onFailure: (f) => sendKinesisFailure(sqs, dlqUrl, f, 'orders') });
 * await poller.stop();
 */
export function startKinesisPoller(options: KinesisPollerOptions): KinesisPoller {
  const {
    kinesis,
    streamArn,
    handler,
    consumer,
    checkpoints,
    batchSize = 100,
    batchingWindowSeconds = 0,
    bisectOnError = false,
    parallelizationFactor = 1,
    maxRetries = -1,
    maxRecordAgeSeconds = -1,
    onFailure,
    timeoutSeconds = 30,
    idlePollMs = 1000,
    retryDelayMs = 200,
    shardRefreshMs = 10_000,
    onIteratorAge = () => {},
    onFiltered = () => {},
    onError = () => {},
  } = options;
  const keep = kinesisRecordFilter(options.filters);
  const streamName = streamNameOf(streamArn);
  const invalid = (message: string) =>
    new UsageError('KINESIS_SOURCE_INVALID', message, { consumer, streamArn });
  if (streamName === undefined)
    throw invalid(
      `source.kinesis.stream_arn must be arn:aws:kinesis:<region>:<account>:stream/<name>, received '${streamArn}'.`,
    );
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000)
    throw invalid(`source.kinesis.batch_size must be an integer from 1 to 10000, received ${batchSize}.`);
  if (!Number.isInteger(parallelizationFactor) || parallelizationFactor < 1 || parallelizationFactor > 10)
    throw invalid(
      `source.kinesis.parallelization_factor must be an integer from 1 to 10, received ${parallelizationFactor}.`,
    );
  // One read feeds every concurrent batch of the shard (GetRecords returns at most 10000).
  const readLimit = Math.min(10_000, batchSize * parallelizationFactor);
  const startingTime =
    options.startingPosition === 'at_timestamp' ? Date.parse(options.startingTimestamp ?? '') : undefined;
  if (startingTime !== undefined && Number.isNaN(startingTime))
    throw invalid(
      `source.kinesis.starting_timestamp must be an ISO 8601 time for at_timestamp, received '${options.startingTimestamp ?? ''}'.`,
    );
  const functionName = options.functionName ?? consumer;
  const functionArn = `arn:aws:lambda:${streamArn.split(':')[3]}:${streamArn.split(':')[4]}:function:${functionName}`;
  const stopping = new AbortController();
  const stopped = () => stopping.signal.aborted;
  const lanes = new Map<string, Promise<void>>();
  const ended = new Set<string>();

  const iteratorFor = async (shardId: string, fromParent: boolean): Promise<string> => {
    const key = checkpointKey(consumer, streamArn, shardId);
    const checkpoint = checkpoints.get(key);
    const base = { StreamName: streamName, ShardId: shardId };
    let input: GetShardIteratorCommandInput;
    if (checkpoint?.sequenceNumber !== undefined) {
      input = {
        ...base,
        ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
        StartingSequenceNumber: checkpoint.sequenceNumber,
      };
    } else if (checkpoint?.since !== undefined) {
      input = { ...base, ShardIteratorType: 'AT_TIMESTAMP', Timestamp: new Date(checkpoint.since) };
    } else if (fromParent || options.startingPosition === 'trim_horizon') {
      // A child shard holds what came after its parents: all of it, whatever the starting position.
      input = { ...base, ShardIteratorType: 'TRIM_HORIZON' };
    } else if (startingTime !== undefined) {
      input = { ...base, ShardIteratorType: 'AT_TIMESTAMP', Timestamp: new Date(startingTime) };
    } else {
      // `latest` is resolved once: a restart before the first record reads from that moment on,
      // instead of skipping what arrived while the poller was down.
      checkpoints.set(key, { since: Date.now() });
      input = { ...base, ShardIteratorType: 'LATEST' };
    }
    const out = await kinesis.send(new GetShardIteratorCommand(input));
    if (out.ShardIterator === undefined)
      throw new Error(`GetShardIterator for ${shardId} returned no iterator`);
    return out.ShardIterator;
  };

  const invoke = async (shardId: string, records: readonly _Record[]): Promise<Outcome> => {
    const event = { Records: records.map((r) => toKinesisStreamRecord(r, shardId, streamArn)) };
    let timer: NodeJS.Timeout | undefined;
    let response: KinesisStreamBatchResponse | undefined;
    try {
      const call = handler(event, lambdaContext(functionName, timeoutSeconds));
      const timedOut = new Promise<typeof TIMED_OUT>((resolve) => {
        timer = setTimeout(() => resolve(TIMED_OUT), timeoutSeconds * 1000);
      });
      const answer = await Promise.race([call, timedOut]);
      if (answer === TIMED_OUT) {
        call.catch(() => {});
        throw new Error(`${functionName}: task timed out after ${timeoutSeconds} seconds`);
      }
      response = answer ?? undefined;
    } catch (error) {
      onError(error, shardId);
      return { failedAt: 0, functionError: true, reason: describe(error) };
    } finally {
      clearTimeout(timer);
    }
    const items = response?.batchItemFailures ?? [];
    if (items.length === 0) return {};
    const index = new Map(records.map((r, i) => [r.SequenceNumber, i]));
    let failedAt = records.length;
    for (const item of items) {
      const i = item?.itemIdentifier ? index.get(item.itemIdentifier) : undefined;
      // As in Lambda: an empty, missing or unknown identifier fails the whole batch.
      if (i === undefined)
        return {
          failedAt: 0,
          functionError: true,
          reason: `batchItemFailures names '${String(item?.itemIdentifier)}', which is not a sequence number of the batch`,
        };
      failedAt = Math.min(failedAt, i);
    }
    return {
      failedAt,
      named: new Set(items.map((item) => item.itemIdentifier)),
      reason: `the handler reported record ${records[failedAt]?.SequenceNumber} failed`,
    };
  };

  const commit = (shardId: string, record: _Record | undefined): void => {
    if (record?.SequenceNumber === undefined) return;
    checkpoints.set(checkpointKey(consumer, streamArn, shardId), { sequenceNumber: record.SequenceNumber });
  };

  /** Hands records to the destination and moves past them; false when stopped before it could. */
  const giveUp = async (
    shardId: string,
    mark: Mark,
    records: readonly _Record[],
    condition: KinesisFailureCondition,
    invokeCount: number,
    reason: string,
    named?: ReadonlySet<string>,
  ): Promise<boolean> => {
    const failure = kinesisFailure({
      records,
      // Records the last answer did not name were done (a key behind none that failed).
      undone: named === undefined ? records : records.filter((r) => named.has(r.SequenceNumber ?? '')),
      shardId,
      streamArn,
      functionArn,
      requestId: randomUUID(),
      condition,
      invokeCount,
      reason,
    });
    for (let attempt = 1; !stopped(); attempt++) {
      try {
        await onFailure(failure);
        mark(records[records.length - 1]);
        return true;
      } catch (error) {
        onError(error, shardId);
        await sleep(backoff(retryDelayMs, attempt), stopping.signal);
      }
    }
    return false;
  };

  const tooOld = (record: _Record): boolean =>
    maxRecordAgeSeconds >= 0 &&
    Date.now() - (record.ApproximateArrivalTimestamp?.getTime() ?? Date.now()) > maxRecordAgeSeconds * 1000;

  /**
   * Sees every record of `batch` through, in order: done, or handed to the destination. False when
   * the poller stopped first (the checkpoint then stands before what is left).
   */
  const settle = async (
    shardId: string,
    mark: Mark,
    batch: readonly _Record[],
    retriesSoFar: number,
  ): Promise<boolean> => {
    let pending = batch;
    let retries = retriesSoFar;
    let reason = 'record age exceeded before the first invocation';
    let named: ReadonlySet<string> | undefined;
    for (;;) {
      // Arrival times grow along a shard: the records past their age are a prefix.
      const fresh = pending.findIndex((r) => !tooOld(r));
      if (fresh !== 0) {
        const old = fresh === -1 ? pending : pending.slice(0, fresh);
        if (!(await giveUp(shardId, mark, old, 'RecordAgeExceeded', retries + 1, reason, named)))
          return false;
        if (fresh === -1) return true;
        pending = pending.slice(fresh);
      }
      const outcome = await invoke(shardId, pending);
      if (outcome.failedAt === undefined) {
        mark(pending[pending.length - 1]);
        return true;
      }
      reason = outcome.reason ?? 'failed';
      named = outcome.named;
      if (outcome.failedAt > 0) {
        mark(pending[outcome.failedAt - 1]);
        pending = pending.slice(outcome.failedAt);
      }
      // A split is not a retry (AWS does not count it against MaximumRetryAttempts).
      if (bisectOnError && outcome.functionError && pending.length > 1) {
        const half = Math.ceil(pending.length / 2);
        return (
          (await settle(shardId, mark, pending.slice(0, half), retries)) &&
          (await settle(shardId, mark, pending.slice(half), retries))
        );
      }
      retries++;
      if (maxRetries >= 0 && retries > maxRetries)
        return giveUp(shardId, mark, pending, 'RetryAttemptsExhausted', retries, reason, named);
      await sleep(backoff(retryDelayMs, retries), stopping.signal);
      if (stopped()) return false;
    }
  };

  /**
   * Sees one read through. With a factor of 1, batch after batch, each checkpointed as it is done.
   * Above 1, the records are grouped by partition key (hashed, as Kinesis maps keys to shards) and
   * the groups run at once, each batch after batch; the checkpoint moves only once every group is
   * done, so a stop or crash in between hands the read again (as AWS may with concurrent batches).
   */
  const settleRead = async (shardId: string, records: readonly _Record[]): Promise<boolean> => {
    const inBatches = async (group: readonly _Record[], mark: Mark): Promise<boolean> => {
      for (let i = 0; i < group.length; i += batchSize)
        if (!(await settle(shardId, mark, group.slice(i, i + batchSize), 0))) return false;
      return true;
    };
    if (parallelizationFactor === 1) return inBatches(records, (r) => commit(shardId, r));
    const groups = new Map<number, _Record[]>();
    for (const r of records) {
      const lane = keyLane(r.PartitionKey ?? '', parallelizationFactor);
      const group = groups.get(lane);
      if (group === undefined) groups.set(lane, [r]);
      else group.push(r);
    }
    const done = await Promise.all([...groups.values()].map((g) => inBatches(g, () => {})));
    return done.every(Boolean);
  };

  /** One batch read from `iterator`: full, or what the window gathered; `next` undefined at a closed shard's end. */
  const gather = async (
    shardId: string,
    start: string,
  ): Promise<{ records: _Record[]; next: string | undefined }> => {
    const records: _Record[] = [];
    const deadline = Date.now() + batchingWindowSeconds * 1000;
    let iterator: string | undefined = start;
    while (iterator !== undefined && !stopped()) {
      const out: GetRecordsCommandOutput = await kinesis.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: readLimit - records.length }),
      );
      iterator = out.NextShardIterator ?? undefined;
      const got = out.Records ?? [];
      records.push(...got);
      const last = got[got.length - 1]?.ApproximateArrivalTimestamp;
      onIteratorAge(
        shardId,
        last === undefined ? (out.MillisBehindLatest ?? 0) : Date.now() - last.getTime(),
      );
      if (records.length >= readLimit) break;
      const behind = (out.MillisBehindLatest ?? 0) > 0;
      if (batchingWindowSeconds === 0) {
        if (records.length > 0 || !behind) break;
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) break;
      if (got.length === 0 && !behind) await sleep(Math.min(left, idlePollMs), stopping.signal);
    }
    return { records, next: iterator };
  };

  const runShard = async (shardId: string, fromParent: boolean): Promise<void> => {
    let iterator: string | undefined;
    let failures = 0;
    while (!stopped()) {
      let batch: { records: _Record[]; next: string | undefined };
      try {
        iterator ??= await iteratorFor(shardId, fromParent);
        batch = await gather(shardId, iterator);
        failures = 0;
      } catch (error) {
        // An expired iterator, a throttled or failed read: read again from the checkpoint.
        onError(error, shardId);
        iterator = undefined;
        await sleep(backoff(retryDelayMs * 5, ++failures), stopping.signal);
        continue;
      }
      if (stopped()) return;
      if (batch.records.length > 0) {
        const deliver =
          keep === undefined
            ? batch.records
            : batch.records.filter((r) => keep(toKinesisStreamRecord(r, shardId, streamArn)));
        if (deliver.length < batch.records.length) onFiltered(shardId, batch.records.length - deliver.length);
        let done: boolean;
        try {
          done = deliver.length === 0 || (await settleRead(shardId, deliver));
          // Past the records filtered out after the last one delivered, too.
          if (done) commit(shardId, batch.records[batch.records.length - 1]);
        } catch (error) {
          // A checkpoint that could not be written: read again from the last one that was.
          onError(error, shardId);
          iterator = undefined;
          continue;
        }
        if (!done) return;
      }
      if (batch.next === undefined) {
        const key = checkpointKey(consumer, streamArn, shardId);
        checkpoints.set(key, { ...checkpoints.get(key), ended: true });
        ended.add(shardId);
        void discover();
        return;
      }
      iterator = batch.next;
      if (batch.records.length === 0) await sleep(idlePollMs, stopping.signal);
    }
  };

  const listShards = async (): Promise<Shard[]> => {
    const shards: Shard[] = [];
    let token: string | undefined;
    do {
      const out: ListShardsCommandOutput = await kinesis.send(
        new ListShardsCommand(token === undefined ? { StreamName: streamName } : { NextToken: token }),
      );
      shards.push(...(out.Shards ?? []));
      token = out.NextToken;
    } while (token !== undefined);
    return shards;
  };

  // Starts a lane per shard not yet served whose parents (still listed) are done.
  let discovering: Promise<void> = Promise.resolve();
  const discover = (): Promise<void> => {
    discovering = discovering.then(async () => {
      if (stopped()) return;
      let shards: Shard[];
      try {
        shards = await listShards();
      } catch (error) {
        onError(error);
        return;
      }
      const listed = new Set(shards.map((s) => s.ShardId));
      for (const shard of shards) {
        const id = shard.ShardId as string;
        if (lanes.has(id) || ended.has(id)) continue;
        if (checkpoints.get(checkpointKey(consumer, streamArn, id))?.ended) {
          ended.add(id);
          continue;
        }
        const parents = [shard.ParentShardId, shard.AdjacentParentShardId].filter(
          (p): p is string => p !== undefined && listed.has(p),
        );
        if (parents.some((p) => !ended.has(p))) continue;
        lanes.set(id, runShard(id, parents.length > 0));
      }
    });
    return discovering;
  };

  void discover();
  const refresh = setInterval(() => void discover(), shardRefreshMs);
  refresh.unref();
  return {
    async stop() {
      stopping.abort();
      clearInterval(refresh);
      await discovering;
      await Promise.allSettled(lanes.values());
    },
  };
}

/** Marks a record done: the checkpoint moves after it (or nothing, while concurrent batches run). */
type Mark = (record: _Record | undefined) => void;

function keyLane(partitionKey: string, lanes: number): number {
  return createHash('md5').update(partitionKey).digest().readUInt32BE(0) % lanes;
}

function backoff(firstMs: number, attempt: number): number {
  return Math.min(5000, firstMs * 2 ** Math.max(0, attempt - 1));
}

function describe(error: unknown): string {
  const e = error as { code?: unknown; name?: string; message?: string } | null;
  if (typeof e?.code === 'string') return `${e.code}: ${e.message ?? ''}`;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
