import { describe, expect, it } from 'vitest';
import { Delivery } from '../../../kisflow/engine/delivery.ts';
import { defineFunction } from '../../../kisflow/engine/function.ts';
import { FlowPlan } from '../../../kisflow/engine/plan.ts';
import { Registry } from '../../../kisflow/engine/registry.ts';
import { StepRunner } from '../../../kisflow/engine/step-runner.ts';
import { MemoryTransport } from '../../../kisflow/memory/transport.ts';
import type { StepBatch } from '../../../kisflow/ports.ts';
import { MemoryRunLedger } from '../../../kisflow/runs/memory-run-ledger.ts';
import { memoryDeps, project } from './project.ts';

/** Flow f = a, b; the ledger tracks run r; `ended` hears each run end delivery announces. */
function setup() {
  const proj = project({ funcs: [{ fid: 'a' }, { fid: 'b' }], flows: [{ flowId: 'f', steps: ['a', 'b'] }] });
  const plan = FlowPlan.build(proj, 'f');
  const registry = new Registry()
    .addFunction(
      'a',
      defineFunction((rows, ctx) => {
        for (const r of rows) ctx.commit(r);
      }),
    )
    .addFunction(
      'b',
      defineFunction((rows, ctx) => {
        for (const r of rows) ctx.commit(r);
      }),
    );
  const ledger = new MemoryRunLedger();
  const ended: [string, string][] = [];
  const transport = new MemoryTransport();
  const delivery = new Delivery(plan, transport, {
    ledger,
    onRunEnded: async (runId, status) => {
      ended.push([runId, status]);
    },
  });
  const runner = (step: number) => new StepRunner(plan, step, registry, memoryDeps());
  return { ledger, ended, delivery, runner };
}

const batch = (step: number, batchId: string): StepBatch => ({
  flowId: 'f',
  step,
  runId: 'r',
  batchId,
  rows: [{ id: 1 }],
  meta: {},
});

describe('delivery announces the end of a run', () => {
  it('once, from the completion that made it final, and not again on a redelivery', async () => {
    const { ledger, ended, delivery, runner } = setup();
    await ledger.start({ runId: 'r', flowId: 'f', trigger: 'api', roots: 1 });
    const first = batch(0, 'b0');
    await delivery.deliver(first, await runner(0).run(first));
    expect(ended).toEqual([]);
    const second = batch(1, 'b1');
    const outcome = await runner(1).run(second);
    await delivery.deliver(second, outcome);
    expect(ended).toEqual([['r', 'succeeded']]);
    await delivery.deliver(second, outcome);
    expect(ended).toEqual([['r', 'succeeded']]);
  });

  it('when the last batch goes to its dead-letter queue', async () => {
    const { ledger, ended, delivery } = setup();
    await ledger.start({ runId: 'r', flowId: 'f', trigger: 'api', roots: 1 });
    await delivery.deadLettered(batch(0, 'b0'));
    expect(ended).toEqual([['r', 'failed']]);
  });
});
