import { describe, expect, it } from 'vitest';
import { defineFunction } from '../../../kisflow/engine/function.ts';
import { rootBatches } from '../../../kisflow/engine/run-flow.ts';
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
});
