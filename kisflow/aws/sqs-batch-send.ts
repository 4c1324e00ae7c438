import {
  SendMessageBatchCommand,
  type SendMessageBatchCommandOutput,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { InfrastructureError } from '../errors.ts';
import {
  messageSize,
  SQS_MAX_BATCH_BYTES,
  SQS_MAX_BATCH_ENTRIES,
  type StringAttribute,
} from '../wire/limits.ts';
import { mapLimit } from './parallel.ts';
import { backoffDelay, type RetryPolicy, retryPolicy } from './retry.ts';

/** A message to send: `id` names it in errors (a batch id); the request entry ids are positional. */
export interface OutgoingMessage {
  readonly id: string;
  readonly body: string;
  readonly attributes?: Readonly<Record<string, StringAttribute>>;
  readonly delaySeconds?: number;
}

/** Counters for benchmarks and logs; `requests` counts retries too. */
export interface SendStats {
  requests: number;
  messages: number;
  bytes: number;
}

export interface BatchSendOptions {
  /** Sum of message sizes per request (default `SQS_MAX_BATCH_BYTES`, 1 MiB). */
  readonly maxBatchBytes?: number;
  /** Requests in flight at once (default 4). */
  readonly concurrency?: number;
  readonly retry?: Partial<RetryPolicy>;
  /** Counters to add to. */
  readonly stats?: SendStats;
}

/**
 * Consecutive groups of at most 10 messages whose sizes add up to at most `maxBatchBytes`: the
 * two SendMessageBatch limits. A message is never split, so a group's fill is greedy and a
 * message larger than `maxBatchBytes` (only possible if that limit is set below the message
 * limit) goes alone.
 */
export function groupForBatches<T extends OutgoingMessage>(
  messages: readonly T[],
  maxBatchBytes: number = SQS_MAX_BATCH_BYTES,
): T[][] {
  const groups: T[][] = [];
  let group: T[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = messageSize(message.body, message.attributes);
    if (group.length > 0 && (group.length === SQS_MAX_BATCH_ENTRIES || bytes + size > maxBatchBytes)) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(message);
    bytes += size;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

function describeError(error: unknown): string {
  const e = error as { name?: string; message?: string };
  return `${e?.name ?? 'Error'}: ${e?.message ?? String(error)}`;
}

async function sendGroup(
  sqs: SQSClient,
  queueUrl: string,
  group: readonly OutgoingMessage[],
  policy: RetryPolicy,
  stats: SendStats,
): Promise<void> {
  let pending = group;
  for (let attempt = 0; ; attempt++) {
    const entries: SendMessageBatchRequestEntry[] = pending.map((m, i) => ({
      Id: `m${i}`,
      MessageBody: m.body,
      ...(m.attributes === undefined ? {} : { MessageAttributes: { ...m.attributes } }),
      ...(m.delaySeconds === undefined ? {} : { DelaySeconds: m.delaySeconds }),
    }));
    stats.requests++;
    let output: SendMessageBatchCommandOutput;
    try {
      output = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    } catch (error) {
      // The SDK has already retried throttling and network errors by now.
      throw new InfrastructureError(
        'SQS_SEND_FAILED',
        `SendMessageBatch to ${queueUrl} failed: ${describeError(error)}. The input message will be retried.`,
        { queueUrl, messages: pending.map((m) => m.id) },
        { cause: error },
      );
    }
    const byEntry = (id: string | undefined) => pending[Number(id?.slice(1))];
    for (const ok of output.Successful ?? []) {
      const m = byEntry(ok.Id);
      if (m === undefined) continue;
      stats.messages++;
      stats.bytes += Buffer.byteLength(m.body, 'utf8');
    }
    const failed = output.Failed ?? [];
    if (failed.length === 0) return;
    const failures = failed.map((f) => ({
      id: byEntry(f.Id)?.id ?? String(f.Id),
      code: f.Code ?? 'Unknown',
      message: f.Message ?? '',
      senderFault: f.SenderFault === true,
    }));
    // A sender fault (invalid contents, too large) fails the same way again: no retry.
    const senderFault = failures.some((f) => f.senderFault);
    if (senderFault || attempt + 1 >= policy.attempts) {
      const listed = failures
        .map((f) => `${f.id}: ${f.code}${f.message ? ` (${f.message})` : ''}`)
        .join('; ');
      throw new InfrastructureError(
        'SQS_SEND_FAILED',
        senderFault
          ? `SQS refused ${failures.length} of ${pending.length} message(s) to ${queueUrl}: ${listed}`
          : `${failures.length} message(s) to ${queueUrl} still failed after ${attempt + 1} attempts: ${listed}`,
        { queueUrl, attempts: attempt + 1, failures },
      );
    }
    pending = failed.map((f) => byEntry(f.Id)).filter((m): m is OutgoingMessage => m !== undefined);
    await policy.sleep(backoffDelay(policy, attempt));
  }
}

/**
 * Sends messages to one queue with SendMessageBatch, grouped within SQS's per-request limits
 * (`groupForBatches`). Entries that fail without a sender fault are retried with exponential
 * backoff and jitter; a sender fault, or failures left after the last attempt, throw an
 * InfrastructureError (code `SQS_SEND_FAILED`) listing each entry's error.
 */
export async function sendMessageBatches(
  sqs: SQSClient,
  queueUrl: string,
  messages: readonly OutgoingMessage[],
  options: BatchSendOptions = {},
): Promise<void> {
  const policy = retryPolicy(options.retry);
  const stats = options.stats ?? { requests: 0, messages: 0, bytes: 0 };
  const groups = groupForBatches(messages, options.maxBatchBytes ?? SQS_MAX_BATCH_BYTES);
  await mapLimit(groups, options.concurrency ?? 4, (group) => sendGroup(sqs, queueUrl, group, policy, stats));
}
