import { describe, expect, it } from 'vitest';
import { Delivery, type RunCompletion } from '../../../kisflow/engine/delivery.ts';
import { defineFunction } from '../../../kisflow/engine/function.ts';
import { FlowPlan } from '../../../kisflow/engine/plan.ts';
import { rootBatches } from '../../../kisflow/engine/run-flow.ts';
import { MemoryTransport } from '../../../kisflow/memory/transport.ts';
import type { StepBatch } from '../../../kisflow/ports.ts';
import { MemoryRunLedger } from '../../../kisflow/runs/memory-run-ledger.ts';
import { engine, project, rowsOf } from './project.ts';

const pass = defineFunction((rows, ctx) => {
  for (const r of rows) ctx.commit(r);
});

/** A memory ledger that keeps every completeMany call, to see what was written when. */
function recordingLedger() {
  const ledger = new MemoryRunLedger();
  const writes: RunCompletion[][] = [];
  const completeMany = ledger.completeMany.bind(ledger);
  ledger.completeMany = (batches) => {
    writes.push([...batches]);
    return completeMany(batches);
  };
  return { ledger, writes };
}

async function run(
  e: ReturnType<typeof engine>,
  flowId: string,
  rows: number,
  batchRows: number,
): Promise<ReturnType<typeof recordingLedger> & { status: string | undefined }> {
  const recorded = recordingLedger();
  await recorded.ledger.start({ runId: 'r', flowId, trigger: 'manual', roots: rootBatches(rows, batchRows) });
  await e.run(flowId, rowsOf(rows), { runId: 'r', batchRows, ledger: recorded.ledger });
  return { ...recorded, status: await recorded.ledger.status('r') };
}

describe('Delivery: completions handed on in the children a batch sends', () => {
  it('a linear flow writes once per chain, at its end, with every step of the chain in order', async () => {
    const e = engine(
      { funcs: [{ fid: 'a' }, { fid: 'b' }, { fid: 'c' }], flows: [{ flowId: 'f', steps: ['a', 'b', 'c'] }] },
      { a: pass, b: pass, c: pass },
    );
    const { writes, ledger, status } = await run(e, 'f', 30, 10);
    expect(status).toBe('succeeded');
    // 3 roots, 3 chains of 3 batches: three writes, not nine.
    expect(writes).toHaveLength(3);
    for (const w of writes)
      expect(w.map((c) => [c.step, c.children])).toEqual([
        [0, 1],
        [1, 1],
        [2, 0],
      ]);
    const got = await ledger.get('r');
    expect(got?.batches).toEqual({ roots: 3, spawned: 6, done: 9, deadLettered: 0 });
    expect(got?.steps.map((s) => [s.index, s.in, s.out])).toEqual([
      [0, 30, 30],
      [1, 30, 30],
      [2, 30, 30],
    ]);
  });

  it('a jumpTo loop longer than the carry limit writes on the way, and the run stays exact', async () => {
    let laps = 0;
    const e = engine(
      { funcs: [{ fid: 'a' }, { fid: 'loop' }], flows: [{ flowId: 'f', steps: ['a', 'loop'] }] },
      {
        a: pass,
        loop: defineFunction((rows, ctx) => {
          for (const r of rows) ctx.commit(r);
          if (++laps < 40) ctx.jumpTo('loop');
        }),
      },
    );
    const { writes, ledger, status } = await run(e, 'f', 5, 10);
    expect(status).toBe('succeeded');
    expect(writes.length).toBeGreaterThan(1);
    for (const w of writes) expect(w.length).toBeLessThanOrEqual(17);
    expect((await ledger.get('r'))?.batches).toEqual({ roots: 1, spawned: 40, done: 41, deadLettered: 0 });
  });

  it('a batch that packs to several messages hands its chain on in each, unless that costs a message', async () => {
    const plan = FlowPlan.build(
      project({ funcs: [{ fid: 'a' }, { fid: 'b' }], flows: [{ flowId: 'f', steps: ['a', 'b'] }] }),
      'f',
    );
    const { ledger, writes } = recordingLedger();
    await ledger.start({ runId: 'r', flowId: 'f', trigger: 'manual', roots: 2 });
    const events: string[] = [];
    const sentBatches: StepBatch[] = [];
    const transport = new MemoryTransport();
    const send = transport.send.bind(transport);
    transport.send = (to, batch) => {
      events.push(`send carry=${batch.carry?.length ?? 0} after ${writes.length} write(s)`);
      sentBatches.push(batch);
      return send(to, batch);
    };
    // 3 rows make 2 messages; a carry of more than 3 completions makes them 3.
    const delivery = new Delivery(plan, transport, {
      ledger,
      messagesOf: (b) => (b.rows.length > 2 ? 2 : 1) + ((b.carry?.length ?? 0) > 3 ? 1 : 0),
    });
    const carried = (id: string) => ({ batchId: id, step: 0, children: 1, at: Date.now() });
    const outcome = (rows: number) => ({
      next: 1,
      emitted: rowsOf(rows),
      rejected: [],
      meta: {},
      stats: { in: rows, out: rows, rejected: 0, dropped: 0, ms: 1 },
    });
    const batch = { flowId: 'f', step: 0, runId: 'r', batchId: 'b', rows: rowsOf(3), meta: {} };
    await delivery.deliver({ ...batch, carry: [carried('up')] }, outcome(3) as never);
    expect(events).toEqual(['send carry=2 after 0 write(s)']);
    expect(writes).toEqual([]);
    const sent = sentBatches.at(-1);
    expect(sent?.carry?.map((c) => [c.batchId, c.children])).toEqual([
      ['up', 1],
      ['b', 2],
    ]);
    // A carry of 4 would make a third message: the chain is written before the sends instead.
    await delivery.deliver(
      { ...batch, batchId: 'c', carry: [carried('u1'), carried('u2'), carried('u3')] },
      outcome(3) as never,
    );
    expect(events[1]).toBe('send carry=0 after 1 write(s)');
    expect(writes[0]?.map((c) => [c.batchId, c.children])).toEqual([
      ['u1', 1],
      ['u2', 1],
      ['u3', 1],
      ['c', 2],
    ]);
  });
});

describe('Delivery: no carry where it does not fit', () => {
  it('a carry too large for the message limit is written instead, and the rows still go on', async () => {
    const plan = FlowPlan.build(
      project({ funcs: [{ fid: 'a' }, { fid: 'b' }], flows: [{ flowId: 'f', steps: ['a', 'b'] }] }),
      'f',
    );
    const { ledger, writes } = recordingLedger();
    await ledger.start({ runId: 'r', flowId: 'f', trigger: 'manual', roots: 1 });
    const transport = new MemoryTransport();
    // As the SQS packer does when the envelope's fixed part alone is over the limit.
    const messagesOf = (b: { carry?: readonly unknown[] }) => {
      if ((b.carry?.length ?? 0) > 0) throw Object.assign(new Error('too large'), { code: 'META_TOO_LARGE' });
      return 1;
    };
    const delivery = new Delivery(plan, transport, { ledger, messagesOf });
    await delivery.deliver({ flowId: 'f', step: 0, runId: 'r', batchId: 'b', rows: rowsOf(2), meta: {} }, {
      next: 1,
      emitted: rowsOf(2),
      rejected: [],
      meta: {},
      stats: { in: 2, out: 2, rejected: 0, dropped: 0, ms: 1 },
    } as never);
    expect(writes.map((w) => w.map((c) => [c.batchId, c.children]))).toEqual([[['b', 1]]]);
  });
});
