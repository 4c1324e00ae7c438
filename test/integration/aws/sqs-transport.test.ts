import { describe, expect, it } from 'vitest';
import { SqsTransport } from '../../../kisflow/aws/sqs-transport.ts';
import { OversizeError } from '../../../kisflow/errors.ts';
import type { Destination, RejectedRow, Row, StepBatch } from '../../../kisflow/ports.ts';
import { childBatchId } from '../../../kisflow/wire/batch-id.ts';
import { DEAD_LETTER_ATTRIBUTES, readDeadLetterBody } from '../../../kisflow/wire/dead-letter-record.ts';
import { decodeEnvelope } from '../../../kisflow/wire/envelope.ts';
import { rowBytes } from '../../../kisflow/wire/pack.ts';
import { createQueue, drain, useEmulators } from './harness.ts';

const ctx = useEmulators();

const rows = (n: number): Row[] =>
  Array.from({ length: n }, (_, i) => ({
    order: `o-${i}`,
    user: `u${i % 113}`,
    price: (i % 50) + 0.99,
    city: 'Zürich 🚲',
  }));

function batchOf(r: Row[], batchId = 'in-1'): StepBatch {
  return { flowId: 'orders', step: 1, runId: 'run-7', batchId, rows: r, meta: { tenant: 't1' } };
}

async function queues() {
  const step = await createQueue(ctx.clients.sqs);
  const dlq = await createQueue(ctx.clients.sqs);
  const queueUrl = (to: Destination) => (to.kind === 'rejected' ? dlq : step);
  return { step, dlq, queueUrl };
}

/** The rows of received envelopes, reassembled in part order (SQS does not promise order). */
function reassemble(bodies: string[], parent: string, step: number): Row[] {
  const byId = new Map(bodies.map((b) => decodeEnvelope(b)).map((b) => [b.batchId, b]));
  const out: Row[] = [];
  for (let part = 0; byId.has(childBatchId(parent, step, part)); part++) {
    out.push(...(byId.get(childBatchId(parent, step, part))?.rows ?? []));
  }
  expect(out.length === 0 || byId.size > 0).toBe(true);
  return out;
}

