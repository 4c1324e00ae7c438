import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { tailQueue } from '../../../kisflow/aws/queue-tail.ts';
import { SqsTransport } from '../../../kisflow/aws/sqs-transport.ts';
import type { Row, StepBatch } from '../../../kisflow/ports.ts';
import { createQueue, drain, useEmulators } from './harness.ts';

const ctx = useEmulators();

const batch = (batchId: string, rows: Row[]): StepBatch => ({
  flowId: 'f',
  step: 2,
  runId: 'r',
  batchId,
  rows,
  meta: {},
});

describe('tailQueue on fauxqs', () => {
  it('follows until aborted, handing over batches sent after it started, and consumes them', async () => {
    const queueUrl = await createQueue(ctx.clients.sqs);
    const transport = new SqsTransport({ sqs: ctx.clients.sqs, queueUrl: () => queueUrl });
    const abort = new AbortController();
    const seen: Row[] = [];
    const tail = tailQueue(ctx.clients.sqs, queueUrl, {
      follow: true,
      signal: abort.signal,
      waitTimeSeconds: 1,
      onBatch: (b) => {
        seen.push(...b.rows);
        if (seen.length >= 4) abort.abort();
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await transport.send({ kind: 'output', flowId: 'f' }, batch('a', [{ i: 1 }, { i: 2 }]));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await transport.send({ kind: 'output', flowId: 'f' }, batch('b', [{ i: 3 }, { i: 4 }]));
    const result = await tail;
    expect(result).toEqual({ messages: 2, rows: 4, undecodable: 0 });
    expect(seen).toEqual([{ i: 1 }, { i: 2 }, { i: 3 }, { i: 4 }]);
    expect(await drain(ctx.clients.sqs, queueUrl)).toHaveLength(0);
  });

  it('peeks without consuming, leaves undecodable messages, and stops at max', async () => {
    const queueUrl = await createQueue(ctx.clients.sqs);
    const transport = new SqsTransport({ sqs: ctx.clients.sqs, queueUrl: () => queueUrl });
    for (const id of ['a', 'b', 'c'])
      await transport.send({ kind: 'output', flowId: 'f' }, batch(id, [{ id }]));
    await ctx.clients.sqs.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'not an envelope' }),
    );
    const skipped: string[] = [];
    const peeked = await tailQueue(ctx.clients.sqs, queueUrl, {
      peek: true,
      waitTimeSeconds: 0,
      onBatch: () => {},
      onUndecodable: (body, error) => skipped.push(`${error.code}:${body}`),
    });
    expect(peeked).toEqual({ messages: 3, rows: 3, undecodable: 1 });
    expect(skipped).toEqual(['MALFORMED_JSON:not an envelope']);
    const limited = await tailQueue(ctx.clients.sqs, queueUrl, {
      max: 2,
      waitTimeSeconds: 0,
      onBatch: () => {},
    });
    expect(limited.messages).toBe(2);
    const left = await drain(ctx.clients.sqs, queueUrl);
    expect(left).toHaveLength(2);
    expect(left.map((m) => m.Body)).toContain('not an envelope');
  });
});
