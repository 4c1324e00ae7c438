import type { SQSClient } from '@aws-sdk/client-sqs';
import { OversizeError } from '../errors.ts';
import type { Destination, RejectedRow, Row, StepBatch, Transport } from '../ports.ts';
import {
  deadLetterAttributes,
  encodeRejectedRecords,
  rejectedRecord,
  rejectionReason,
} from '../wire/dead-letter-record.ts';
import { encodeRow } from '../wire/envelope.ts';
import { DEFAULT_MAX_MESSAGE_BYTES, SQS_MAX_BATCH_BYTES, SQS_MAX_MESSAGE_BYTES } from '../wire/limits.ts';
import { checkMessageLimit, type PackResult, packBatch, rowBytes } from '../wire/pack.ts';
import { DEAD_LETTER_ATTRIBUTE_ROOM } from './dead-letters.ts';
import type { RetryPolicy } from './retry.ts';
import { type OutgoingMessage, type SendStats, SqsBatchSender } from './sqs-batch-send.ts';

export interface SqsTransportOptions {
  readonly sqs: SQSClient;
  /** The queue URL of a destination (a step's input queue, the flow's output queue, a step's DLQ for `rejected`). */
  readonly queueUrl: (to: Destination) => string;
  /** Packing limit per message in bytes. @default 262144 (at most 1048576) */
  readonly maxMessageBytes?: number;
  /**
   * Where rejected rows (`reject(to)`) and rows too large for a message (`send(to)`) go.
   * @default - `queueUrl(to)` for `rejected` destinations; for a send, `queueUrl` of the
   * `rejected` destination of the step the batch was addressed to.
   */
  readonly deadLetterQueueUrl?: (to: Destination) => string;
  /**
   * Sum of message sizes per SendMessageBatch request.
   * @default 1048576 - SQS's limit at the time of writing; set 262144 for servers that still enforce the old one.
   */
  readonly maxBatchBytes?: number;
  /** @default - 6 attempts, 50 ms doubling to at most 2 s, full jitter */
  readonly retry?: Partial<RetryPolicy>;
  /** SendMessageBatch requests in flight per queue. @default 4 */
  readonly concurrency?: number;
  /** The fid of a step (names the step on dead letters of oversize rows). @default - unnamed */
  readonly fidOf?: (flowId: string, step: number) => string | undefined;
  /**
   * A flow's key fields (`tuning.ordering`): its batches are packed one message group per
   * message (`packBatch`), for FIFO queues. @default - unordered
   */
  readonly orderingOf?: (flowId: string) => readonly string[] | undefined;
}

/** What a transport has done, for benchmarks: requests include retries, bytes are message bodies. */
export interface TransportStats extends SendStats {
  /** Dead-letter messages written (rejected rows, oversize rows). */
  deadLetters: number;
}

/**
 * The Transport over SQS. `send` packs a batch into as few envelopes as `maxMessageBytes`
 * allows (`packBatch`) and sends them with SendMessageBatch, at most 10 entries and
 * `maxBatchBytes` per request, retrying failed entries with backoff; rows too large for any
 * message are dead-lettered with code `ROW_TOO_LARGE` naming their size and the limit.
 * `reject` sends a step's rejected rows as dead-letter records (one per batch, split only if it
 * exceeds 1 MiB) with the reason in message attributes.
 *
 * Never one message per row: 100,000 small rows make a few dozen messages.
 *
 * @example
 * const transport = new SqsTransport({
 *   sqs,
 *   queueUrl: (to) => (to.kind === 'step' ? wiring.stepQueues[to.step] : to.kind === 'output' ? wiring.outputQueue : wiring.deadLetterQueue),
 *   maxMessageBytes: wiring.maxMessageBytes,
 * });
 * await transport.send({ kind: 'step', flowId: 'orders', step: 2 }, batch);
 */
