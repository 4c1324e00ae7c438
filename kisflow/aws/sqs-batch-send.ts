// Over the usual size on purpose: merging the sends of parallel records and retrying each entry
// for its own caller are one algorithm (a retry regroups entries of several callers), so they stay
// together rather than being split across files that would share private state.

import { createHash } from 'node:crypto';
import {
  SendMessageBatchCommand,
  type SendMessageBatchCommandOutput,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { isFifoQueue } from '../config/names.ts';
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
  /** Not sent to a FIFO queue, which refuses a per-message delay. */
  readonly delaySeconds?: number;
  /**
   * FIFO MessageGroupId: messages of one group keep their order. @default - the deduplication
   * id: a group of its own, so the message never waits behind another (dead letters)
   */
  readonly groupId?: string;
  /**
   * FIFO MessageDeduplicationId: a second send with the same id within SQS's five minutes is
   * dropped. Packed envelopes give their batch id, so a redelivered input's sends are no-ops.
   * @default - a hash of body and attributes
   */
  readonly deduplicationId?: string;
}

/** The FIFO ids of a message (ignored by a standard queue). */
export function fifoIds(message: OutgoingMessage): { groupId: string; deduplicationId: string } {
  const deduplicationId =
    message.deduplicationId ??
    createHash('sha256')
      .update(message.body, 'utf8')
      .update(`\u0000${JSON.stringify(message.attributes ?? {})}`, 'utf8')
      .digest('hex');
  return { groupId: message.groupId ?? deduplicationId, deduplicationId };
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
  /** Requests in flight at once per queue and flush (default 4). */
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

interface Failure {
  readonly id: string;
  readonly code: string;
  readonly message: string;
  readonly senderFault: boolean;
}

/** One caller's `send`: settles when each of its messages was sent or failed for good. */
class Submission {
  readonly failures: Failure[] = [];
  requestError: unknown;
  #left: number;
  readonly #done: () => void;

  constructor(
    readonly queueUrl: string,
    count: number,
    readonly stats: SendStats | undefined,
    done: () => void,
  ) {
    this.#left = count;
    this.#done = done;
  }

  settle(message: OutgoingMessage, failure?: Failure): void {
    if (failure !== undefined) this.failures.push(failure);
    else if (this.stats !== undefined) {
      this.stats.messages++;
      this.stats.bytes += Buffer.byteLength(message.body, 'utf8');
    }
    if (--this.#left === 0) this.#done();
  }
}

interface Pending {
  readonly message: OutgoingMessage;
  readonly owner: Submission;
}

function describeError(error: unknown): string {
  const e = error as { name?: string; message?: string };
  return `${e?.name ?? 'Error'}: ${e?.message ?? String(error)}`;
}

/**
 * Sends messages with SendMessageBatch, merging the `send` calls made in the same turn of the
 * event loop for one queue into as few requests as SQS's limits allow (`groupForBatches`). The
 * records of an invocation run in parallel and each sends its own output: with small outputs that
 * would be one request per record where one per ten does, and SDK request handling (serialising,
 * signing) is then most of a step's CPU time. Messages wait at most until the next macrotask:
 * nothing is held across invocations.
 *
 * Entries that fail without a sender fault are retried with exponential backoff and jitter; a
 * sender fault fails its entry at once. Each caller's promise rejects with an InfrastructureError
 * (`SQS_SEND_FAILED`) naming only its own failed messages, so one record's bad message never
 * fails a neighbour.
 *
 * @example
 * const sender = new SqsBatchSender(sqs);
 * await Promise.all([sender.send(url, [a]), sender.send(url, [b])]); // one request
 */
export class SqsBatchSender {
  /** Requests made, retries included. */
  requests = 0;
  readonly #sqs: SQSClient;
  readonly #policy: RetryPolicy;
  readonly #maxBatchBytes: number;
  readonly #concurrency: number;
  readonly #pending = new Map<string, Pending[]>();
  #scheduled = false;

  constructor(sqs: SQSClient, options: Omit<BatchSendOptions, 'stats'> = {}) {
    this.#sqs = sqs;
    this.#policy = retryPolicy(options.retry);
    this.#maxBatchBytes = options.maxBatchBytes ?? SQS_MAX_BATCH_BYTES;
    this.#concurrency = options.concurrency ?? 4;
  }

  /** Sends `messages` to `queueUrl`; `stats` counts the messages and bytes sent for this caller. */
  send(queueUrl: string, messages: readonly OutgoingMessage[], stats?: SendStats): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const owner = new Submission(queueUrl, messages.length, stats, () => {
        if (owner.requestError !== undefined && owner.failures.length === messages.length) {
          reject(
            new InfrastructureError(
              'SQS_SEND_FAILED',
              `SendMessageBatch to ${queueUrl} failed: ${describeError(owner.requestError)}. The input message will be retried.`,
              { queueUrl, messages: messages.map((m) => m.id) },
              { cause: owner.requestError },
            ),
          );
        } else if (owner.failures.length > 0) {
          reject(failuresError(queueUrl, owner.failures, messages.length, this.#policy.attempts));
        } else {
          resolve();
        }
      });
      let list = this.#pending.get(queueUrl);
      if (list === undefined) {
        list = [];
        this.#pending.set(queueUrl, list);
      }
      for (const message of messages) list.push({ message, owner });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const all = [...this.#pending];
    this.#pending.clear();
    for (const [queueUrl, items] of all) {
      if (isFifoQueue(queueUrl)) void this.#sendInGroupOrder(queueUrl, items);
      else void this.#sendRequests(queueUrl, items);
    }
  }

  /** Sends in as few requests as the limits allow, `concurrency` at a time; resolves to the failed. */
  async #sendRequests(queueUrl: string, items: readonly Pending[]): Promise<Pending[]> {
    const requests = groupForBatches(
      items.map((p) => ({ ...p.message, pending: p })),
      this.#maxBatchBytes,
    ).map((g) => g.map((m) => m.pending));
    const failed = await mapLimit(requests, this.#concurrency, (request) =>
      this.#sendGroup(queueUrl, request),
    );
    return failed.flat();
  }

  /**
   * A FIFO queue appends a group's messages in the order they arrive, and the entries of one
   * request succeed or fail one by one: a message retried after a later one of its group went
   * through would land behind it. So the n-th message of every group goes out in the n-th wave,
   * after the previous wave has settled, and a message whose group lost an earlier one for good is
   * not sent at all (its caller fails and is retried; FIFO deduplication drops what went through).
   */
  async #sendInGroupOrder(queueUrl: string, items: readonly Pending[]): Promise<void> {
    const waves: Pending[][] = [];
    const sent = new Map<string, number>();
    for (const p of items) {
      const group = fifoIds(p.message).groupId;
      const n = sent.get(group) ?? 0;
      sent.set(group, n + 1);
      const wave = waves[n];
      if (wave === undefined) waves[n] = [p];
      else wave.push(p);
    }
    const blocked = new Set<string>();
    for (const wave of waves) {
      const ready: Pending[] = [];
      for (const p of wave) {
        if (!blocked.has(fifoIds(p.message).groupId)) ready.push(p);
        else
          p.owner.settle(p.message, {
            id: p.message.id,
            code: 'GROUP_ORDER',
            message: 'not sent: an earlier message of its message group was not sent',
            senderFault: false,
          });
      }
      for (const p of await this.#sendRequests(queueUrl, ready)) blocked.add(fifoIds(p.message).groupId);
    }
  }

  /** Sends one request's messages, retrying failed entries; resolves to those that failed for good. */
  async #sendGroup(queueUrl: string, group: readonly Pending[]): Promise<Pending[]> {
    const fifo = isFifoQueue(queueUrl);
    const failedForGood: Pending[] = [];
    let pending = group;
    for (let attempt = 0; ; attempt++) {
      const entries: SendMessageBatchRequestEntry[] = pending.map(({ message: m }, i) => {
        const ids = fifo ? fifoIds(m) : undefined;
        return {
          Id: `m${i}`,
          MessageBody: m.body,
          ...(m.attributes === undefined ? {} : { MessageAttributes: { ...m.attributes } }),
          ...(m.delaySeconds === undefined || fifo ? {} : { DelaySeconds: m.delaySeconds }),
          ...(ids === undefined
            ? {}
            : { MessageGroupId: ids.groupId, MessageDeduplicationId: ids.deduplicationId }),
        };
      });
      this.requests++;
      let output: SendMessageBatchCommandOutput;
      try {
        output = await this.#sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
      } catch (error) {
        // The SDK has already retried throttling and network errors by now.
        for (const p of pending) {
          p.owner.requestError = error;
          p.owner.settle(p.message, {
            id: p.message.id,
            code: (error as Error)?.name ?? 'Error',
            message: String((error as Error)?.message ?? error),
            senderFault: false,
          });
        }
        return [...failedForGood, ...pending];
      }
      const failed = new Map((output.Failed ?? []).map((f) => [f.Id, f]));
      const retry: Pending[] = [];
      const last = attempt + 1 >= this.#policy.attempts;
      pending.forEach((p, i) => {
        const f = failed.get(`m${i}`);
        if (f === undefined) {
          p.owner.settle(p.message);
          return;
        }
        const failure = {
          id: p.message.id,
          code: f.Code ?? 'Unknown',
          message: f.Message ?? '',
          senderFault: f.SenderFault === true,
        };
        // A sender fault (invalid contents, too large) fails the same way again: no retry.
        if (failure.senderFault || last) {
          p.owner.settle(p.message, failure);
          failedForGood.push(p);
        } else retry.push(p);
      });
      if (retry.length === 0) return failedForGood;
      pending = retry;
      await this.#policy.sleep(backoffDelay(this.#policy, attempt));
    }
  }
}

function failuresError(queueUrl: string, failures: readonly Failure[], total: number, attempts: number) {
  const listed = failures.map((f) => `${f.id}: ${f.code}${f.message ? ` (${f.message})` : ''}`).join('; ');
  const refused = failures.filter((f) => f.senderFault);
  return new InfrastructureError(
    'SQS_SEND_FAILED',
    refused.length > 0
      ? `SQS refused ${refused.length} of ${total} message(s) to ${queueUrl}: ${listed}`
      : `${failures.length} message(s) to ${queueUrl} still failed after ${attempts} attempts: ${listed}`,
    { queueUrl, attempts, failures },
    // Contents SQS refuses are refused again on every retry.
    { retryable: refused.length === 0 },
  );
}

/**
 * Sends messages to one queue with SendMessageBatch, grouped within SQS's per-request limits: a
 * one-off SqsBatchSender, for callers outside a step (redrive, `kisflow send`).
 */
export async function sendMessageBatches(
  sqs: SQSClient,
  queueUrl: string,
  messages: readonly OutgoingMessage[],
  options: BatchSendOptions = {},
): Promise<void> {
  const sender = new SqsBatchSender(sqs, options);
  try {
    await sender.send(queueUrl, messages, options.stats);
  } finally {
    if (options.stats !== undefined) options.stats.requests += sender.requests;
  }
}
