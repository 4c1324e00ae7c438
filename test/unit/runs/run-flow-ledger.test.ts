import { afterEach, describe, expect, it, vi } from 'vitest';
import { defineFunction } from '../../../kisflow/engine/function.ts';
import { rootBatches, runBatches } from '../../../kisflow/engine/run-flow.ts';
import { StepError } from '../../../kisflow/errors.ts';
import { MemoryRunLedger } from '../../../kisflow/runs/memory-run-ledger.ts';
import { engine, rowsOf } from '../engine/project.ts';

const pass = defineFunction((rows, ctx) => {
  for (const r of rows) ctx.commit(r);
});

async function recorded(e: ReturnType<typeof engine>, flowId: string, rows: number, batchRows: number) {
  const ledger = new MemoryRunLedger();
  const runId = `run-${flowId}`;
  await ledger.start({ runId, flowId, trigger: 'manual', roots: rootBatches(rows, batchRows) });
  const result = await e.run(flowId, rowsOf(rows), { runId, batchRows, ledger });
  return { result, run: await ledger.get(runId) };
}

describe('runFlow with a run ledger', () => {
  it('finishes the run exactly when its last batch is done, jumps and rejections counted per step', async () => {
    let looped = 0;
    const e = engine(
      { funcs: [{ fid: 'a' }, { fid: 'b' }], flows: [{ flowId: 'f', steps: ['a', 'b'] }] },
      {
        a: defineFunction((rows, ctx) => {
          for (const r of rows) {
            if ((r as { id: number }).id === 0) ctx.reject(r, 'zero');
            else ctx.commit(r);
          }
        }),
        // Sends its first batch back to itself once: one more batch, still one run.
        b: defineFunction((rows, ctx) => {
          for (const r of rows) ctx.commit(r);
          if (looped++ === 0) ctx.jumpTo('b');
        }),
      },
    );
    const { result, run } = await recorded(e, 'f', 25, 10);
    expect(result.output).toHaveLength(24);
    expect(run?.status).toBe('partial');
    // 3 roots, each sends one batch to b, and b's first batch one more to itself.
    expect(run?.batches).toEqual({ roots: 3, spawned: 4, done: 7, deadLettered: 0 });
    expect(run?.steps.map((s) => [s.index, s.in, s.out, s.rejected])).toEqual([
      [0, 25, 24, 1],
      [1, 33, 33, 0],
    ]);
  });

  it('a clean run succeeds, and a run with no rows succeeds at once', async () => {
    const e = engine({ funcs: [{ fid: 'a' }], flows: [{ flowId: 'f', steps: ['a'] }] }, { a: pass });
    expect((await recorded(e, 'f', 5, 10)).run?.status).toBe('succeeded');
    expect((await recorded(e, 'f', 0, 10)).run).toMatchObject({ status: 'succeeded', batches: { roots: 0 } });
  });

  it('a function throwing on one row: that row is rejected alone and the run still finishes', async () => {
    const e = engine(
      { funcs: [{ fid: 'a' }], flows: [{ flowId: 'f', steps: ['a'] }] },
      {
        a: defineFunction((rows, ctx) => {
          if (rows.some((r) => (r as { id: number }).id === 0))
            throw new StepError('TIMEOUT', 'took too long');
          for (const r of rows) ctx.commit(r);
        }),
      },
    );
    const { run } = await recorded(e, 'f', 20, 10);
    expect(run?.status).toBe('partial');
    expect(run?.batches).toEqual({ roots: 2, spawned: 0, done: 2, deadLettered: 0 });
    expect(run?.steps[0]).toMatchObject({ in: 20, out: 19, rejected: 1 });
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('runBatches runs tick batches as made (own ids and meta), and drops those of a run that timed out', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    let ledger = new MemoryRunLedger();
    const seen: unknown[] = [];
    const e = engine(
      { funcs: [{ fid: 'a' }, { fid: 'b' }], flows: [{ flowId: 'f', steps: ['a', 'b'] }] },
      {
        a: defineFunction(async (rows, ctx) => {
          seen.push(ctx.shard);
          // The run times out while its first batch is in the function, past delivery's status cache.
          vi.setSystemTime(Date.now() + 2000);
          await ledger.sweep();
          for (const r of rows) ctx.commit(r);
        }),
        b: pass,
      },
    );
    const ticks = [0, 1].map((index) => ({
      flowId: 'f',
      step: 0,
      runId: 'r',
      batchId: `r-shard-${index}`,
      rows: [{ id: index }],
      meta: { shard: { index, total: 2 } },
    }));
    const plain = await runBatches(e.plan('f'), ticks, e.registry, e.deps, {
      ledger: await started(new MemoryRunLedger()),
    });
    expect(plain.output).toEqual([{ id: 0 }, { id: 1 }]);
    expect(seen).toEqual([
      { index: 0, total: 2 },
      { index: 1, total: 2 },
    ]);

    ledger = await started(new MemoryRunLedger(), 1000);
    const ended = await runBatches(e.plan('f'), ticks, e.registry, e.deps, { ledger });
    expect(await ledger.status('r')).toBe('timed_out');
    expect(ended.output).toEqual([]);
    // Shard 0 was in step a when the run ended: its next batch is dropped in step b; shard 1 in a.
    expect(ended.stats.steps.map((s) => [s.in, s.out, s.dropped, s.drops])).toEqual([
      [2, 1, 1, { RUN_TIMED_OUT: 1 }],
      [1, 0, 1, { RUN_TIMED_OUT: 1 }],
    ]);
  });
});

async function started(ledger: MemoryRunLedger, timeoutMs?: number): Promise<MemoryRunLedger> {
  await ledger.start({
    runId: 'r',
    flowId: 'f',
    trigger: 'manual',
    roots: 2,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });
  return ledger;
}
