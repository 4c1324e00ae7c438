import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { runInGroupOrder } from '../../../kisflow/lambda/group-order.ts';

const record = (messageId: string, group?: string): SQSRecord =>
  ({
    messageId,
    receiptHandle: `rh-${messageId}`,
    body: '',
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '0',
      SenderId: 'x',
      ApproximateFirstReceiveTimestamp: '0',
      ...(group === undefined ? {} : { MessageGroupId: group }),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:1:q.fifo',
    awsRegion: 'us-east-1',
  }) as SQSRecord;

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('runInGroupOrder', () => {
  it('runs a group one record after another, in order, and groups side by side', async () => {
    const log: string[] = [];
    const running = new Map<string, number>();
    let overlapInGroup = false;
    let parallel = 0;
    let maxParallel = 0;
    const records = [
      record('a1', 'A'),
      record('b1', 'B'),
      record('a2', 'A'),
      record('b2', 'B'),
      record('a3', 'A'),
    ];
    const failed = await runInGroupOrder(
      records,
      async (r) => {
        const g = r.attributes.MessageGroupId as string;
        if ((running.get(g) ?? 0) > 0) overlapInGroup = true;
        running.set(g, 1);
        maxParallel = Math.max(maxParallel, ++parallel);
        await tick();
        log.push(r.messageId);
        parallel--;
        running.set(g, 0);
      },
      async () => {},
    );
    expect(failed.size).toBe(0);
    expect(overlapInGroup).toBe(false);
    expect(maxParallel).toBe(2);
    expect(log.filter((id) => id.startsWith('a'))).toEqual(['a1', 'a2', 'a3']);
    expect(log.filter((id) => id.startsWith('b'))).toEqual(['b1', 'b2']);
  });

  it("fails a failed record's followers in its group without running them, and releases them", async () => {
    const ran: string[] = [];
    const released: string[][] = [];
    const records = [
      record('a1', 'A'),
      record('a2', 'A'),
      record('a3', 'A'),
      record('b1', 'B'),
      record('b2', 'B'),
    ];
    const failed = await runInGroupOrder(
      records,
      async (r) => {
        ran.push(r.messageId);
        if (r.messageId === 'a1') throw new Error('retry me');
      },
      async (skipped) => {
        released.push(skipped.map((r) => r.messageId));
      },
    );
    expect([...failed].sort()).toEqual(['a1', 'a2', 'a3']);
    expect(ran.sort()).toEqual(['a1', 'b1', 'b2']);
    expect(released).toEqual([['a2', 'a3']]);
  });

  it('runs records of a standard queue (no group) all at once, each failing alone', async () => {
    let parallel = 0;
    let maxParallel = 0;
    const failed = await runInGroupOrder(
      [record('m1'), record('m2'), record('m3')],
      async (r) => {
        maxParallel = Math.max(maxParallel, ++parallel);
        await tick();
        parallel--;
        if (r.messageId === 'm1') throw new Error('bad');
      },
      async () => {
        throw new Error('nothing to release on a standard queue');
      },
    );
    expect(maxParallel).toBe(3);
    expect([...failed]).toEqual(['m1']);
  });

  it('still reports the failures when the release fails', async () => {
    const failed = await runInGroupOrder(
      [record('a1', 'A'), record('a2', 'A')],
      async () => {
        throw new Error('down');
      },
      async () => {
        throw new Error('visibility change failed');
      },
    );
    expect([...failed].sort()).toEqual(['a1', 'a2']);
  });
});
