import type { SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import {
  groupForBatches,
  type OutgoingMessage,
  sendMessageBatches,
} from '../../../kisflow/aws/sqs-batch-send.ts';
import { InfrastructureError } from '../../../kisflow/errors.ts';

const message = (id: string, bytes: number): OutgoingMessage => ({ id, body: 'x'.repeat(bytes) });

interface Entry {
  Id: string;
  MessageBody: string;
}
interface Input {
  Entries: Entry[];
}

/**
 * A stand-in SQS client. No server produces partial SendMessageBatch failures on demand (fauxqs
 * and SQS fail entries only for throttling or internal errors), so this path is tested with a fake.
 */
function fakeSqs(respond: (call: number, entries: Entry[]) => { failIds: string[]; senderFault?: boolean }) {
  const calls: Entry[][] = [];
  const client = {
    async send(command: { input: Input }) {
      const entries = command.input.Entries;
      calls.push(entries);
      const { failIds, senderFault = false } = respond(calls.length, entries);
      return {
        Successful: entries
          .filter((e) => !failIds.includes(e.Id))
          .map((e) => ({ Id: e.Id, MessageId: `id-${e.Id}` })),
        Failed: entries
          .filter((e) => failIds.includes(e.Id))
          .map((e) => ({ Id: e.Id, Code: 'InternalError', Message: 'try again', SenderFault: senderFault })),
      };
    },
  };
  return { client: client as unknown as SQSClient, calls };
}

const noWait = { sleep: async () => {}, random: () => 0.5 };

describe('groupForBatches', () => {
  it('splits by entry count (10)', () => {
    const groups = groupForBatches(Array.from({ length: 25 }, (_, i) => message(`m${i}`, 10)));
    expect(groups.map((g) => g.length)).toEqual([10, 10, 5]);
  });

  it('splits by total bytes per request', () => {
    const groups = groupForBatches(
      Array.from({ length: 9 }, (_, i) => message(`m${i}`, 300_000)),
      1_048_576,
    );
    expect(groups.map((g) => g.length)).toEqual([3, 3, 3]);
    const exact = groupForBatches(
      Array.from({ length: 8 }, (_, i) => message(`m${i}`, 262_144)),
      1_048_576,
    );
    expect(exact.map((g) => g.length)).toEqual([4, 4]);
  });
});

describe('sendMessageBatches: partial failures', () => {
  it('retries only the failed entries, with backoff, until they succeed', async () => {
    const delays: number[] = [];
    const { client, calls } = fakeSqs((call) => ({
      failIds: call === 1 ? ['m1', 'm3'] : call === 2 ? ['m0'] : [],
    }));
    const stats = { requests: 0, messages: 0, bytes: 0 };
    const messages = Array.from({ length: 5 }, (_, i) => message(`batch-${i}`, 10));
    await sendMessageBatches(client, 'q', messages, {
      stats,
      retry: { sleep: async (ms) => void delays.push(ms), random: () => 0.999, baseMs: 100 },
    });
    expect(calls.map((c) => c.map((e) => e.MessageBody.length))).toEqual([
      [10, 10, 10, 10, 10],
      [10, 10],
      [10],
    ]);
    expect(stats).toEqual({ requests: 3, messages: 5, bytes: 50 });
    expect(delays).toEqual([99, 199]);
  });

  it('gives up after the attempts, listing each entry error', async () => {
    const { client, calls } = fakeSqs(() => ({ failIds: ['m0'] }));
    const error = await sendMessageBatches(client, 'q', [message('batch-a', 1), message('batch-b', 1)], {
      retry: { ...noWait, attempts: 3 },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InfrastructureError);
    expect((error as InfrastructureError).code).toBe('SQS_SEND_FAILED');
    expect((error as Error).message).toContain(
      'still failed after 3 attempts: batch-a: InternalError (try again)',
    );
    expect(calls).toHaveLength(3);
  });

  it('does not retry sender faults', async () => {
    const { client, calls } = fakeSqs(() => ({ failIds: ['m0'], senderFault: true }));
    const error = await sendMessageBatches(client, 'q', [message('batch-a', 1)], { retry: noWait }).catch(
      (e: unknown) => e,
    );
    expect((error as Error).message).toContain('SQS refused 1 of 1 message(s)');
    expect(calls).toHaveLength(1);
  });
});
