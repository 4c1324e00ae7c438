/**
 * The v1 message envelope, as the deployment's own producers (EventBridge Scheduler, EventBridge
 * rules) write it into a flow's first queue. Field names are the wire format kisflow/aws decodes:
 * `v` version, `flow` id, `step` index, `run` id, `batch` id (deterministic: a redelivered tick
 * or event keeps it, so its writes stay idempotent), `rows`, `meta` (flow metadata).
 */
export interface EnvelopeV1 {
  readonly v: 1;
  readonly flow: string;
  readonly step: number;
  readonly run: string;
  readonly batch: string;
  readonly rows: readonly unknown[];
  readonly meta: Readonly<Record<string, unknown>>;
}

/**
 * A job's tick. `scheduledTime` is the Scheduler's `<aws.scheduler.scheduled-time>` placeholder:
 * the batch id of a tick is the job id and its scheduled time, the same on every delivery retry.
 */
export function tickEnvelope(input: {
  readonly flowId: string;
  readonly jobId: string;
  readonly scheduledTime: string;
  readonly rows?: readonly Readonly<Record<string, unknown>>[];
  readonly params: Readonly<Record<string, unknown>>;
}): EnvelopeV1 {
  return {
    v: 1,
    flow: input.flowId,
    step: 0,
    run: input.jobId,
    batch: `${input.jobId}@${input.scheduledTime}`,
    rows: input.rows ?? [{ job_id: input.jobId, scheduled_at: input.scheduledTime }],
    meta: input.params,
  };
}

/**
 * An EventBridge event as a one-row batch: the row is the event's `detail`; run and batch ids are
 * the event id, which EventBridge keeps across its delivery retries.
 */
export function eventEnvelope(input: {
  readonly flowId: string;
  readonly eventId: string;
  readonly detail: unknown;
  readonly meta: Readonly<Record<string, unknown>>;
}): EnvelopeV1 {
  return {
    v: 1,
    flow: input.flowId,
    step: 0,
    run: input.eventId,
    batch: input.eventId,
    rows: [input.detail],
    meta: input.meta,
  };
}
