import { describe, expect, it } from 'vitest';
import { type CompletionLedger, Delivery } from '../../../kisflow/engine/delivery.ts';
import { FlowPlan } from '../../../kisflow/engine/plan.ts';
import { MemoryTransport } from '../../../kisflow/memory/transport.ts';
import type { StepBatch } from '../../../kisflow/ports.ts';
import { project } from './project.ts';

describe('Delivery: the run status read before a batch', () => {
  it('the records of one invocation, processed in parallel, share one read; a failed read is not kept', async () => {
    const plan = FlowPlan.build(
      project({ funcs: [{ fid: 'a' }], flows: [{ flowId: 'f', steps: ['a'] }] }),
      'f',
    );
    let reads = 0;
    let fail = false;
    const ledger: CompletionLedger = {
      completeMany: async () => ({}),
      status: async () => {
        reads++;
        await new Promise((r) => setTimeout(r, 20));
        if (fail) throw new Error('throttled');
        return 'running';
      },
    };
    const delivery = new Delivery(plan, new MemoryTransport(), { ledger });
    const batch = (i: number): StepBatch => ({
      flowId: 'f',
      step: 0,
      runId: 'r',
      batchId: `b${i}`,
      rows: [],
      meta: {},
    });
    const ten = await Promise.all(Array.from({ length: 10 }, (_, i) => delivery.ended(batch(i))));
    expect(ten).toEqual(Array(10).fill(undefined));
    expect(reads).toBe(1);

    const other = new Delivery(plan, new MemoryTransport(), { ledger });
    fail = true;
    await expect(other.ended(batch(0))).rejects.toThrow('throttled');
    fail = false;
    expect(await other.ended(batch(1))).toBeUndefined();
    expect(reads).toBe(3);
  });
});
