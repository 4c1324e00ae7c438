/**
 * The dead-letter side of a flow, in one place: the sink (a message kept verbatim with its reason)
 * and the operator's tools (list, redrive). The record format they read and write is the wire
 * contract (kisflow/wire/dead-letter-record.ts). Longer than most modules because list and redrive
 * share the receive/hide/describe steps that make them safe to interrupt.
 */
import { type Message, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { isFifoQueue } from '../config/names.ts';
import { InfrastructureError, OversizeError } from '../errors.ts';
import type { Row } from '../ports.ts';
import { redriveBatchId } from '../wire/batch-id.ts';
import {
  DEAD_LETTER_ATTRIBUTES,
  type DeadLetterReason,
  deadLetterAttributes,
  readDeadLetterBody,
  rejectedRows,
} from '../wire/dead-letter-record.ts';
import { encodeEnvelope, envelopeToBatch } from '../wire/envelope.ts';
import { messageSize, SQS_MAX_BATCH_ENTRIES, SQS_MAX_MESSAGE_BYTES } from '../wire/limits.ts';
import { messageGroupId, messageGroupOf } from '../wire/message-group.ts';
import { type PackedMessage, packBatch } from '../wire/pack.ts';
import { deleteMessages, receiveMessages, setVisibility } from './queue-messages.ts';
import { fifoIds, type OutgoingMessage, sendMessageBatches } from './sqs-batch-send.ts';

/** One dead letter as an operator reads it. */
export interface DeadLetter {
  readonly messageId: string;
  /** A rejected-rows record, an envelope kept verbatim, or a body KisFlow cannot read. */
  readonly kind: 'rejected' | 'envelope' | 'unreadable';
  /** `kisflow.error.code`; `RETRIES_EXHAUSTED` for a message the queue's redrive policy moved. */
  readonly code: string;
  readonly message: string;
  readonly step?: number;
  readonly fid?: string;
  /** The run the message belongs to: from its body (record or envelope), else its attribute. */
  readonly runId?: string;
  /** When it reached the DLQ (epoch ms, SQS's SentTimestamp). */
  readonly sentAt?: number;
  /** Receives of this message before this read (SQS's ApproximateReceiveCount minus this peek). */
  readonly receivedCount: number;
  /** The body, verbatim. */
  readonly body: string;
  /** Rows the body carries (rejected rows, or an envelope's rows); 0 when it cannot be read. */
  readonly rows: number;
}

/** Code of a dead letter with no KisFlow reason: SQS moved it after `maxReceiveCount` receives. */
export const RETRIES_EXHAUSTED = 'RETRIES_EXHAUSTED';

function errorText(error: unknown): string {
  return `${(error as Error)?.name ?? 'Error'}: ${(error as Error)?.message ?? String(error)}`;
}

/** Options of `listDeadLetters` and `redrive`. */
export interface DeadLetterReadOptions {
  /** At most this many dead letters. */
  readonly max?: number;
  /** How long received dead letters stay hidden (listing: 30 s, redrive: 60 s). */
  readonly visibilitySeconds?: number;
  /**
   * Long-poll wait of each receive. A short poll (0) may answer empty while messages remain (SQS
   * samples a subset of its servers), which would end a listing or redrive early.
   * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html
   * @default 1
   */
  readonly waitTimeSeconds?: number;
}

async function receive(
  sqs: SQSClient,
  queueUrl: string,
  max: number,
  visibilitySeconds: number,
  waitTimeSeconds: number,
): Promise<Message[]> {
  try {
    return await receiveMessages(sqs, queueUrl, {
      max,
      visibilitySeconds,
      waitTimeSeconds,
      attributes: true,
    });
  } catch (error) {
    throw new InfrastructureError(
      'SQS_RECEIVE_FAILED',
      `ReceiveMessage from ${queueUrl} failed: ${errorText(error)}`,
      { queueUrl },
      { cause: error },
    );
  }
}

const makeVisible = (sqs: SQSClient, queueUrl: string, messages: readonly Message[]) =>
  setVisibility(sqs, queueUrl, messages, 0);

function describeDeadLetter(m: Message): DeadLetter {
  const attribute = (name: string) => m.MessageAttributes?.[name]?.StringValue;
  const body = m.Body ?? '';
  const read = readDeadLetterBody(body);
  const rows =
    read.kind === 'rejected'
      ? read.record.rows.length
      : read.kind === 'envelope'
        ? read.envelope.rows.length
        : 0;
  const stepText = attribute(DEAD_LETTER_ATTRIBUTES.step);
  const step =
    stepText !== undefined
      ? Number(stepText)
      : read.kind === 'rejected'
        ? read.record.step
        : read.kind === 'envelope'
          ? read.envelope.step
          : undefined;
  const fid =
    attribute(DEAD_LETTER_ATTRIBUTES.fid) ?? (read.kind === 'rejected' ? read.record.fid : undefined);
  const code = attribute(DEAD_LETTER_ATTRIBUTES.code);
  const runId =
    read.kind === 'rejected'
      ? read.record.run
      : read.kind === 'envelope'
        ? read.envelope.run
        : attribute(DEAD_LETTER_ATTRIBUTES.run);
  const sentAt = Number(m.Attributes?.SentTimestamp);
  return {
    messageId: m.MessageId ?? '',
    kind: read.kind,
    code: code ?? RETRIES_EXHAUSTED,
    message:
      attribute(DEAD_LETTER_ATTRIBUTES.message) ??
      (read.kind === 'unreadable'
        ? `moved by the queue's redrive policy; the body is not a KisFlow envelope (${read.error.code})`
        : "moved by the queue's redrive policy after its last receive (the step failed or timed out each time)"),
    ...(step === undefined || Number.isNaN(step) ? {} : { step }),
    ...(fid === undefined ? {} : { fid }),
    ...(runId === undefined ? {} : { runId }),
    ...(Number.isFinite(sentAt) && sentAt > 0 ? { sentAt } : {}),
    receivedCount: Math.max(0, Number(m.Attributes?.ApproximateReceiveCount ?? 1) - 1),
    body,
    rows,
  };
}

/**
 * Reads up to `max` dead letters without consuming them: they are received with a short
 * visibility timeout (so one listing never sees a message twice), then made visible again at once.
 * Should the process die in between, they reappear after `visibilitySeconds` anyway.
 *
 * @example for (const d of await listDeadLetters(sqs, dlqUrl)) console.log(d.code, d.message, d.rows);
 */
export async function listDeadLetters(
  sqs: SQSClient,
  dlqUrl: string,
  options: DeadLetterReadOptions = {},
): Promise<DeadLetter[]> {
  const max = options.max ?? 1_000;
  const held: Message[] = [];
  try {
    while (held.length < max) {
      const got = await receive(
        sqs,
        dlqUrl,
        max - held.length,
        options.visibilitySeconds ?? 30,
        options.waitTimeSeconds ?? 1,
      );
      if (got.length === 0) break;
      held.push(...got);
    }
  } finally {
    await makeVisible(sqs, dlqUrl, held);
  }
  return held.map(describeDeadLetter);
}

/** Where a redrive sends a message: one queue, or a queue per step the message was for. */
export type RedriveTarget = string | ((message: { readonly step?: number }) => string);

/**
 * A redrive into another run (`kisflow runs retry`): every moved batch is re-addressed to `runId`,
 * and `announce` is awaited before a dead letter's messages are sent, with how many they are, so
 * that the run counts them before they can complete (the ledger's rule: announce, then send).
 * `announce` must be idempotent per dead letter: a crash between the send and the delete moves the
 * same letter again, to the same batch ids.
 */
export interface RedriveAsRun {
  readonly runId: string;
  readonly announce: (letter: DeadLetter, messages: number) => Promise<void>;
}

/** Options of `redrive`. */
export interface RedriveOptions extends DeadLetterReadOptions {
  /**
   * Only dead letters that reached the DLQ before this time (epoch ms, SQS's SentTimestamp) move.
   * @default - when the redrive starts: rows that fail again while it runs come back to the DLQ and
   * are left there, instead of cycling between the step and its DLQ for ever.
   */
  readonly sentBefore?: number;
  /**
   * The flow's key fields (`tuning.ordering`): rows sent back to a FIFO step queue go to their
   * key's message group. (They come after the rows of their key that went on meanwhile.)
   * @default - unordered
   */
  readonly ordering?: readonly string[];
  /** Only the dead letters this accepts move; the others stay in the DLQ as they were. */
  readonly select?: (letter: DeadLetter) => boolean;
  /** Moves the batches into a new run instead of the one they failed in. */
  readonly asRun?: RedriveAsRun;
  /** Only these dead letters (SQS message ids) move; the others stay in the DLQ untouched. */
  readonly only?: ReadonlySet<string>;
}

/**
 * Moves up to `max` dead letters back for processing (fauxqs has no StartMessageMoveTask, and
 * a KisFlow redrive must rewrite rejected-rows records anyway): receive → send → delete, so a
 * crash can duplicate a message but never lose one. A message kept verbatim (exhausted retries,
 * undecodable) goes back byte for byte; a rejected-rows record becomes an envelope of its
 * original rows for the step that rejected them, under a new batch id derived from the record
 * and its dead-letter message (`redriveBatchId`). Dead letters `select` refuses, or that arrived
 * after `sentBefore`, are hidden until the end (so one pass sees each once) and left in the DLQ.
 *
 * @returns how many dead letters were moved.
 * @example const moved = await redrive(sqs, dlqUrl, (m) => resources.flows.orders.stepQueues[m.step ?? 0]);
 */
export async function redrive(
  sqs: SQSClient,
  dlqUrl: string,
  targetUrl: RedriveTarget,
  options: RedriveOptions = {},
): Promise<number> {
  const max = options.max ?? Number.POSITIVE_INFINITY;
  // +1: a dead letter sent in the very millisecond the redrive starts still counts as before it.
  const sentBefore = options.sentBefore ?? Date.now() + 1;
  const visibility = options.visibilitySeconds ?? 60;
  // Dead letters left in place stay hidden until the end, so that the loop (which ends at the
  // first empty receive) does not see them again.
  const left: Message[] = [];
  // A letter left in place that shows up again had its visibility run out during a long pass: once
  // a receive brings nothing new, everything has been seen.
  const seen = new Set<string>();
  let moved = 0;
  try {
    while (moved < max) {
      const received = await receive(
        sqs,
        dlqUrl,
        Math.min(SQS_MAX_BATCH_ENTRIES, max - moved),
        visibility,
        options.waitTimeSeconds ?? 1,
      );
      if (received.length === 0) break;
      if (received.every((m) => seen.has(m.MessageId ?? ''))) {
        left.push(...received);
        break;
      }
      const got: Message[] = [];
      for (const m of received) {
        seen.add(m.MessageId ?? '');
        const letter = describeDeadLetter(m);
        const take =
          Number(m.Attributes?.SentTimestamp ?? 0) < sentBefore &&
          (options.select?.(letter) ?? true) &&
          (options.only?.has(m.MessageId ?? '') ?? true);
        (take ? got : left).push(m);
      }
      if (got.length === 0) continue;
      moved += await moveBack(sqs, dlqUrl, targetUrl, got, options.asRun, options.ordering);
    }
  } finally {
    await makeVisible(sqs, dlqUrl, left);
  }
  return moved;
}

/**
 * The messages one dead letter goes back as (`asRun`: re-addressed to that run). On a FIFO step
 * queue (`ordering`) each goes to its key's message group, and is deduplicated per dead letter (a
 * crash between send and delete resends it), never against the original send of the same body
 * within SQS's five minutes.
 */
function messagesOf(
  m: Message,
  asRun: RedriveAsRun | undefined,
  ordering: readonly string[] | undefined,
): { step?: number; out: OutgoingMessage[] } {
  const body = m.Body ?? '';
  const id = m.MessageId ?? '';
  const one = (text: string, first: Row | undefined): OutgoingMessage => ({
    id,
    body: text,
    deduplicationId: `redrive-${id}`,
    ...(ordering === undefined || first === undefined
      ? {}
      : { groupId: messageGroupId(messageGroupOf(first, ordering)) }),
  });
  const packedOut = (packed: ReturnType<typeof packBatch>, dedup: (p: PackedMessage, i: number) => string) =>
    packed.messages.map((p, i) => ({
      id: p.id,
      body: p.body,
      deduplicationId: dedup(p, i),
      ...(p.groupId === undefined ? {} : { groupId: p.groupId }),
    }));
  const read = readDeadLetterBody(body);
  if (read.kind === 'unreadable') return { out: [one(body, undefined)] };
  if (read.kind === 'envelope') {
    const { envelope } = read;
    const first = envelope.rows[0];
    // A redriven batch starts its hop count again: the limit stopped it, the operator sent it on.
    if (asRun === undefined && (envelope.hops ?? 0) === 0) {
      return { step: envelope.step, out: [one(body, first)] };
    }
    // The batch keeps its id (it was never applied; its state writes, if any, are recognised).
    // Completions it carried were written when it was dead-lettered, to its own run, not a retry's.
    const { carry: _written, ...unCarried } = envelope;
    const batch = { ...envelopeToBatch(unCarried), hops: 0, ...(asRun ? { runId: asRun.runId } : {}) };
    const again = encodeEnvelope(batch);
    if (messageSize(again) <= SQS_MAX_MESSAGE_BYTES && ordering === undefined) {
      return { step: envelope.step, out: [one(again, first)] };
    }
    const packed = packBatch(batch, SQS_MAX_MESSAGE_BYTES, ordering);
    return { step: envelope.step, out: packedOut(packed, (_, i) => `redrive-${id}-${i}`) };
  }
  const { record } = read;
  const packed = packBatch(
    {
      flowId: record.flow,
      step: record.step,
      runId: asRun?.runId ?? record.run,
      batchId: redriveBatchId(record.batch, m.MessageId ?? body),
      rows: rejectedRows(record),
      meta: record.meta ?? {},
    },
    SQS_MAX_MESSAGE_BYTES,
    ordering,
  );
  // A rejected row fitted a dead letter, so it fits an envelope: `oversize` stays empty.
  return { step: record.step, out: packedOut(packed, (p) => p.id) };
}

/** Sends received dead letters to their targets, then deletes them from the DLQ. */
async function moveBack(
  sqs: SQSClient,
  dlqUrl: string,
  targetUrl: RedriveTarget,
  got: readonly Message[],
  asRun: RedriveAsRun | undefined,
  ordering: readonly string[] | undefined,
): Promise<number> {
  const byTarget = new Map<string, OutgoingMessage[]>();
  const announced: Promise<void>[] = [];
  for (const m of got) {
    const { step, out } = messagesOf(m, asRun, ordering);
    const url = typeof targetUrl === 'string' ? targetUrl : targetUrl(step === undefined ? {} : { step });
    const list = byTarget.get(url) ?? [];
    byTarget.set(url, list);
    list.push(...out);
    if (asRun !== undefined) announced.push(asRun.announce(describeDeadLetter(m), out.length));
  }
  await Promise.all(announced);
  for (const [url, messages] of byTarget) await sendMessageBatches(sqs, url, messages);
  try {
    await deleteMessages(sqs, dlqUrl, got);
  } catch (error) {
    // Visible again at once, so a second pass can move them now (to the same batch ids) instead of
    // after the visibility timeout; should that fail too, they reappear then anyway.
    await makeVisible(sqs, dlqUrl, got).catch(() => {});
    throw new InfrastructureError(
      'SQS_DELETE_FAILED',
      `Redrove ${got.length} dead letters but could not delete all of them from ${dlqUrl} (${errorText(error)}); they will be redriven again (a redriven batch is idempotent).`,
      { queueUrl: dlqUrl },
      { cause: error },
    );
  }
  return got.length;
}

/** A flow's step queues and their DLQs, by step index. */
export interface FlowDeadLetterQueues {
  readonly stepQueues: readonly string[];
  readonly stepDeadLetterQueues: readonly string[];
}

/** A run's dead letters KisFlow can send back: its rows are readable (unreadable bodies stay). */
const movableOf = (runId: string) => (letter: DeadLetter) =>
  letter.runId === runId && letter.kind !== 'unreadable';

/** How many dead letters of `runId` wait in the flow's DLQs (a peek: they stay). */
export async function countRunDeadLetters(
  sqs: SQSClient,
  queues: FlowDeadLetterQueues,
  runId: string,
): Promise<number> {
  let n = 0;
  for (const dlq of queues.stepDeadLetterQueues) {
    n += (await listDeadLetters(sqs, dlq)).filter(movableOf(runId)).length;
  }
  return n;
}

/**
 * Moves every dead letter of `runId` in the flow's DLQs back to the step it names (else its DLQ's
 * step), re-addressed to `into.runId`, announcing each before its messages leave (`RedriveAsRun`).
 * The other dead letters stay where they are. `kisflow runs retry` is this under `retryRun`.
 *
 * @returns how many dead letters were moved.
 */
export async function moveRunDeadLetters(
  sqs: SQSClient,
  queues: FlowDeadLetterQueues,
  runId: string,
  into: {
    readonly runId: string;
    readonly announce: (letterId: string, step: number, messages: number) => Promise<void>;
  },
): Promise<number> {
  let moved = 0;
  for (const [step, dlq] of queues.stepDeadLetterQueues.entries()) {
    const target = (m: { step?: number }) =>
      queues.stepQueues[m.step ?? step] ?? (queues.stepQueues[step] as string);
    moved += await redrive(sqs, dlq, target, {
      select: movableOf(runId),
      asRun: {
        runId: into.runId,
        announce: (letter, messages) => into.announce(letter.messageId, letter.step ?? step, messages),
      },
    });
  }
  return moved;
}

/**
 * Room kept for a dead letter's attributes when sizing its body: the six `kisflow.*` attributes
 * are cut to at most 256 + 1,024 + 256 + 256 + 256 characters (≤ 4 bytes each in UTF-8) plus their names.
 */
export const DEAD_LETTER_ATTRIBUTE_ROOM = 9_216;

/**
 * Sends `body` unchanged to a dead-letter queue with the reason as message attributes
 * (`kisflow.error.code`, `kisflow.error.message`, `kisflow.flow`, `kisflow.step`, `kisflow.fid`).
 * Used for a message whose retries are exhausted or which cannot be decoded: the original bytes
 * are kept so that `kisflow redrive` can send them back. When body and attributes exceed SQS's
 * 1 MiB, the message attribute is shortened first (the body never is).
 *
 * @returns the dead letter's SQS message id.
 * @throws OversizeError `MESSAGE_TOO_LARGE` when the body alone cannot be a message;
 *   InfrastructureError `SQS_SEND_FAILED` when SQS fails.
 * @example
 * await deadLetterMessage(sqs, dlqUrl, record.body, { code: 'MALFORMED_JSON', message: err.message, flow: 'orders', step: 1 });
 */
export async function deadLetterMessage(
  sqs: SQSClient,
  dlqUrl: string,
  body: string,
  reason: DeadLetterReason,
): Promise<string> {
  let attributes = deadLetterAttributes(reason);
  if (messageSize(body, attributes) > SQS_MAX_MESSAGE_BYTES) {
    attributes = deadLetterAttributes({ ...reason, message: reason.message.slice(0, 64) });
  }
  const size = messageSize(body, attributes);
  if (size > SQS_MAX_MESSAGE_BYTES) {
    throw new OversizeError(
      'MESSAGE_TOO_LARGE',
      `The dead letter for ${reason.code} takes ${size} bytes with its reason attributes, more than SQS's ${SQS_MAX_MESSAGE_BYTES}-byte message limit.`,
      { size, limit: SQS_MAX_MESSAGE_BYTES, code: reason.code },
    );
  }
  try {
    // A FIFO DLQ (an ordered flow's): each dead letter a group of its own, so listing and redrive
    // never wait behind another; the same dead letter written twice (a redelivery) is dropped.
    const fifo = isFifoQueue(dlqUrl) ? fifoIds({ id: '', body, attributes }) : undefined;
    const out = await sqs.send(
      new SendMessageCommand({
        QueueUrl: dlqUrl,
        MessageBody: body,
        MessageAttributes: attributes,
        ...(fifo === undefined
          ? {}
          : { MessageGroupId: fifo.groupId, MessageDeduplicationId: fifo.deduplicationId }),
      }),
    );
    return out.MessageId ?? '';
  } catch (error) {
    throw new InfrastructureError(
      'SQS_SEND_FAILED',
      `Could not dead-letter a message (${reason.code}) to ${dlqUrl}: ${(error as Error).name}: ${(error as Error).message}`,
      { queueUrl: dlqUrl, code: reason.code },
      { cause: error },
    );
  }
}
