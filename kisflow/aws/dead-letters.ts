/**
 * The dead-letter side of a flow, in one place: the sink (a message kept verbatim with its reason)
 * and the operator's tools (list, redrive). The record format they read and write is the wire
 * contract (kisflow/wire/dead-letter-record.ts). Longer than most modules because list and redrive
 * share the receive/hide/describe steps that make them safe to interrupt.
 */
import { type Message, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { InfrastructureError, OversizeError } from '../errors.ts';
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
import { packBatch } from '../wire/pack.ts';
import { deleteMessages, receiveMessages, setVisibility } from './queue-messages.ts';
import { type OutgoingMessage, sendMessageBatches } from './sqs-batch-send.ts';

/** One dead letter as an operator reads it. */
export interface DeadLetter {
  readonly messageId: string;
  /** `kisflow.error.code`; `RETRIES_EXHAUSTED` for a message the queue's redrive policy moved. */
  readonly code: string;
  readonly message: string;
  readonly step?: number;
  readonly fid?: string;
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
  return {
    messageId: m.MessageId ?? '',
    code: code ?? RETRIES_EXHAUSTED,
    message:
      attribute(DEAD_LETTER_ATTRIBUTES.message) ??
      (read.kind === 'unreadable'
        ? `moved by the queue's redrive policy; the body is not a KisFlow envelope (${read.error.code})`
        : "moved by the queue's redrive policy after its last receive (the step failed or timed out each time)"),
    ...(step === undefined || Number.isNaN(step) ? {} : { step }),
    ...(fid === undefined ? {} : { fid }),
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

/** Options of `redrive`. */
export interface RedriveOptions extends DeadLetterReadOptions {
  /**
   * Only dead letters that reached the DLQ before this time (epoch ms, SQS's SentTimestamp) move.
   * @default - when the redrive starts: rows that fail again while it runs come back to the DLQ and
   * are left there, instead of cycling between the step and its DLQ for ever.
   */
  readonly sentBefore?: number;
  /** Only these dead letters (SQS message ids) move; the others stay in the DLQ untouched. */
  readonly only?: ReadonlySet<string>;
}

/**
 * Moves up to `max` dead letters back for processing (fauxqs has no StartMessageMoveTask, and
 * a KisFlow redrive must rewrite rejected-rows records anyway): receive → send → delete, so a
 * crash can duplicate a message but never lose one. A message kept verbatim (exhausted retries,
 * undecodable) goes back byte for byte; a rejected-rows record becomes an envelope of its
 * original rows for the step that rejected them, under a new batch id derived from the record
 * and its dead-letter message (`redriveBatchId`).
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
  // Dead letters that arrived after the start stay hidden until the end, so that the loop (which
  // ends at the first empty receive) does not see them again.
  const later: Message[] = [];
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
      const got = received.filter((m) => {
        const sent = Number(m.Attributes?.SentTimestamp ?? 0);
        if (sent < sentBefore && (options.only?.has(m.MessageId ?? '') ?? true)) return true;
        later.push(m);
        return false;
      });
      if (got.length === 0) continue;
      moved += await moveBack(sqs, dlqUrl, targetUrl, got);
    }
  } finally {
    await makeVisible(sqs, dlqUrl, later);
  }
  return moved;
}

/** Sends received dead letters to their targets, then deletes them from the DLQ. */
async function moveBack(
  sqs: SQSClient,
  dlqUrl: string,
  targetUrl: RedriveTarget,
  got: readonly Message[],
): Promise<number> {
  const byTarget = new Map<string, OutgoingMessage[]>();
  for (const m of got) {
    const body = m.Body ?? '';
    const read = readDeadLetterBody(body);
    const step =
      read.kind === 'rejected' ? read.record.step : read.kind === 'envelope' ? read.envelope.step : undefined;
    const url = typeof targetUrl === 'string' ? targetUrl : targetUrl(step === undefined ? {} : { step });
    const list = byTarget.get(url) ?? [];
    byTarget.set(url, list);
    if (read.kind !== 'rejected') {
      // A redriven batch starts its hop count again: the limit stopped it, the operator sent it on.
      const again =
        read.kind === 'envelope' && (read.envelope.hops ?? 0) > 0
          ? encodeEnvelope({ ...envelopeToBatch(read.envelope), hops: 0 })
          : body;
      list.push({ id: m.MessageId ?? '', body: again });
      continue;
    }
    const { record } = read;
    const packed = packBatch(
      {
        flowId: record.flow,
        step: record.step,
        runId: record.run,
        batchId: redriveBatchId(record.batch, m.MessageId ?? body),
        rows: rejectedRows(record),
        meta: record.meta ?? {},
      },
      SQS_MAX_MESSAGE_BYTES,
    );
    // A rejected row fitted a dead letter, so it fits an envelope: `oversize` stays empty.
    for (const p of packed.messages) list.push({ id: p.id, body: p.body });
  }
  for (const [url, messages] of byTarget) await sendMessageBatches(sqs, url, messages);
  try {
    await deleteMessages(sqs, dlqUrl, got);
  } catch (error) {
    throw new InfrastructureError(
      'SQS_DELETE_FAILED',
      `Redrove ${got.length} dead letters but could not delete all of them from ${dlqUrl} (${errorText(error)}); they will be redriven again (a redriven batch is idempotent).`,
      { queueUrl: dlqUrl },
      { cause: error },
    );
  }
  return got.length;
}

/**
 * Room kept for a dead letter's attributes when sizing its body: the five `kisflow.*` attributes
 * are cut to at most 256 + 1,024 + 256 + 256 characters (≤ 4 bytes each in UTF-8) plus their names.
 */
export const DEAD_LETTER_ATTRIBUTE_ROOM = 8_192;

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
    const out = await sqs.send(
      new SendMessageCommand({ QueueUrl: dlqUrl, MessageBody: body, MessageAttributes: attributes }),
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