export class SqsTransport implements Transport {
  readonly #stats: TransportStats = { requests: 0, messages: 0, bytes: 0, deadLetters: 0 };
  readonly #options: SqsTransportOptions;
  readonly #maxMessageBytes: number;
  /** Packed batches, by the batch object (see `#pack`). */
  readonly #packed = new WeakMap<StepBatch, PackResult>();
  /** Rows' envelope texts, kept while the rows live: a batch packed again encodes none twice. */
  readonly #encoded = new WeakMap<Row, string>();
  readonly #encode = (row: Row): string => {
    let json = this.#encoded.get(row);
    if (json === undefined) {
      json = encodeRow(row);
      this.#encoded.set(row, json);
    }
    return json;
  };
  // One sender per transport: the sends of records processed in parallel share its requests.
  readonly #sender: SqsBatchSender;

  constructor(options: SqsTransportOptions) {
    this.#maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    checkMessageLimit(this.#maxMessageBytes);
    this.#options = options;
    this.#sender = new SqsBatchSender(options.sqs, {
      maxBatchBytes: options.maxBatchBytes ?? SQS_MAX_BATCH_BYTES,
      concurrency: options.concurrency ?? 4,
      ...(options.retry === undefined ? {} : { retry: options.retry }),
    });
  }

  /** What this transport has done; `requests` counts every SendMessageBatch, retries included. */
  get stats(): TransportStats {
    this.#stats.requests = this.#sender.requests;
    return this.#stats;
  }

  async send(to: Destination, batch: StepBatch): Promise<void> {
    const queueUrl = this.#options.queueUrl(to);
    const { messages, oversize } = this.#pack(batch);
    // Everything that can fail without I/O is settled before the first send, so a failure never
    // leaves half a batch sent for a reason a retry cannot fix.
    let deadLetters: { url: string; messages: OutgoingMessage[] } | undefined;
    if (oversize.length > 0) {
      const step = to.kind === 'step' || to.kind === 'rejected' ? to.step : batch.step;
      const fid = this.#options.fidOf?.(batch.flowId, step) ?? '';
      const limit = this.#maxMessageBytes;
      const rejected: RejectedRow[] = oversize.map((row) => ({
        flowId: batch.flowId,
        step,
        fid,
        code: 'ROW_TOO_LARGE',
        reason: `The row takes ${rowBytes(row)} bytes as JSON, more than fits a message of ${limit} bytes (tuning.max_message_bytes; SQS allows up to ${SQS_MAX_MESSAGE_BYTES}). Raise the limit or make the row smaller, then redrive.`,
        row,
      }));
      const url = this.#deadLetterUrl(to, { kind: 'rejected', flowId: batch.flowId, step });
      if (url === undefined) {
        throw new OversizeError(
          'ROW_TOO_LARGE',
          `${oversize.length} row(s) for ${describe(to)} exceed the message limit of ${limit} bytes (largest: ${Math.max(...oversize.map(rowBytes))} bytes) and no dead-letter queue is configured to keep them.`,
          { flow: batch.flowId, step, limit, sizes: oversize.map(rowBytes) },
        );
      }
      deadLetters = { url, messages: this.#recordMessages(rejected, batch, step, fid) };
    }
    // The batch id deduplicates on a FIFO queue: a redelivered input's sends are dropped there.
    const outgoing: OutgoingMessage[] = messages.map((m) => ({
      id: m.id,
      body: m.body,
      deduplicationId: m.id,
      ...(m.groupId === undefined ? {} : { groupId: m.groupId }),
    }));
    await this.#sender.send(queueUrl, outgoing, this.#stats);
    if (deadLetters !== undefined) await this.#sendDeadLetters(deadLetters.url, deadLetters.messages);
  }

  /** How many messages `send` makes of a batch (the run ledger counts them before they leave). */
  messageCount(batch: StepBatch): number {
    return this.#pack(batch).messages.length;
  }

  /**
   * Packs once per batch object: delivery counts a batch's messages, then sends the same object,
   * and encoding the rows is most of what packing costs.
   */
  #pack(batch: StepBatch): PackResult {
    let packed = this.#packed.get(batch);
    if (packed === undefined) {
      // Delivery packs a batch, then the same rows with completions to hand on: the rows' texts
      // are kept (`#encode`), so the second pack measures them again but encodes none.
      packed = packBatch(
        batch,
        this.#maxMessageBytes,
        this.#options.orderingOf?.(batch.flowId),
        this.#encode,
      );
      this.#packed.set(batch, packed);
    }
    return packed;
  }

  async reject(to: Destination, rows: readonly RejectedRow[], batch: StepBatch): Promise<void> {
    const first = rows[0];
    if (first === undefined) return;
    const step = to.kind === 'rejected' || to.kind === 'step' ? to.step : first.step;
    const url =
      this.#options.deadLetterQueueUrl?.(to) ??
      this.#options.queueUrl(to.kind === 'rejected' ? to : { kind: 'rejected', flowId: batch.flowId, step });
    await this.#sendDeadLetters(url, this.#recordMessages(rows, batch, step, first.fid));
  }

  #recordMessages(
    rows: readonly RejectedRow[],
    batch: StepBatch,
    step: number,
    fid: string,
  ): OutgoingMessage[] {
    const record = rejectedRecord(rows, batch, step, fid);
    const parts = encodeRejectedRecords(record, SQS_MAX_MESSAGE_BYTES - DEAD_LETTER_ATTRIBUTE_ROOM);
    return parts.map((part, i) => ({
      id: `${batch.batchId}/${i}`,
      body: part.body,
      attributes: deadLetterAttributes(rejectionReason(part.record)),
    }));
  }

  async #sendDeadLetters(url: string, messages: OutgoingMessage[]): Promise<void> {
    const stats: SendStats = { requests: 0, messages: 0, bytes: 0 };
    try {
      await this.#sender.send(url, messages, stats);
    } finally {
      this.#stats.deadLetters += stats.messages;
    }
  }

  #deadLetterUrl(to: Destination, rejectedOf: Destination): string | undefined {
    if (this.#options.deadLetterQueueUrl !== undefined) return this.#options.deadLetterQueueUrl(to);
    try {
      return this.#options.queueUrl(rejectedOf);
    } catch {
      return undefined;
    }
  }
}

function describe(to: Destination): string {
  return to.kind === 'output' ? `the output of flow ${to.flowId}` : `flow ${to.flowId} step ${to.step}`;
}
