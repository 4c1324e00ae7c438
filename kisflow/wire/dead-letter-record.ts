// zod/mini: the same schemas at a fraction of the bundle and cold-start cost of classic zod.
import * as z from 'zod/mini';
import { EnvelopeError, OversizeError } from '../errors.ts';
import type { RejectedRow, Row, StepBatch } from '../ports.ts';
import { type Envelope, parseEnvelope } from './envelope.ts';
import { fillMessages } from './fill-messages.ts';
import { type StringAttribute, sqsSafeJson, stringAttribute } from './limits.ts';

/**
 * Message attributes on every dead letter KisFlow writes, so an operator (console, `kisflow dlq`)
 * reads why without decoding the body.
 */
export const DEAD_LETTER_ATTRIBUTES = {
  code: 'kisflow.error.code',
  message: 'kisflow.error.message',
  flow: 'kisflow.flow',
  step: 'kisflow.step',
  fid: 'kisflow.fid',
  /** The run the message belongs to: `kisflow redrive --run` and `kisflow runs retry` select by it. */
  run: 'kisflow.run',
} as const;

/** Why a message is dead: a stable code, a readable message, and where it happened. */
export interface DeadLetterReason {
  readonly code: string;
  readonly message: string;
  readonly flow?: string;
  readonly step?: number;
  readonly fid?: string;
  readonly run?: string;
}

/** The attributes of a dead letter (empty values are left out: SQS refuses them). */
export function deadLetterAttributes(reason: DeadLetterReason): Record<string, StringAttribute> {
  const attributes: Record<string, StringAttribute> = {
    [DEAD_LETTER_ATTRIBUTES.code]: stringAttribute(reason.code || 'UNKNOWN', 256),
    [DEAD_LETTER_ATTRIBUTES.message]: stringAttribute(reason.message || reason.code || 'UNKNOWN'),
  };
  if (reason.flow) attributes[DEAD_LETTER_ATTRIBUTES.flow] = stringAttribute(reason.flow, 256);
  if (reason.step !== undefined)
    attributes[DEAD_LETTER_ATTRIBUTES.step] = stringAttribute(String(reason.step));
  if (reason.fid) attributes[DEAD_LETTER_ATTRIBUTES.fid] = stringAttribute(reason.fid, 256);
  if (reason.run) attributes[DEAD_LETTER_ATTRIBUTES.run] = stringAttribute(reason.run, 256);
  return attributes;
}

const rejectedRowSchema = z.object({
  flowId: z.string(),
  step: z.int(),
  fid: z.string(),
  code: z.string(),
  reason: z.string(),
  row: z.record(z.string(), z.unknown()),
});

const rejectedRecordSchema = z.object({
  v: z.literal(1),
  kind: z.literal('rejected'),
  flow: z.string().check(z.minLength(1)),
  /** The step that rejected the rows (a redrive sends them back to it). */
  step: z.int().check(z.nonnegative()),
  fid: z.string(),
  run: z.string(),
  /** The batch the rows came in. */
  batch: z.string(),
  /** The batch's flow metadata, so redriven rows see what they saw (an addition to the brief's shape). */
  meta: z.optional(z.record(z.string(), z.unknown())),
  rows: z.array(rejectedRowSchema),
});

/** Rows a step rejected, as one dead-letter message: `{ v: 1, kind: 'rejected', ... }`. */
export type RejectedRecord = z.infer<typeof rejectedRecordSchema>;

/** The record of rows rejected by `step` (running `fid`) while processing `batch`. */
export function rejectedRecord(
  rows: readonly RejectedRow[],
  batch: StepBatch,
  step: number,
  fid: string,
): RejectedRecord {
  return {
    v: 1,
    kind: 'rejected',
    flow: batch.flowId,
    step,
    fid,
    run: batch.runId,
    batch: batch.batchId,
    meta: { ...batch.meta },
    rows: rows.map((r) => ({ ...r, row: r.row as Record<string, unknown> })),
  };
}

