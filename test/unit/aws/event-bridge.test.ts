import type { EventBridgeClient, PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { describe, expect, it } from 'vitest';
import { eventIdentity, putRowEvents } from '../../../kisflow/aws/event-bridge.ts';
import { type InfrastructureError, OversizeError } from '../../../kisflow/errors.ts';

/**
 * No EventBridge server runs locally (fauxqs and dynalite have none: localstack/README.md), so
 * PutEvents is exercised with a stand-in client that records requests and fails entries on demand.
 */
function fakeEventBridge(fail: (call: number, index: number) => string | undefined, thrown?: Error) {
  const calls: PutEventsRequestEntry[][] = [];
  const client = {
    async send(command: { input: { Entries: PutEventsRequestEntry[] } }) {
      if (thrown) throw thrown;
      calls.push(command.input.Entries);
      const entries = command.input.Entries.map((_, i) => {
        const code = fail(calls.length, i);
        return code ? { ErrorCode: code, ErrorMessage: 'nope' } : { EventId: `e${i}` };
      });
      return { FailedEntryCount: entries.filter((e) => 'ErrorCode' in e).length, Entries: entries };
    },
  };
  return { client: client as unknown as EventBridgeClient, calls };
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
