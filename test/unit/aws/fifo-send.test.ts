import type { SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { fifoIds, type OutgoingMessage, SqsBatchSender } from '../../../kisflow/aws/sqs-batch-send.ts';

interface Entry {
  Id: string;
  MessageBody: string;
  MessageGroupId?: string;
  MessageDeduplicationId?: string;
  DelaySeconds?: number;
}

/**
 * A stand-in SQS client: no server fails one entry of a SendMessageBatch on demand, which is the
 * case that could put a group's messages out of order.
 */
function fakeSqs(fail: (entry: Entry) => boolean) {
  const requests: Entry[][] = [];
  const client = {
    async send(command: { input: { Entries: Entry[] } }) {
      const entries = command.input.Entries;
      requests.push(entries);
      await new Promise((r) => setTimeout(r, 1));
      return {
        Successful: entries.filter((e) => !fail(e)).map((e) => ({ Id: e.Id, MessageId: e.Id })),
        Failed: entries
          .filter(fail)
          .map((e) => ({ Id: e.Id, Code: 'InternalError', Message: 'try again', SenderFault: false })),
      };
    },
  };
  return { client: client as unknown as SQSClient, requests };
}

const msg = (id: string, groupId: string): OutgoingMessage => ({
  id,
  body: id,
  groupId,
  deduplicationId: id,
});
const noWait = { sleep: async () => {}, random: () => 0.5, attempts: 2 };
const FIFO = 'http://127.0.0.1/000000000000/q.fifo';

describe('sending to a FIFO queue', () => {
  it('sends group and deduplication ids, and a group’s n-th message only after its (n-1)-th', async () => {
    const { client, requests } = fakeSqs(() => false);
    const sender = new SqsBatchSender(client, { retry: noWait });
    const messages = [msg('a1', 'A'), msg('b1', 'B'), msg('a2', 'A'), msg('a3', 'A'), msg('b2', 'B')];
    await sender.send(FIFO, messages);
    expect(requests.map((r) => r.map((e) => e.MessageBody))).toEqual([['a1', 'b1'], ['a2', 'b2'], ['a3']]);
    expect(requests[0]?.[0]).toMatchObject({ MessageGroupId: 'A', MessageDeduplicationId: 'a1' });
  });

  it('does not send what follows a message of its group that failed for good; other groups go on', async () => {
    const { client, requests } = fakeSqs((e) => e.MessageBody === 'a1');
    const sender = new SqsBatchSender(client, { retry: noWait });
    const error = await sender
      .send(FIFO, [msg('a1', 'A'), msg('b1', 'B'), msg('a2', 'A'), msg('b2', 'B')])
      .catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect(String((error as Error).message)).toMatch(/a2: GROUP_ORDER/);
    const sent = requests.flat().map((e) => e.MessageBody);
    expect(sent).not.toContain('a2');
    expect(sent).toContain('b2');
  });

  it('gives a message without ids a content hash for both, and never a per-message delay', async () => {
    const { client, requests } = fakeSqs(() => false);
    const sender = new SqsBatchSender(client, { retry: noWait });
    await sender.send(FIFO, [{ id: 'x', body: 'dead letter', delaySeconds: 5 }]);
    const entry = requests[0]?.[0];
    expect(entry?.DelaySeconds).toBeUndefined();
    expect(entry?.MessageDeduplicationId).toMatch(/^[0-9a-f]{64}$/);
    expect(entry?.MessageGroupId).toBe(entry?.MessageDeduplicationId);
    expect(fifoIds({ id: 'y', body: 'dead letter' }).deduplicationId).toBe(entry?.MessageDeduplicationId);
    expect(fifoIds({ id: 'y', body: 'another' }).deduplicationId).not.toBe(entry?.MessageDeduplicationId);
  });

  it('leaves a standard queue as it was: no FIFO ids, requests in parallel', async () => {
    const { client, requests } = fakeSqs(() => false);
    const sender = new SqsBatchSender(client, { retry: noWait });
    await sender.send('http://127.0.0.1/000000000000/q', [msg('a1', 'A'), msg('a2', 'A')]);
    expect(requests).toHaveLength(1);
    expect(requests[0]?.[0]?.MessageGroupId).toBeUndefined();
  });
});
