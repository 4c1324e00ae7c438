import {
  DescribeEventBusCommand,
  type EventBridgeClient,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { describe, expect, it } from 'vitest';
import { eventIdentity, putRowEvents } from '../../../kisflow/aws/event-bridge.ts';
import { type InfrastructureError, OversizeError } from '../../../kisflow/errors.ts';

/**
 * No EventBridge server runs locally (fauxqs and dynalite have none: localstack/README.md), so
 * PutEvents is exercised with a stand-in client that records requests and fails entries on demand.
 */
function fakeEventBridge(
  fail: (call: number, index: number) => string | undefined,
  thrown?: Error,
  describeError?: Error,
) {
  const calls: PutEventsRequestEntry[][] = [];
  const described: string[] = [];
  const client = {
    async send(command: { input: { Entries: PutEventsRequestEntry[]; Name?: string } }) {
      if (command instanceof DescribeEventBusCommand) {
        described.push(command.input.Name ?? '');
        if (describeError) throw describeError;
        return { Name: command.input.Name };
      }
      if (thrown) throw thrown;
      calls.push(command.input.Entries);
      const entries = command.input.Entries.map((_, i) => {
        const code = fail(calls.length, i);
        return code ? { ErrorCode: code, ErrorMessage: 'nope' } : { EventId: `e${i}` };
      });
      return { FailedEntryCount: entries.filter((e) => 'ErrorCode' in e).length, Entries: entries };
    },
  };
  return { client: client as unknown as EventBridgeClient, calls, described };
}

const noWait = { sleep: async () => {}, random: () => 0 };

describe('eventIdentity', () => {
  it('takes the first source and detail-type of an event pattern', () => {
    expect(eventIdentity({ source: ['shop.orders', 'x'], 'detail-type': ['OrderPlaced'] })).toEqual({
      source: 'shop.orders',
      detailType: 'OrderPlaced',
    });
    expect(eventIdentity({ detail: { a: [1] } })).toEqual({});
  });
});

describe('putRowEvents', () => {
  it('puts one event per row, at most 10 and 256 KB per request', async () => {
    const { client, calls } = fakeEventBridge(() => undefined);
    const rows = [
      ...Array.from({ length: 23 }, (_, i) => ({ i })),
      ...Array.from({ length: 3 }, () => ({ blob: 'x'.repeat(100_000) })),
    ];
    const put = await putRowEvents(client, { eventBus: 'shop', source: 's', detailType: 'd', rows });
    expect(put).toBe(26);
    expect(calls.map((c) => c.length)).toEqual([10, 10, 5, 1]);
    expect(calls[0]?.[0]).toEqual({ EventBusName: 'shop', Source: 's', DetailType: 'd', Detail: '{"i":0}' });
  });

  it('retries throttled entries, and gives up on others', async () => {
    const retried = fakeEventBridge((call, i) => (call === 1 && i === 1 ? 'ThrottlingException' : undefined));
    expect(
      await putRowEvents(
        retried.client,
        { source: 's', detailType: 'd', rows: [{ a: 1 }, { a: 2 }] },
        { retry: noWait },
      ),
    ).toBe(2);
    expect(retried.calls.map((c) => c.map((e) => e.Detail))).toEqual([['{"a":1}', '{"a":2}'], ['{"a":2}']]);
    const refused = fakeEventBridge(() => 'ValidationException');
    const error = await putRowEvents(
      refused.client,
      { source: 's', detailType: 'd', rows: [{ a: 1 }] },
      { retry: noWait },
    ).catch((e: unknown) => e);
    expect((error as InfrastructureError).code).toBe('EVENTBRIDGE_PUT_FAILED');
    expect(refused.calls).toHaveLength(1);
  });

  it('refuses a row over 256 KB before sending anything, and names a server without EventBridge', async () => {
    const { client, calls } = fakeEventBridge(() => undefined);
    const big = await putRowEvents(client, {
      source: 's',
      detailType: 'd',
      rows: [{ a: 1 }, { blob: 'x'.repeat(270_000) }],
    }).catch((e: unknown) => e);
    expect(big).toBeInstanceOf(OversizeError);
    expect(calls).toHaveLength(0);
    const unknown = Object.assign(new Error('UnknownError'), {
      name: 'Unknown',
      $metadata: { httpStatusCode: 400 },
    });
    const none = fakeEventBridge(() => undefined, unknown);
    const error = await putRowEvents(none.client, { source: 's', detailType: 'd', rows: [{ a: 1 }] }).catch(
      (e: unknown) => e,
    );
    expect((error as InfrastructureError).code).toBe('EVENTBRIDGE_UNAVAILABLE');
  });
});

describe('putRowEvents: the bus is checked once before sending', () => {
  const notFound = Object.assign(new Error('Event bus nope does not exist.'), {
    name: 'ResourceNotFoundException',
  });

  it('fails with EVENT_BUS_NOT_FOUND and puts nothing when the bus does not exist', async () => {
    const { client, calls, described } = fakeEventBridge(() => undefined, undefined, notFound);
    const error = await putRowEvents(client, {
      eventBus: 'nope',
      source: 's',
      detailType: 'd',
      rows: [{ a: 1 }],
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EVENT_BUS_NOT_FOUND', retryable: false });
    expect((error as Error).message).toMatch(/no event bus 'nope'/);
    expect(described).toEqual(['nope']);
    expect(calls).toEqual([]);
  });

  it('checks once per call, not per request', async () => {
    const { client, calls, described } = fakeEventBridge(() => undefined);
    const rows = Array.from({ length: 25 }, (_, i) => ({ i }));
    await putRowEvents(client, { source: 's', detailType: 'd', rows });
    expect(described).toEqual(['default']);
    expect(calls).toHaveLength(3);
  });

  it('trusts a caller that may put events but not describe the bus', async () => {
    const denied = Object.assign(new Error('no'), { name: 'AccessDeniedException' });
    const { client, calls } = fakeEventBridge(() => undefined, undefined, denied);
    expect(await putRowEvents(client, { source: 's', detailType: 'd', rows: [{ a: 1 }] })).toBe(1);
    expect(calls).toHaveLength(1);
  });
});
