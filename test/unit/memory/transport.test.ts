import { describe, expect, it } from 'vitest';
import { MemoryTransport } from '../../../kisflow/memory/transport.ts';
import type { StepBatch } from '../../../kisflow/ports.ts';

const batch = (over: Partial<StepBatch> = {}): StepBatch => ({
  flowId: 'f',
  step: 0,
  runId: 'r',
  batchId: 'r#0',
  rows: [{ id: 1 }],
  meta: {},
  ...over,
});

describe('MemoryTransport', () => {
  it('queues step batches in order, with ids derived from the entry batch and the hop count', async () => {
    const t = new MemoryTransport();
    await t.send({ kind: 'step', flowId: 'f', step: 1 }, batch({ hops: 1 }));
    const first = t.take();
    expect(first).toMatchObject({ step: 1, batchId: 'r#0.1' });
    await t.send({ kind: 'step', flowId: 'f', step: 2 }, batch({ ...first, hops: 2 }));
    expect(t.take()).toMatchObject({ step: 2, batchId: 'r#0.2' });
    expect(t.take()).toBeUndefined();
  });

  it('collects output rows and rejected rows; a bare batch cannot be sent as rejected', async () => {
    const t = new MemoryTransport();
    await t.send({ kind: 'output', flowId: 'f' }, batch({ rows: [{ a: 1 }, { a: 2 }] }));
    const rejected = { flowId: 'f', step: 0, fid: 'x', code: 'C', reason: 'why', row: { a: 3 } };
    await t.reject({ kind: 'rejected', flowId: 'f', step: 0 }, [rejected], batch());
    expect(t.output).toEqual([{ a: 1 }, { a: 2 }]);
    expect(t.rejected).toEqual([rejected]);
    await expect(t.send({ kind: 'rejected', flowId: 'f', step: 0 }, batch())).rejects.toThrow(TypeError);
  });
});
