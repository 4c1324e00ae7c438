import { randomUUID } from 'node:crypto';
import { GetQueueAttributesCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import { deleteMessages, receiveMessages } from '../aws/queue-messages.ts';

const TIMED_OUT = Symbol('timed out');

/** A Lambda handler fed by SQS, as the event source mapping calls it. */
// biome-ignore lint/suspicious/noConfusingVoidType: a Lambda SQS handler may return nothing (aws-lambda's SQSHandler type says the same).
export type SqsEventHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface PollerOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly handler: SqsEventHandler;
  /** Messages per invocation (ESM `BatchSize`); SQS standard queues allow up to 10000. */
  readonly batchSize: number;
  /** Seconds to keep gathering once a message arrived (ESM `MaximumBatchingWindowInSeconds`, 0 to 300). */
  readonly batchingWindowSeconds: number;
  /** Invocations in flight at once (ESM `ScalingConfig.MaximumConcurrency`). @default 2 */
  readonly maxConcurrency?: number;
  /** Overrides the queue's visibility timeout for received messages. @default - the queue's own */
  readonly visibilityTimeoutSeconds?: number;
  /** Seconds one long poll waits (SQS allows 0 to 20). @default 2 - short, so `stop()` is quick */
  readonly waitTimeSeconds?: number;
  /**
   * The function timeout: the handler sees it in `context.getRemainingTimeInMillis()`, and a batch
   * still running when it passes fails as a whole, as in Lambda. @default 30
   */
  readonly timeoutSeconds?: number;
  /** Name shown in the handler's `context.functionName`. @default - the queue's name */
  readonly functionName?: string;
  /**
   * The ARN the events name as their source. @default - the queue's own (GetQueueAttributes); a
   * local queue standing for a deployed one (a flow's `source.sqs`) names that one
   */
  readonly eventSourceArn?: string;
  /**
   * Lambda's filter criteria: a message it rejects is deleted without an invocation (as an SQS
   * mapping does) and counted in `onFiltered`. @default - every message is delivered
   */
  readonly filter?: (record: SQSRecord) => boolean;
  readonly onFiltered?: (count: number) => void;
  /** Receive/delete failures; the poller backs off and carries on. @default - ignored */
  readonly onError?: (error: unknown) => void;
}

export interface Poller {
  /**
   * Stops receiving: the current long polls end (within `waitTimeSeconds`), what they returned is
   * invoked, in-flight invocations finish and their successes are deleted.
   */
  stop(): Promise<void>;
}

const ERROR_BACKOFF_MS = 1000;

/**
 * Plays Lambda's SQS event source mapping on a local machine: long-polls the queue, gathers up to
 * `batchSize` messages within the batching window, invokes the handler with a real `SQSEvent`,
 * deletes the messages the handler did not report in `batchItemFailures` and leaves the rest to
 * reappear after their visibility timeout (the queue's redrive policy moves a message received
 * `maxReceiveCount` times to its DLQ). A handler that throws fails every message of its batch, as
 * in Lambda. See https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
 *
 * @example
 * const poller = startPoller({ sqs, queueUrl, handler, batchSize: 10, batchingWindowSeconds: 0 });
 * // ...
 * await poller.stop();
 */
