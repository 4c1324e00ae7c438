import { randomUUID } from 'node:crypto';
// zod/mini, as the envelope: the job-control Lambda parses these at cold start.
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { EnvelopeError } from '../errors.ts';

z.config(en());

/** The control-message version this KisFlow writes and reads. */
export const CONTROL_VERSION = 1;

/**
 * SQS's longest DelaySeconds. A longer wait is taken in hops: the message comes back early and is
 * sent again with what is left. https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-delay-queues.html
 */
export const SQS_MAX_DELAY_SECONDS = 900;

/**
 * Receives of a control message before its DLQ (on AWS and under `kisflow dev`): a fire or an end
 * that keeps failing is seen there.
 */
export const CONTROL_MAX_RECEIVE_COUNT = 5;

const params = z.optional(z.record(z.string(), z.unknown()));

const fireSchema = z.object({
  v: z.literal(CONTROL_VERSION),
  kind: z.literal('fire'),
  job: z.string().check(z.minLength(1)),
  /** The schedule time, ISO 8601 (EventBridge Scheduler's `<aws.scheduler.scheduled-time>`). */
  at: z.string().check(z.minLength(1)),
  trigger: z.optional(z.enum(['schedule', 'manual', 'misfire'])),
  /** @default - fireRunId(job, at): a redelivered schedule fire is the same run */
  run: z.optional(z.string().check(z.minLength(1))),
  params,
});

const runEndedSchema = z.object({
  v: z.literal(CONTROL_VERSION),
  kind: z.literal('run-ended'),
  run: z.string().check(z.minLength(1)),
});

const retrySchema = z.object({
  v: z.literal(CONTROL_VERSION),
  kind: z.literal('retry'),
  job: z.string().check(z.minLength(1)),
  /** The retry run's id (retry-plan.ts: derived from the failed run, so planning twice starts one). */
  run: z.string().check(z.minLength(1)),
  parent: z.string().check(z.minLength(1)),
  /** When the retry is due, epoch ms; a message that arrives earlier is delayed again. */
  due: z.number(),
  params,
});

/** The timeout sweep and the repair of run ends nobody handled (on AWS a rate(1 minute) schedule). */
const sweepSchema = z.object({ v: z.literal(CONTROL_VERSION), kind: z.literal('sweep') });

const controlSchema = z.discriminatedUnion('kind', [fireSchema, runEndedSchema, retrySchema, sweepSchema]);

/** A message on the deployment's control queue, handled by kisflow/runs/job-control.ts. */
export type ControlMessage = z.infer<typeof controlSchema>;
export type FireMessage = z.infer<typeof fireSchema>;
export type RetryMessage = z.infer<typeof retrySchema>;

/** @example encodeControl({ v: 1, kind: 'run-ended', run: 'r1' }) */
export function encodeControl(message: ControlMessage): string {
  return JSON.stringify(message);
}

/**
 * @throws EnvelopeError `INVALID_CONTROL_MESSAGE` (not JSON, or not one of the kinds), never retried.
 */
export function decodeControl(body: string): ControlMessage {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    throw new EnvelopeError(
      'INVALID_CONTROL_MESSAGE',
      `A control message is not JSON (${(error as Error).message}); it starts with ${JSON.stringify(body.slice(0, 80))}.`,
      {},
      { cause: error },
    );
  }
  const parsed = controlSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.length === 0 ? '(body)' : i.path.map(String).join('.')}: ${i.message}`);
    throw new EnvelopeError(
      'INVALID_CONTROL_MESSAGE',
      `Not a KisFlow control message: ${issues.join('; ')}. Expected { v: 1, kind: 'fire' | 'run-ended' | 'retry' | 'sweep', ... }.`,
      { issues },
    );
  }
  return parsed.data;
}

/**
 * The `fire` message of a job's schedule. On AWS `at` is the Scheduler's placeholder, which it
 * replaces with the schedule time at each fire (infra/job-schedule.ts).
 */
export function fireMessage(
  jobId: string,
  at: string,
  trigger: 'schedule' | 'misfire' = 'schedule',
): FireMessage {
  return { v: CONTROL_VERSION, kind: 'fire', job: jobId, at, trigger };
}

/**
 * A manual fire (`kisflow jobs trigger`, the console, `kisflow run --job`): now, under a fresh run
 * id the caller waits on.
 */
export function manualFire(
  jobId: string,
  params?: Readonly<Record<string, unknown>>,
): FireMessage & { run: string } {
  return {
    v: CONTROL_VERSION,
    kind: 'fire',
    job: jobId,
    at: new Date().toISOString(),
    trigger: 'manual',
    run: `manual-${randomUUID()}`,
    ...(params === undefined ? {} : { params: { ...params } }),
  } as FireMessage & { run: string };
}
