// zod/mini: the same schemas at a fraction of the bundle and cold-start cost of classic zod.
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { EnvelopeError } from '../errors.ts';
import type { Row, StepBatch } from '../ports.ts';
import { decodeCompletions, encodeCompletions } from './completion-record.ts';
import { sqsSafeJson } from './limits.ts';

// zod/mini ships no messages; English ones make dead-letter reasons readable (`expected number, received string`).
z.config(en());

/** The envelope version this KisFlow writes and reads. */
export const ENVELOPE_VERSION = 1;

const isRow = (value: unknown): value is Row =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

// Rows are checked as "a JSON object" only: their fields are the user's business (Verify mode and
// zod inputs check them per row). A custom check keeps decoding linear and cheap for 10^4 rows.
const envelopeSchema = z.object({
  v: z.literal(ENVELOPE_VERSION),
  flow: z.string().check(z.minLength(1)),
  step: z.int().check(z.nonnegative()),
  run: z.string(),
  batch: z.string().check(z.minLength(1)),
  attempt: z.optional(z.int().check(z.nonnegative())),
  /** Steps the rows have run through before this one (absent: 0, as producers outside KisFlow write). */
  hops: z.optional(z.int().check(z.nonnegative())),
  /** The stable key of the step this batch is for (`stepKeys`); absent in older envelopes and ticks. */
  key: z.optional(z.string().check(z.minLength(1))),
  meta: z.record(z.string(), z.unknown()),
  /** Completions of earlier batches handed on to be written later (completion-record.ts). */
  carry: z.optional(z.array(z.unknown())),
  rows: z.array(z.custom<Row>(isRow, { message: 'a row must be a JSON object' })),
});

/** The wire form of a StepBatch: what an SQS message body holds. */
export type Envelope = z.infer<typeof envelopeSchema>;

/** The batch's fields other than its rows. */
export type BatchHeader = Omit<StepBatch, 'rows'>;

/** Options of `encodeEnvelope`. */
export interface EncodeOptions {
  /** How many times this batch was already tried (carried when a runtime re-sends it with a delay). */
  readonly attempt?: number;
}

/**
 * The envelope's text up to the first row: `{"v":1,...,"rows":[`. `rows` comes last so that the
 * packer can measure the fixed part once and add row sizes (`pack.ts`).
 */
export function envelopeHead(header: BatchHeader, options: EncodeOptions = {}): string {
  const attempt = options.attempt === undefined ? '' : `,"attempt":${options.attempt}`;
  const hops = header.hops === undefined || header.hops === 0 ? '' : `,"hops":${header.hops}`;
  const key = header.stepKey === undefined ? '' : `,"key":${sqsSafeJson(header.stepKey)}`;
  const carry =
    header.carry === undefined || header.carry.length === 0
      ? ''
      : `,"carry":${sqsSafeJson(encodeCompletions(header.carry))}`;
  return (
    `{"v":${ENVELOPE_VERSION},"flow":${sqsSafeJson(header.flowId)},"step":${header.step}${key},` +
    `"run":${sqsSafeJson(header.runId)},"batch":${sqsSafeJson(header.batchId)}${attempt}${hops},` +
    `"meta":${sqsSafeJson(header.meta)}${carry},"rows":[`
  );
}

/** What closes an envelope after its last row. */
export const ENVELOPE_TAIL = ']}';

/** One row as it appears in an envelope (rows are joined with `,`). */
export function encodeRow(row: Row): string {
  return sqsSafeJson(row);
}

/**
 * A StepBatch as an SQS message body (versioned JSON, valid for SQS's character rules).
 *
 * @example
 * const body = encodeEnvelope({ flowId: 'orders', step: 1, runId: 'r1', batchId: 'b1', rows: [{ id: 1 }], meta: {} });
 * decodeEnvelope(body).rows // [{ id: 1 }]
 */
export function encodeEnvelope(batch: StepBatch, options: EncodeOptions = {}): string {
  let body = envelopeHead(batch, options);
  for (let i = 0; i < batch.rows.length; i++) body += (i === 0 ? '' : ',') + encodeRow(batch.rows[i] as Row);
  return body + ENVELOPE_TAIL;
}

function preview(body: string): string {
  return body.length > 80 ? `${body.slice(0, 80)}…` : body;
}

/**
 * Parses and checks a message body, keeping every envelope field (`attempt` included).
 *
 * @throws EnvelopeError `MALFORMED_JSON` (not JSON), `UNSUPPORTED_VERSION` (another `v`, named with
 * the supported one), `INVALID_ENVELOPE` (wrong shape: zod path and message). Never retried.
 */
