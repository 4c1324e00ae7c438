import { KisFlowError, OversizeError } from '../errors.ts';
import type { Row, StepBatch } from '../ports.ts';
import { childBatchId } from './batch-id.ts';
import { ENVELOPE_TAIL, encodeRow, envelopeHead } from './envelope.ts';
import { fillMessages } from './fill-messages.ts';
import { DEFAULT_MAX_MESSAGE_BYTES, MIN_MAX_MESSAGE_BYTES, SQS_MAX_MESSAGE_BYTES } from './limits.ts';
import { messageGroupId, messageGroupOf } from './message-group.ts';

/** One message of a packed batch. */
export interface PackedMessage {
  /** The message's batch id (also a valid SQS batch entry id). */
  readonly id: string;
  /** The envelope text, at most `maxMessageBytes` UTF-8 bytes. */
  readonly body: string;
  /** What `body` decodes to. */
  readonly batch: StepBatch;
  /** The FIFO MessageGroupId of an ordered flow's message (its rows' key hash); unordered: none. */
  readonly groupId?: string;
}

/** The messages a batch became, and the rows too large for any message. */
export interface PackResult {
  readonly messages: PackedMessage[];
  readonly oversize: Row[];
}

/** Throws unless `maxMessageBytes` is an integer SQS can carry. */
export function checkMessageLimit(maxMessageBytes: number): void {
  if (
    !Number.isInteger(maxMessageBytes) ||
    maxMessageBytes < MIN_MAX_MESSAGE_BYTES ||
    maxMessageBytes > SQS_MAX_MESSAGE_BYTES
  ) {
    throw new KisFlowError(
      'INVALID_MESSAGE_LIMIT',
      `The message size limit must be an integer from ${MIN_MAX_MESSAGE_BYTES} to ${SQS_MAX_MESSAGE_BYTES} bytes (SQS's maximum), received ${maxMessageBytes}. Set tuning.max_message_bytes within that range.`,
      { received: maxMessageBytes, min: MIN_MAX_MESSAGE_BYTES, max: SQS_MAX_MESSAGE_BYTES },
    );
  }
}

/**
 * Packs a batch's rows, in order, into as few envelopes as the byte limit allows: each message is
 * filled with rows until the next one would not fit. Each row is encoded and measured once, and
 * every message id has the same length (`childBatchId`), so a message's size is the fixed envelope
 * overhead plus its rows and commas: linear in the rows, no re-encoding. Message `i` gets batch id
 * `childBatchId(batch.batchId, batch.step, i)`: a redelivered input packs to the same ids.
 *
 * With `ordering` (the flow's key fields) rows are first split by message group
 * (`messageGroupOf`), groups in the order their first row came, rows in their order within each:
 * a message carries one group (its `groupId`), so a FIFO queue keeps every key's rows in order
 * while other groups run in parallel. Ids are then numbered within the group.
 *
 * An empty batch still yields one (empty) message: `forceNext()` continues a flow with no rows.
 * A row that cannot fit even alone is returned in `oversize` for the caller to dead-letter.
 * `encode` gives a row's envelope text (`encodeRow`); a caller that packs the same rows twice
 * passes one that keeps the texts (the SQS transport does).
 *
 * @example
 * const { messages, oversize } = packBatch(batch, 262_144);
 * // messages[i].body: ≤ 262,144 bytes; rows in order across messages
 * packBatch(batch, 262_144, ['order_id']).messages[0].groupId; // 'key-17': all its rows share it
 */
export function packBatch(
  batch: StepBatch,
  maxMessageBytes: number = DEFAULT_MAX_MESSAGE_BYTES,
  ordering?: readonly string[],
  encode: (row: Row) => string = encodeRow,
): PackResult {
  checkMessageLimit(maxMessageBytes);
  const headerOf = (part: number, group?: number) => ({
    flowId: batch.flowId,
    step: batch.step,
    ...(batch.stepKey === undefined ? {} : { stepKey: batch.stepKey }),
    runId: batch.runId,
    batchId: childBatchId(batch.batchId, batch.step, part, group),
    ...(batch.hops === undefined ? {} : { hops: batch.hops }),
    meta: batch.meta,
    // Delivery hands completions on only in a batch that packs to one message (delivery.ts);
    // were there more, each would carry them and the ledger would count each batch id once.
    ...(batch.carry === undefined ? {} : { carry: batch.carry }),
  });
  // Every part's head has the same length: only the (fixed-length, ASCII) batch id changes.
  const overhead = Buffer.byteLength(envelopeHead(headerOf(0)), 'utf8') + ENVELOPE_TAIL.length;
  if (overhead >= maxMessageBytes) {
    throw new OversizeError(
      'META_TOO_LARGE',
      `The envelope of flow ${batch.flowId} step ${batch.step} needs ${overhead} bytes before any row (flow metadata and ids), not less than the message limit of ${maxMessageBytes} bytes. Keep flow metadata small; rows carry the data.`,
      { flow: batch.flowId, step: batch.step, size: overhead, limit: maxMessageBytes },
    );
  }

  const messages: PackedMessage[] = [];
  const oversize: Row[] = [];
  const pack = (rows: readonly Row[], group?: number) => {
    const filled = fillMessages(rows, encode, overhead, maxMessageBytes);
    for (const o of filled.oversize) oversize.push(o.item);
    filled.fills.forEach((fill, part) => {
      const header = headerOf(part, group);
      messages.push({
        id: header.batchId,
        body: envelopeHead(header) + fill.parts.join(',') + ENVELOPE_TAIL,
        batch: { ...header, rows: fill.items },
        ...(group === undefined ? {} : { groupId: messageGroupId(group) }),
      });
    });
  };
  if (ordering === undefined) pack(batch.rows);
  else for (const [group, rows] of byGroup(batch.rows, ordering)) pack(rows, group);
  // An empty batch still makes one (empty) message: forceNext() continues a flow with no rows.
  if (messages.length === 0 && batch.rows.length === 0) {
    const header = headerOf(0, ordering === undefined ? undefined : 0);
    messages.push({
      id: header.batchId,
      body: envelopeHead(header) + ENVELOPE_TAIL,
      batch: { ...header, rows: [] },
      ...(ordering === undefined ? {} : { groupId: messageGroupId(0) }),
    });
  }
  return { messages, oversize };
}

/** Rows by message group, groups in the order of their first row, rows in order within each. */
function byGroup(rows: readonly Row[], ordering: readonly string[]): Map<number, Row[]> {
  const groups = new Map<number, Row[]>();
  for (const row of rows) {
    const group = messageGroupOf(row, ordering);
    const list = groups.get(group);
    if (list === undefined) groups.set(group, [row]);
    else list.push(row);
  }
  return groups;
}

/** Bytes a row takes in an envelope (for reasons and benchmarks). */
export function rowBytes(row: Row): number {
  return Buffer.byteLength(encodeRow(row), 'utf8');
}
