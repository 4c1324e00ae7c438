import {
  DescribeEventBusCommand,
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { InfrastructureError, OversizeError } from '../errors.ts';
import type { Row } from '../ports.ts';
import { EVENTBRIDGE_PUT_MAX_BYTES, EVENTBRIDGE_PUT_MAX_ENTRIES } from '../wire/limits.ts';
import { backoffDelay, type RetryPolicy, retryPolicy } from './retry.ts';

/**
 * PutEvents limits: 10 entries per request and 256 KB for the request, counting per entry the
 * UTF-8 bytes of Source, DetailType, Detail and Resources (and 14 for Time).
 * https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html
 */
export const PUT_EVENTS_MAX_ENTRIES = EVENTBRIDGE_PUT_MAX_ENTRIES;
export const PUT_EVENTS_MAX_BYTES = EVENTBRIDGE_PUT_MAX_BYTES;

/** Where and how rows become events. */
export interface RowEvents {
  /** Event bus name or ARN. @default 'default' */
  readonly eventBus?: string;
  readonly source: string;
  readonly detailType: string;
  readonly rows: readonly Row[];
}

/** The `source` and `detail-type` an event pattern matches (its first value of each). */
export function eventIdentity(pattern: Readonly<Record<string, unknown>>): {
  source?: string;
  detailType?: string;
} {
  const first = (value: unknown): string | undefined => {
    const v = Array.isArray(value) ? value[0] : value;
    return typeof v === 'string' ? v : undefined;
  };
  const source = first(pattern.source);
  const detailType = first(pattern['detail-type']);
  return { ...(source === undefined ? {} : { source }), ...(detailType === undefined ? {} : { detailType }) };
}

function entrySize(entry: PutEventsRequestEntry): number {
  return (
    Buffer.byteLength(entry.Source ?? '', 'utf8') +
    Buffer.byteLength(entry.DetailType ?? '', 'utf8') +
    Buffer.byteLength(entry.Detail ?? '', 'utf8')
  );
}

// What a server without EventBridge answers: fauxqs says 400 UnknownError, others 404 or an
// unknown-operation error.
function unavailable(error: unknown): InfrastructureError {
  return new InfrastructureError(
    'EVENTBRIDGE_UNAVAILABLE',
    `The endpoint does not serve EventBridge (${(error as Error).name}: ${(error as Error).message}); the embedded emulators of \`kisflow dev\` are SQS and DynamoDB only. Use --via sqs, or point --endpoint / AWS_ENDPOINT_URL at LocalStack, MiniStack or AWS.`,
    {},
    { cause: error, retryable: false },
  );
}

/**
 * Fails unless the bus exists. PutEvents to a missing bus is not refused by every server
 * (LocalStack answers 200 and drops the events), so "put 3 event(s)" could report events that
 * went nowhere. A caller allowed to put events but not to describe the bus is trusted.
 */
async function checkEventBus(eventbridge: EventBridgeClient, bus: string): Promise<void> {
  try {
    await eventbridge.send(new DescribeEventBusCommand({ Name: bus }));
  } catch (error) {
    const name = (error as { name?: string })?.name ?? '';
    if (name === 'AccessDeniedException') return;
    if (name === 'ResourceNotFoundException') {
      throw new InfrastructureError(
        'EVENT_BUS_NOT_FOUND',
        `There is no event bus '${bus}' at this endpoint, so no event would reach the flow. Create the bus (the flow's stack does not), fix source.event_bus, or use --via sqs.`,
        { eventBus: bus },
        { cause: error, retryable: false },
      );
    }
    if (isUnavailable(error)) throw unavailable(error);
    throw new InfrastructureError(
      'EVENTBRIDGE_PUT_FAILED',
      `Could not check event bus '${bus}': ${name || 'Error'}: ${(error as Error).message}`,
      { eventBus: bus },
      { cause: error },
    );
  }
}

function isUnavailable(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return (
    /^(Unknown|UnknownError|UnknownOperationException|InvalidAction|NotFound|UnknownService)$/.test(
      e?.name ?? '',
    ) ||
    e?.$metadata?.httpStatusCode === 404 ||
    e?.$metadata?.httpStatusCode === 501
  );
}

/**
 * Puts one event per row (Detail = the row as JSON) on an event bus, as many per request as
 * PutEvents allows; entries that fail (throttling, internal errors) are retried with backoff.
 *
 * @returns how many events were put.
 * @throws InfrastructureError `EVENTBRIDGE_UNAVAILABLE` when the endpoint serves no EventBridge,
 *   `EVENTBRIDGE_PUT_FAILED` when entries still fail; OversizeError `EVENT_TOO_LARGE` for a row
 *   over 256 KB (checked before anything is sent).
 */
export async function putRowEvents(
  eventbridge: EventBridgeClient,
  events: RowEvents,
  options: { readonly retry?: Partial<RetryPolicy> } = {},
): Promise<number> {
  const policy = retryPolicy(options.retry);
  const entries: PutEventsRequestEntry[] = events.rows.map((row) => ({
    EventBusName: events.eventBus ?? 'default',
    Source: events.source,
    DetailType: events.detailType,
    Detail: JSON.stringify(row),
  }));
  const groups: PutEventsRequestEntry[][] = [];
  let group: PutEventsRequestEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = entrySize(entry);
    if (size > PUT_EVENTS_MAX_BYTES) {
      throw new OversizeError(
        'EVENT_TOO_LARGE',
        `A row makes an event of ${size} bytes; EventBridge takes at most ${PUT_EVENTS_MAX_BYTES}. Send it with --via sqs instead.`,
        { size, limit: PUT_EVENTS_MAX_BYTES },
      );
    }
    if (
      group.length === PUT_EVENTS_MAX_ENTRIES ||
      (group.length > 0 && bytes + size > PUT_EVENTS_MAX_BYTES)
    ) {
      groups.push(group);
      group = [];
      bytes = 0;
    }
    group.push(entry);
    bytes += size;
  }
  if (group.length > 0) groups.push(group);

  await checkEventBus(eventbridge, events.eventBus ?? 'default');
  let put = 0;
  for (const request of groups) {
    let pending = request;
    for (let attempt = 0; ; attempt++) {
      let failed: { entry: PutEventsRequestEntry; code: string; message: string }[];
      try {
        const out = await eventbridge.send(new PutEventsCommand({ Entries: pending }));
        const results = out.Entries ?? [];
        failed = pending.flatMap((entry, i) => {
          const r = results[i];
          return r?.ErrorCode ? [{ entry, code: r.ErrorCode, message: r.ErrorMessage ?? '' }] : [];
        });
      } catch (error) {
        if (isUnavailable(error)) throw unavailable(error);
        throw new InfrastructureError(
          'EVENTBRIDGE_PUT_FAILED',
          `PutEvents to bus ${events.eventBus ?? 'default'} failed: ${(error as Error).name}: ${(error as Error).message}`,
          { eventBus: events.eventBus ?? 'default' },
          { cause: error },
        );
      }
      put += pending.length - failed.length;
      if (failed.length === 0) break;
      const retryable = failed.every((f) => /Throttling|InternalFailure|InternalException/.test(f.code));
      if (!retryable || attempt + 1 >= policy.attempts) {
        throw new InfrastructureError(
          'EVENTBRIDGE_PUT_FAILED',
          `${failed.length} event(s) were not put on bus ${events.eventBus ?? 'default'}: ${failed
            .slice(0, 5)
            .map((f) => `${f.code} (${f.message})`)
            .join('; ')}`,
          {
            eventBus: events.eventBus ?? 'default',
            failed: failed.map((f) => ({ code: f.code, message: f.message })),
          },
        );
      }
      pending = failed.map((f) => f.entry);
      await policy.sleep(backoffDelay(policy, attempt));
    }
  }
  return put;
}
