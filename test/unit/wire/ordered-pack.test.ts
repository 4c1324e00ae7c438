import { describe, expect, it } from 'vitest';
import type { Row, StepBatch } from '../../../kisflow/ports.ts';
import { decodeEnvelope } from '../../../kisflow/wire/envelope.ts';
import { messageGroupId, messageGroupOf, ORDERING_GROUPS } from '../../../kisflow/wire/message-group.ts';
import { packBatch } from '../../../kisflow/wire/pack.ts';

const batchOf = (rows: Row[]): StepBatch => ({
  flowId: 'cdc',
  step: 1,
  runId: 'r',
  batchId: 'b-1',
  rows,
  meta: {},
});

const updates = (n: number, keys: number): Row[] =>
  Array.from({ length: n }, (_, seq) => ({ id: `k${seq % keys}`, seq, pad: 'x'.repeat(40) }));

describe('messageGroupOf', () => {
  it('is the same for equal key values, whatever the other fields, and within the bound', () => {
    const a = messageGroupOf({ id: 'k1', v: 1 }, ['id']);
    expect(messageGroupOf({ v: 2, id: 'k1' }, ['id'])).toBe(a);
    // Fixed across processes and releases: queued messages keep their group over a redeploy.
    expect(a).toBe(messageGroupOf({ id: 'k1' }, ['id']));
    expect(a).toBe(19);
    const groups = new Set(updates(1000, 1000).map((r) => messageGroupOf(r, ['id'])));
    expect(Math.max(...groups)).toBeLessThan(ORDERING_GROUPS);
    expect(groups.size).toBe(ORDERING_GROUPS);
  });

  it('puts rows without the key in one group, and tells "1" from 1', () => {
    expect(messageGroupOf({}, ['id'])).toBe(messageGroupOf({ id: null }, ['id']));
    const spread = new Set(Array.from({ length: 50 }, (_, i) => messageGroupOf({ id: i }, ['id'])));
    const asText = new Set(Array.from({ length: 50 }, (_, i) => messageGroupOf({ id: String(i) }, ['id'])));
    expect(spread).not.toEqual(asText);
  });
});

describe('packBatch with ordering', () => {
  it('packs one group per message, each key in row order, every row once', () => {
    const rows = updates(2000, 100);
    const { messages, oversize } = packBatch(batchOf(rows), 4096, ['id']);
    expect(oversize).toEqual([]);
    const seen: Row[] = [];
    for (const m of messages) {
      const decoded = decodeEnvelope(m.body);
      expect(decoded.rows).toEqual(m.batch.rows);
      const groups = new Set(m.batch.rows.map((r) => messageGroupId(messageGroupOf(r, ['id']))));
      expect([...groups]).toEqual([m.groupId]);
      expect(Buffer.byteLength(m.body)).toBeLessThanOrEqual(4096);
      seen.push(...m.batch.rows);
    }
    expect(seen).toHaveLength(rows.length);
    for (let k = 0; k < 100; k++) {
      const key = `k${k}`;
      expect(seen.filter((r) => r.id === key).map((r) => r.seq)).toEqual(
        rows.filter((r) => r.id === key).map((r) => r.seq),
      );
    }
    // Many messages per group at this size: ids stay distinct.
    expect(new Set(messages.map((m) => m.id)).size).toBe(messages.length);
  });

  it('gives a redelivered input the same ids, and ids no unordered packing uses', () => {
    const rows = updates(300, 20);
    const once = packBatch(batchOf(rows), 262_144, ['id']).messages;
    const again = packBatch(batchOf(rows), 262_144, ['id']).messages;
    expect(again.map((m) => [m.id, m.groupId])).toEqual(once.map((m) => [m.id, m.groupId]));
    expect(once.length).toBe(new Set(rows.map((r) => messageGroupOf(r, ['id']))).size);
    const unordered = packBatch(batchOf(rows), 262_144).messages;
    expect(unordered).toHaveLength(1);
    expect(unordered[0]?.groupId).toBeUndefined();
    expect(once.map((m) => m.id)).not.toContain(unordered[0]?.id);
  });

  it('keeps an empty batch one (empty) message, in a group', () => {
    const { messages } = packBatch(batchOf([]), 262_144, ['id']);
    expect(messages).toHaveLength(1);
    expect(messages[0]?.batch.rows).toEqual([]);
    expect(messages[0]?.groupId).toBe(messageGroupId(0));
  });
});
