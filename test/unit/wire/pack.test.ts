import { describe, expect, it } from 'vitest';
import { KisFlowError, OversizeError } from '../../../kisflow/errors.ts';
import type { Row, StepBatch } from '../../../kisflow/ports.ts';
import { BATCH_ID_LENGTH, childBatchId } from '../../../kisflow/wire/batch-id.ts';
import { decodeEnvelope } from '../../../kisflow/wire/envelope.ts';
import { packBatch, rowBytes } from '../../../kisflow/wire/pack.ts';

function rows(
  n: number,
  make: (i: number) => Row = (i) => ({ id: i, sku: `SKU-${i % 97}`, qty: i % 7, note: 'ü' }),
): Row[] {
  return Array.from({ length: n }, (_, i) => make(i));
}

function batchOf(r: Row[]): StepBatch {
  return { flowId: 'orders', step: 1, runId: 'run-1', batchId: 'parent', rows: r, meta: { m: 1 } };
}

describe('childBatchId', () => {
  it('is deterministic, fixed-length, and distinct per part and step', () => {
    const a = childBatchId('parent', 1, 0);
    expect(a).toHaveLength(BATCH_ID_LENGTH);
    expect(a).toMatch(/^[0-9a-f]+$/);
    expect(childBatchId('parent', 1, 0)).toBe(a);
    expect(childBatchId('parent', 1, 1)).not.toBe(a);
    expect(childBatchId('parent', 2, 0)).not.toBe(a);
    expect(childBatchId('parent1', 1, 0)).not.toBe(childBatchId('parent', 11, 0));
    expect(childBatchId('x'.repeat(500), 0, 0)).toHaveLength(BATCH_ID_LENGTH);
  });
});

describe('packBatch', () => {
  it('keeps every row, in order, across messages within the byte limit', () => {
    const input = rows(5_000);
    const { messages, oversize } = packBatch(batchOf(input), 16_384);
    expect(oversize).toEqual([]);
    expect(messages.length).toBeGreaterThan(1);
    for (const m of messages) {
      expect(Buffer.byteLength(m.body, 'utf8')).toBeLessThanOrEqual(16_384);
      expect(decodeEnvelope(m.body)).toEqual(m.batch);
      expect(m.id).toBe(m.batch.batchId);
    }
    expect(messages.flatMap((m) => m.batch.rows)).toEqual(input);
  });

  it('fills messages: within 1.1x of the minimum the byte limit allows', () => {
    const input = rows(20_000);
    const limit = 65_536;
    const { messages } = packBatch(batchOf(input), limit);
    const total = input.reduce((sum, r) => sum + rowBytes(r) + 1, 0);
    const minimum = Math.ceil(total / limit);
    expect(messages.length / minimum).toBeLessThanOrEqual(1.1);
    // Every message but the last is full: the next row would not have fitted.
    for (let i = 0; i < messages.length - 1; i++) {
      const next = messages[i + 1]?.batch.rows[0] as Row;
      expect(Buffer.byteLength(messages[i]?.body ?? '', 'utf8') + rowBytes(next) + 1).toBeGreaterThan(limit);
    }
  });

  it('is deterministic: a redelivered input packs to the same ids and bodies', () => {
    const input = rows(3_000);
    const a = packBatch(batchOf(input), 8_192);
    const b = packBatch(batchOf(structuredClone(input)), 8_192);
    expect(b.messages.map((m) => m.id)).toEqual(a.messages.map((m) => m.id));
    expect(b.messages.map((m) => m.body)).toEqual(a.messages.map((m) => m.body));
    expect(a.messages.map((m) => m.id)).toEqual(a.messages.map((_, i) => childBatchId('parent', 1, i)));
  });

  it('returns rows that cannot fit alone as oversize, packing the rest', () => {
    const big = { id: 'big', blob: 'x'.repeat(5_000) };
    const input = [{ id: 1 }, big, { id: 2 }];
    const { messages, oversize } = packBatch(batchOf(input), 4_096);
    expect(oversize).toEqual([big]);
    expect(messages.flatMap((m) => m.batch.rows)).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it('accepts a row that fills a message to the exact byte', () => {
    const empty = packBatch(batchOf([{ s: '' }]), 4_096).messages[0]?.body ?? '';
    const room = 4_096 - Buffer.byteLength(empty, 'utf8');
    const exact = { s: 'é'.repeat(room / 2) + (room % 2 ? 'a' : '') };
    const { messages, oversize } = packBatch(batchOf([exact]), 4_096);
    expect(oversize).toEqual([]);
    expect(Buffer.byteLength(messages[0]?.body ?? '', 'utf8')).toBe(4_096);
    const over = { s: `${exact.s}a` };
    expect(packBatch(batchOf([over]), 4_096).oversize).toEqual([over]);
  });

  it('sends an empty batch as one empty message (forceNext)', () => {
    const { messages } = packBatch(batchOf([]), 4_096);
    expect(messages).toHaveLength(1);
    expect(messages[0]?.batch.rows).toEqual([]);
  });

  it('packs linearly: 100,000 rows in well under a second', () => {
    const input = rows(100_000);
    const started = performance.now();
    const { messages } = packBatch(batchOf(input), 262_144);
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(messages.flatMap((m) => m.batch.rows)).toHaveLength(100_000);
  });

  it('rejects limits SQS cannot carry, and metadata larger than a message', () => {
    expect(() => packBatch(batchOf([]), 1_048_577)).toThrow(KisFlowError);
    expect(() => packBatch(batchOf([]), 100)).toThrow(/1024 to 1048576/);
    const huge = { ...batchOf([{ a: 1 }]), meta: { blob: 'x'.repeat(5_000) } };
    expect(() => packBatch(huge, 4_096)).toThrow(OversizeError);
  });

  it('carries the step key and hop count on every message of the batch', () => {
    const batch = {
      ...batchOf(Array.from({ length: 50 }, (_, i) => ({ i, pad: 'x'.repeat(100) }))),
      stepKey: 'price~2',
      hops: 7,
    };
    const { messages } = packBatch(batch, 2_048);
    expect(messages.length).toBeGreaterThan(1);
    for (const m of messages) expect(decodeEnvelope(m.body)).toMatchObject({ stepKey: 'price~2', hops: 7 });
  });
});