describe('SqsTransport on fauxqs', () => {
  it('delivers every row intact across many messages, with run, meta and derived batch ids', async () => {
    const q = await queues();
    const transport = new SqsTransport({
      sqs: ctx.clients.sqs,
      queueUrl: q.queueUrl,
      maxMessageBytes: 16_384,
    });
    const input = rows(20_000);
    await transport.send({ kind: 'step', flowId: 'orders', step: 1 }, batchOf(input));
    const received = await drain(ctx.clients.sqs, q.step);
    expect(received.length).toBe(transport.stats.messages);
    const bodies = received.map((m) => m.Body as string);
    for (const body of bodies) {
      expect(Buffer.byteLength(body, 'utf8')).toBeLessThanOrEqual(16_384);
      expect(decodeEnvelope(body)).toMatchObject({
        flowId: 'orders',
        step: 1,
        runId: 'run-7',
        meta: { tenant: 't1' },
      });
    }
    expect(reassemble(bodies, 'in-1', 1)).toEqual(input);
  });

  it('splits requests by entry count (10) when messages are small', async () => {
    const q = await queues();
    const transport = new SqsTransport({
      sqs: ctx.clients.sqs,
      queueUrl: q.queueUrl,
      maxMessageBytes: 8_192,
    });
    await transport.send({ kind: 'step', flowId: 'orders', step: 1 }, batchOf(rows(5_000)));
    expect(transport.stats.messages).toBeGreaterThan(20);
    expect(transport.stats.requests).toBe(Math.ceil(transport.stats.messages / 10));
    expect(await drain(ctx.clients.sqs, q.step)).toHaveLength(transport.stats.messages);
  });

  it('splits requests by total bytes (1 MiB, or a lower configured limit) when messages are large', async () => {
    const q = await queues();
    const input = rows(40_000);
    const full = new SqsTransport({ sqs: ctx.clients.sqs, queueUrl: q.queueUrl, maxMessageBytes: 262_144 });
    await full.send({ kind: 'step', flowId: 'orders', step: 1 }, batchOf(input));
    // Four 256 KiB messages fill a 1 MiB request.
    expect(full.stats.requests).toBe(Math.ceil(full.stats.messages / 4));
    const old = new SqsTransport({
      sqs: ctx.clients.sqs,
      queueUrl: q.queueUrl,
      maxMessageBytes: 262_144,
      maxBatchBytes: 262_144,
    });
    await old.send({ kind: 'step', flowId: 'orders', step: 1 }, batchOf(input, 'in-2'));
    expect(old.stats.requests).toBe(old.stats.messages);
    const bodies = (await drain(ctx.clients.sqs, q.step)).map((m) => m.Body as string);
    expect(reassemble(bodies, 'in-1', 1)).toEqual(input);
    expect(reassemble(bodies, 'in-2', 1)).toEqual(input);
  });

  it('dead-letters a row too large for a message with ROW_TOO_LARGE, its size and the limit', async () => {
    const q = await queues();
    const transport = new SqsTransport({
      sqs: ctx.clients.sqs,
      queueUrl: q.queueUrl,
      maxMessageBytes: 4_096,
      fidOf: () => 'price_order',
    });
    const big = { order: 'huge', blob: 'x'.repeat(10_000) };
    await transport.send(
      { kind: 'step', flowId: 'orders', step: 1 },
      batchOf([{ order: 'a' }, big, { order: 'b' }]),
    );
    const sent = (await drain(ctx.clients.sqs, q.step)).flatMap((m) => decodeEnvelope(m.Body as string).rows);
    expect(sent).toEqual([{ order: 'a' }, { order: 'b' }]);
    const [dead] = await drain(ctx.clients.sqs, q.dlq);
    const attr = (name: string) => dead?.MessageAttributes?.[name]?.StringValue;
    expect(attr(DEAD_LETTER_ATTRIBUTES.code)).toBe('ROW_TOO_LARGE');
    expect(attr(DEAD_LETTER_ATTRIBUTES.message)).toContain(`${rowBytes(big)} bytes`);
    expect(attr(DEAD_LETTER_ATTRIBUTES.message)).toContain('4096 bytes');
    expect(attr(DEAD_LETTER_ATTRIBUTES.flow)).toBe('orders');
    expect(attr(DEAD_LETTER_ATTRIBUTES.step)).toBe('1');
    expect(attr(DEAD_LETTER_ATTRIBUTES.fid)).toBe('price_order');
    const read = readDeadLetterBody(dead?.Body as string);
    expect(read.kind === 'rejected' && read.record.rows[0]?.row).toEqual(big);
    expect(transport.stats.deadLetters).toBe(1);
  });

  it('sends nothing and throws OversizeError when an oversize row has no dead-letter queue', async () => {
    const step = await createQueue(ctx.clients.sqs);
    const transport = new SqsTransport({
      sqs: ctx.clients.sqs,
      queueUrl: (to) => {
        if (to.kind !== 'step') throw new Error('no such queue');
        return step;
      },
      maxMessageBytes: 2_048,
    });
    const error = await transport
      .send({ kind: 'step', flowId: 'orders', step: 1 }, batchOf([{ a: 1 }, { blob: 'x'.repeat(3_000) }]))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OversizeError);
    expect((error as OversizeError).code).toBe('ROW_TOO_LARGE');
    expect(await drain(ctx.clients.sqs, step)).toHaveLength(0);
  });

  it('rejects rows as one dead-letter record per batch, with the reason in attributes', async () => {
    const q = await queues();
    const transport = new SqsTransport({ sqs: ctx.clients.sqs, queueUrl: q.queueUrl });
    const batch = batchOf(rows(3));
    const rejected: RejectedRow[] = batch.rows.map((row) => ({
      flowId: 'orders',
      step: 1,
      fid: '校验订单',
      code: 'MISSING_FIELD',
      reason: "the row has no 'qty'",
      row,
    }));
    await transport.reject({ kind: 'rejected', flowId: 'orders', step: 1 }, rejected, batch);
    const dead = await drain(ctx.clients.sqs, q.dlq);
    expect(dead).toHaveLength(1);
    const attrs = dead[0]?.MessageAttributes ?? {};
    expect(attrs[DEAD_LETTER_ATTRIBUTES.code]?.StringValue).toBe('MISSING_FIELD');
    expect(attrs[DEAD_LETTER_ATTRIBUTES.fid]?.StringValue).toBe('校验订单');
    expect(attrs[DEAD_LETTER_ATTRIBUTES.message]?.StringValue).toContain(
      "3 rows rejected (MISSING_FIELD); first: the row has no 'qty'",
    );
    const read = readDeadLetterBody(dead[0]?.Body as string);
    expect(read.kind).toBe('rejected');
    if (read.kind === 'rejected') {
      expect(read.record).toMatchObject({
        flow: 'orders',
        step: 1,
        run: 'run-7',
        batch: 'in-1',
        meta: { tenant: 't1' },
      });
      expect(read.record.rows).toEqual(rejected);
    }
  });
});