export function parseEnvelope(body: string): Envelope {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    throw new EnvelopeError(
      'MALFORMED_JSON',
      `The message body is not JSON (${(error as Error).message}); it starts with ${JSON.stringify(preview(body))}. Only KisFlow envelopes may be sent to a step's queue: use \`kisflow send\` or the SqsTransport.`,
      { bodyStart: preview(body) },
      { cause: error },
    );
  }
  if (typeof value === 'object' && value !== null && 'v' in value && value.v !== ENVELOPE_VERSION) {
    const received = (value as { v: unknown }).v;
    throw new EnvelopeError(
      'UNSUPPORTED_VERSION',
      `The message is a version ${JSON.stringify(received)} envelope; this KisFlow reads version ${ENVELOPE_VERSION} only. Deploy the same KisFlow version to every step of the flow, then redrive the dead letters.`,
      { received, supported: [ENVELOPE_VERSION] },
    );
  }
  const parsed = envelopeSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((issue) => {
      const path = issue.path.length === 0 ? '(body)' : issue.path.map(String).join('.');
      return `${path}: ${issue.message}`;
    });
    const more = parsed.error.issues.length - issues.length;
    throw new EnvelopeError(
      'INVALID_ENVELOPE',
      `The message is not a valid KisFlow envelope: ${issues.join('; ')}${more > 0 ? ` (and ${more} more)` : ''}. Expected { v: 1, flow, step, run, batch, meta, rows: [objects] }.`,
      { issues: parsed.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })) },
    );
  }
  return parsed.data;
}

/** The StepBatch a message body carries. Throws EnvelopeError as `parseEnvelope` does. */
export function decodeEnvelope(body: string): StepBatch {
  return envelopeToBatch(parseEnvelope(body));
}

/** The StepBatch of a parsed envelope. */
export function envelopeToBatch(envelope: Envelope): StepBatch {
  return {
    flowId: envelope.flow,
    step: envelope.step,
    ...(envelope.key === undefined ? {} : { stepKey: envelope.key }),
    runId: envelope.run,
    batchId: envelope.batch,
    ...(envelope.hops === undefined ? {} : { hops: envelope.hops }),
    rows: envelope.rows,
    meta: envelope.meta,
    ...(envelope.carry === undefined ? {} : { carry: decodeCompletions(envelope.carry) }),
  };
}

/**
 * A job's tick, as EventBridge Scheduler (in AWS) and the local scheduler (`kisflow dev`) put it
 * into the flow's first queue. The batch id is the job id and the scheduled time, the same on every
 * delivery retry, so a tick delivered twice is applied once. In AWS `scheduledTime` is the
 * Scheduler's `<aws.scheduler.scheduled-time>` placeholder; locally the time in the same format.
 *
 * @example
 * tickEnvelope({ flowId: 'orders', jobId: 'nightly', scheduledTime: '2026-01-01T02:00:00Z', params: {} }).batch
 * // 'nightly@2026-01-01T02:00:00Z'
 */
export function tickEnvelope(input: {
  readonly flowId: string;
  readonly jobId: string;
  readonly scheduledTime: string;
  readonly rows?: readonly Row[];
  readonly params: Readonly<Record<string, unknown>>;
}): Envelope {
  return {
    v: ENVELOPE_VERSION,
    flow: input.flowId,
    step: 0,
    run: input.jobId,
    batch: `${input.jobId}@${input.scheduledTime}`,
    rows: input.rows?.map((r) => ({ ...r })) ?? [{ job_id: input.jobId, scheduled_at: input.scheduledTime }],
    meta: { ...input.params },
  };
}

/** A time as EventBridge Scheduler renders `<aws.scheduler.scheduled-time>`: ISO 8601, whole seconds, UTC. */
export function schedulerTime(at: Date): string {
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * An EventBridge event as a one-row batch: the row is the event's `detail`; run and batch ids are
 * the event id, which EventBridge keeps across its delivery retries. In infra the inputs are
 * EventBridge input-transformer fields.
 */
export function eventEnvelope(input: {
  readonly flowId: string;
  readonly eventId: string;
  readonly detail: unknown;
  readonly meta: Readonly<Record<string, unknown>>;
}): Envelope {
  return {
    v: ENVELOPE_VERSION,
    flow: input.flowId,
    step: 0,
    run: input.eventId,
    batch: input.eventId,
    rows: [input.detail as Row],
    meta: { ...input.meta },
  };
}