export function startPoller(options: PollerOptions): Poller {
  const {
    sqs,
    queueUrl,
    handler,
    batchSize,
    batchingWindowSeconds,
    maxConcurrency = 2,
    visibilityTimeoutSeconds,
    waitTimeSeconds = 2,
    timeoutSeconds = 30,
    filter,
    onFiltered = () => {},
    onError = () => {},
  } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, received ${batchSize}.`);
  }
  if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1) {
    throw new RangeError(`maxConcurrency must be a positive integer, received ${maxConcurrency}.`);
  }
  const functionName = options.functionName ?? queueUrl.slice(queueUrl.lastIndexOf('/') + 1);
  // Stopping never aborts a receive: SQS may already have handed its messages to the request, and
  // they would then stay invisible for the whole visibility timeout. A stop waits for the current
  // long poll (at most waitTimeSeconds) and invokes what it returned.
  const stopping = new AbortController();
  let source: Promise<{ arn: string; region: string }> | undefined;

  // The ARN is looked up once (the event carries it in every record); a failed lookup is retried.
  const eventSource = (): Promise<{ arn: string; region: string }> => {
    source ??= (async () => {
      const out = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
      );
      const arn =
        options.eventSourceArn ??
        out.Attributes?.QueueArn ??
        `arn:aws:sqs:local:000000000000:${functionName}`;
      return { arn, region: arn.split(':')[3] ?? 'local' };
    })();
    source.catch(() => {
      source = undefined;
    });
    return source;
  };

  const receive = (max: number, wait: number): Promise<Message[]> =>
    receiveMessages(sqs, queueUrl, {
      max,
      waitTimeSeconds: wait,
      attributes: true,
      ...(visibilityTimeoutSeconds === undefined ? {} : { visibilitySeconds: visibilityTimeoutSeconds }),
    });

  // One batch: a long poll for the first message, then more receives until the batch is full or
  // the window has passed. Without a window Lambda invokes with what one poll returned (AWS requires
  // a window of at least 1 s for a batch size above 10).
  const gather = async (): Promise<Message[]> => {
    const batch = await receive(batchSize, waitTimeSeconds);
    if (batch.length === 0 || batchingWindowSeconds === 0) return batch;
    const deadline = Date.now() + batchingWindowSeconds * 1000;
    while (batch.length < batchSize && !stopping.signal.aborted) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      const wait = Math.min(20, Math.floor(left / 1000));
      try {
        const more = await receive(batchSize - batch.length, wait);
        batch.push(...more);
        if (more.length === 0 && wait === 0) await sleep(Math.min(left, 100), stopping.signal);
      } catch (err) {
        // The messages in hand are invoked anyway; a failed receive only makes the batch smaller.
        onError(err);
        break;
      }
    }
    return batch;
  };

  const invoke = async (messages: Message[]): Promise<void> => {
    let origin: { arn: string; region: string };
    try {
      origin = await eventSource();
    } catch (err) {
      // Not invoked, not deleted: the messages come back after their visibility timeout.
      onError(err);
      return;
    }
    let records = messages.map((m) => toRecord(m, origin.arn, origin.region));
    if (filter !== undefined) {
      const dropped = records.filter((r) => !filter(r)).map((r) => r.messageId);
      if (dropped.length > 0) {
        await deleteAll(messages.filter((m) => dropped.includes(m.MessageId ?? '')));
        onFiltered(dropped.length);
        records = records.filter((r) => !dropped.includes(r.messageId));
        if (records.length === 0) return;
      }
    }
    let failed: Set<string>;
    let timer: NodeJS.Timeout | undefined;
    try {
      const call = handler({ Records: records }, lambdaContext(functionName, timeoutSeconds));
      // Lambda stops an invocation at its timeout and the whole batch fails: its messages come
      // back after their visibility timeout. In-process code cannot be stopped, so a late finish
      // is only ignored (and, like a killed Lambda, may have had effects: handlers are idempotent).
      const timedOut = new Promise<typeof TIMED_OUT>((resolve) => {
        timer = setTimeout(() => resolve(TIMED_OUT), timeoutSeconds * 1000);
      });
      const response = await Promise.race([call, timedOut]);
      if (response === TIMED_OUT) {
        call.catch(() => {});
        throw new Error(`${functionName}: task timed out after ${timeoutSeconds} seconds`);
      }
      failed = failuresOf(response ?? undefined, records);
    } catch (err) {
      onError(err);
      failed = new Set(records.map((r) => r.messageId));
    } finally {
      clearTimeout(timer);
    }
    const handed = new Set(records.map((r) => r.messageId));
    const done = messages.filter((m) => handed.has(m.MessageId ?? '') && !failed.has(m.MessageId ?? ''));
    await deleteAll(done);
  };

  const deleteAll = async (messages: Message[]): Promise<void> => {
    try {
      await deleteMessages(sqs, queueUrl, messages);
    } catch (err) {
      // An undeleted success is delivered again: the handler's idempotency makes that harmless.
      onError(err);
    }
  };

  const worker = async (): Promise<void> => {
    while (!stopping.signal.aborted) {
      let messages: Message[];
      try {
        messages = await gather();
      } catch (err) {
        onError(err);
        await sleep(ERROR_BACKOFF_MS, stopping.signal);
        continue;
      }
      if (messages.length > 0) await invoke(messages);
    }
  };

  const workers = Array.from({ length: maxConcurrency }, () => worker());
  return {
    async stop() {
      stopping.abort();
      await Promise.allSettled(workers);
    },
  };
}

/**
 * The failed message ids of a handler's response. As in Lambda, a response naming a message that
 * is not in the batch (or an empty identifier) fails the whole batch.
 */
function failuresOf(response: SQSBatchResponse | undefined, records: readonly SQSRecord[]): Set<string> {
  const ids = new Set(records.map((r) => r.messageId));
  const items = response?.batchItemFailures ?? [];
  const failed = new Set<string>();
  for (const item of items) {
    if (!item?.itemIdentifier || !ids.has(item.itemIdentifier)) return ids;
    failed.add(item.itemIdentifier);
  }
  return failed;
}

function toRecord(m: Message, arn: string, region: string): SQSRecord {
  const a = m.Attributes ?? {};
  const messageAttributes: SQSMessageAttributes = {};
  for (const [name, v] of Object.entries(m.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      dataType: v.DataType ?? 'String',
      ...(v.StringValue === undefined ? {} : { stringValue: v.StringValue }),
      ...(v.BinaryValue === undefined ? {} : { binaryValue: Buffer.from(v.BinaryValue).toString('base64') }),
      stringListValues: v.StringListValues ?? [],
      binaryListValues: (v.BinaryListValues ?? []).map((b) => Buffer.from(b).toString('base64')),
    };
  }
  return {
    messageId: m.MessageId ?? '',
    receiptHandle: m.ReceiptHandle ?? '',
    body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
      SentTimestamp: a.SentTimestamp ?? String(Date.now()),
      SenderId: a.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      ...(a.AWSTraceHeader === undefined ? {} : { AWSTraceHeader: a.AWSTraceHeader }),
      ...(a.MessageGroupId === undefined ? {} : { MessageGroupId: a.MessageGroupId }),
      ...(a.MessageDeduplicationId === undefined ? {} : { MessageDeduplicationId: a.MessageDeduplicationId }),
      ...(a.SequenceNumber === undefined ? {} : { SequenceNumber: a.SequenceNumber }),
      ...(a.DeadLetterQueueSourceArn === undefined
        ? {}
        : { DeadLetterQueueSourceArn: a.DeadLetterQueueSourceArn }),
    },
    messageAttributes,
    md5OfBody: m.MD5OfBody ?? '',
    ...(m.MD5OfMessageAttributes === undefined ? {} : { md5OfMessageAttributes: m.MD5OfMessageAttributes }),
    eventSource: 'aws:sqs',
    eventSourceARN: arn,
    awsRegion: region,
  };
}

/** The `Context` Lambda hands an invocation (the Kinesis poller uses it too). */
export function lambdaContext(functionName: string, timeoutSeconds: number): Context {
  const deadline = Date.now() + timeoutSeconds * 1000;
  const unsupported = () => {
    throw new Error('The callback-style context methods are not supported; return a promise.');
  };
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
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