/** The attributes' reason for a set of rejected rows: their code if they share one, else `ROWS_REJECTED`. */
export function rejectionReason(record: RejectedRecord): DeadLetterReason {
  const codes = new Set(record.rows.map((r) => r.code));
  const first = record.rows[0];
  const n = record.rows.length;
  const code = codes.size === 1 && first !== undefined ? first.code : 'ROWS_REJECTED';
  const message =
    first === undefined
      ? 'no rows'
      : n === 1
        ? first.reason
        : `${n} rows rejected (${[...codes].join(', ')}); first: ${first.reason}`;
  return { code, message, flow: record.flow, step: record.step, fid: record.fid, run: record.run };
}

/** One dead-letter message of a rejected-rows record: its body and the part of the record it holds. */
export interface EncodedRecord {
  readonly body: string;
  readonly record: RejectedRecord;
}

/**
 * The record as message bodies of at most `maxBodyBytes` each: rows are split across as many
 * records as needed (they stay in order). Reasons longer than 2,000 characters are cut: they are
 * prose, the rows are the data.
 *
 * @throws OversizeError `ROW_TOO_LARGE` when one rejected row alone does not fit a message.
 */
export function encodeRejectedRecords(record: RejectedRecord, maxBodyBytes: number): EncodedRecord[] {
  const head =
    `{"v":1,"kind":"rejected","flow":${sqsSafeJson(record.flow)},"step":${record.step},` +
    `"fid":${sqsSafeJson(record.fid)},"run":${sqsSafeJson(record.run)},"batch":${sqsSafeJson(record.batch)},` +
    `"meta":${sqsSafeJson(record.meta ?? {})},"rows":[`;
  const tail = ']}';
  const overhead = Buffer.byteLength(head, 'utf8') + tail.length;
  // Reasons are prose, the rows are the data: a reason is cut before a row would be.
  const rows = record.rows.map((r) =>
    r.reason.length > 2000 ? { ...r, reason: `${r.reason.slice(0, 1999)}…` } : r,
  );
  const { fills, oversize } = fillMessages(rows, sqsSafeJson, overhead, maxBodyBytes);
  const first = oversize[0];
  if (first !== undefined) {
    throw new OversizeError(
      'ROW_TOO_LARGE',
      `A rejected row of flow ${record.flow} step ${record.step} (${first.item.fid}) takes ${first.bytes} bytes, more than a dead-letter message can hold (${maxBodyBytes - overhead} bytes after the record's fields); it cannot be kept in the DLQ. The input message that produced it is kept instead.`,
      { flow: record.flow, step: record.step, fid: first.item.fid, size: first.bytes, limit: maxBodyBytes },
    );
  }
  if (fills.length === 0) fills.push({ items: [], parts: [] });
  return fills.map((fill) => ({
    body: head + fill.parts.join(',') + tail,
    record: { ...record, rows: fill.items },
  }));
}

/** What a dead-letter body turned out to be. */
export type DeadLetterBody =
  | { readonly kind: 'rejected'; readonly record: RejectedRecord }
  | { readonly kind: 'envelope'; readonly envelope: Envelope }
  | { readonly kind: 'unreadable'; readonly error: EnvelopeError };

/**
 * Reads a dead letter's body: a rejected-rows record, an envelope kept verbatim (a message whose
 * retries were exhausted), or anything else (undecodable, kept as it was).
 */
export function readDeadLetterBody(body: string): DeadLetterBody {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    value = undefined;
  }
  if (typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'rejected') {
    const parsed = rejectedRecordSchema.safeParse(value);
    if (parsed.success) return { kind: 'rejected', record: parsed.data };
  }
  try {
    return { kind: 'envelope', envelope: parseEnvelope(body) };
  } catch (error) {
    if (error instanceof EnvelopeError) return { kind: 'unreadable', error };
    throw error;
  }
}

/** The original rows of a rejected record, in order. */
export function rejectedRows(record: RejectedRecord): Row[] {
  return record.rows.map((r) => r.row);
}
