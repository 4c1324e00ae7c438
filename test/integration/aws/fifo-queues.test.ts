import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { deadLetterMessage, redrive } from '../../../kisflow/aws/dead-letters.ts';
import { SqsTransport } from '../../../kisflow/aws/sqs-transport.ts';
import { buildProject } from '../../../kisflow/config/build-project.ts';
import { isFifoQueue } from '../../../kisflow/config/names.ts';
import { locateResources, provisionProject } from '../../../kisflow/local/provision.ts';
import type { Row, StepBatch } from '../../../kisflow/ports.ts';
import { decodeEnvelope } from '../../../kisflow/wire/envelope.ts';
import { messageGroupId, messageGroupOf } from '../../../kisflow/wire/message-group.ts';
import { drain, useEmulators } from './harness.ts';

const ctx = useEmulators();

const project = buildProject({
  funcs: [
    { fid: 'a', fmode: 'Calculate' },
    { fid: 'b', fmode: 'Calculate' },
  ],
  flows: [
    { flow_id: 'cdc', flows: [{ fid: 'a' }, { fid: 'b' }], tuning: { ordering: ['id'] } },
    { flow_id: 'plain', flows: [{ fid: 'a' }] },
  ],
});

const batchOf = (batchId: string, rows: Row[]): StepBatch => ({
  flowId: 'cdc',
  step: 0,
  runId: 'r',
  batchId,
  rows,
  meta: {},
});

async function attributes(url: string) {
  const out = await ctx.clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }),
  );
  return out.Attributes ?? {};
}

describe('FIFO queues of an ordered flow on the emulator', () => {
  it('provisions FIFO step and output queues with FIFO DLQs (idempotently), standard ones for the rest', async () => {
    const first = await provisionProject(project, ctx.clients, { prefix: 'fifo' });
    // Again: an existing FIFO queue is updated without FifoQueue, which SQS refuses to set.
    expect(await provisionProject(project, ctx.clients, { prefix: 'fifo' })).toEqual(first);
    expect(await locateResources(project, ctx.clients.sqs, { prefix: 'fifo' })).toMatchObject({
      flows: { cdc: { stepQueues: first.flows.cdc?.stepQueues } },
    });
    const cdc = first.flows.cdc;
    for (const url of [
      ...(cdc?.stepQueues ?? []),
      ...(cdc?.stepDeadLetterQueues ?? []),
      cdc?.outputQueue ?? '',
    ]) {
      expect(isFifoQueue(url), url).toBe(true);
      const attrs = await attributes(url);
      expect(attrs).toMatchObject({ FifoQueue: 'true', ContentBasedDeduplication: 'true' });
    }
    const step0 = await attributes(cdc?.stepQueues[0] as string);
    const dlq0 = await attributes(cdc?.stepDeadLetterQueues[0] as string);
    expect(JSON.parse(step0.RedrivePolicy as string).deadLetterTargetArn).toBe(dlq0.QueueArn);
    expect(isFifoQueue(first.flows.plain?.stepQueues[0] as string)).toBe(false);
  });

  it('sends each key to its group in order, and drops a second send of the same batch', async () => {
    const { flows } = await provisionProject(project, ctx.clients, { prefix: 'fifo2' });
    const url = flows.cdc?.stepQueues[1] as string;
    const transport = new SqsTransport({
      sqs: ctx.clients.sqs,
      queueUrl: () => url,
      orderingOf: () => ['id'],
      maxMessageBytes: 2048,
    });
    const rows = Array.from({ length: 400 }, (_, seq) => ({ id: `k${seq % 8}`, seq }));
    const to = { kind: 'step', flowId: 'cdc', step: 1 } as const;
    await transport.send(to, batchOf('b-1', rows));
    await transport.send(to, batchOf('b-1', rows));
    const got = await drain(ctx.clients.sqs, url);
    expect(got.length).toBe(transport.messageCount(batchOf('b-1', rows)));
    const seen = got.flatMap((m) => {
      const envelope = decodeEnvelope(m.Body ?? '');
      for (const row of envelope.rows) {
        expect(m.Attributes?.MessageGroupId).toBe(messageGroupId(messageGroupOf(row, ['id'])));
      }
      expect(m.Attributes?.MessageDeduplicationId).toBe(envelope.batchId);
      return envelope.rows;
    });
    expect(seen).toHaveLength(rows.length);
    for (let k = 0; k < 8; k++) {
      const of = (list: Row[]) => list.filter((r) => r.id === `k${k}`).map((r) => r.seq);
      expect(of(seen)).toEqual(of(rows));
    }
  });

  it('dead-letters to a FIFO DLQ once per dead letter and redrives into the key’s group', async () => {
    const { flows } = await provisionProject(project, ctx.clients, { prefix: 'fifo3' });
    const queue = flows.cdc?.stepQueues[0] as string;
    const dlq = flows.cdc?.stepDeadLetterQueues[0] as string;
    const transport = new SqsTransport({
      sqs: ctx.clients.sqs,
      queueUrl: () => queue,
      orderingOf: () => ['id'],
    });
    await transport.send({ kind: 'step', flowId: 'cdc', step: 0 }, batchOf('b-9', [{ id: 'k3', seq: 1 }]));
    const body = (await drain(ctx.clients.sqs, queue))[0]?.Body as string;
    const reason = { code: 'BOOM', message: 'failed for good', flow: 'cdc', step: 0, fid: 'a' };
    await deadLetterMessage(ctx.clients.sqs, dlq, body, reason);
    // The same dead letter again (a redelivered last attempt): deduplicated.
    await deadLetterMessage(ctx.clients.sqs, dlq, body, reason);
    const moved = await redrive(ctx.clients.sqs, dlq, () => queue, {
      ordering: ['id'],
      waitTimeSeconds: 0,
    });
    expect(moved).toBe(1);
    const back = await drain(ctx.clients.sqs, queue);
    expect(back.map((m) => m.Body)).toEqual([body]);
    expect(back[0]?.Attributes?.MessageGroupId).toBe(messageGroupId(messageGroupOf({ id: 'k3' }, ['id'])));
  });
});
