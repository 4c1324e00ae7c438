import { describe, expect, it } from 'vitest';
import { defineFunction } from '../../../kisflow/engine/function.ts';
import { StepRunner } from '../../../kisflow/engine/step-runner.ts';
import type { Row } from '../../../kisflow/ports.ts';
import { engine, rowsOf } from './project.ts';

describe('a step over its timeout', () => {
  it('fails with StepError TIMEOUT, and nothing the hung attempt does later is kept or written', async () => {
    let release: () => void = () => {};
    const e = engine(
      {
        funcs: [{ fid: 'hang', cid: 'c' }],
        conns: [{ cid: 'c', key: ['id'] }],
        flows: [{ flowId: 'f', steps: ['hang'], timeoutSeconds: 1 }],
      },
      {
        hang: defineFunction(async (rows: Row[], ctx) => {
          await new Promise<void>((resolve) => {
            release = resolve;
          });
          await ctx.connector.save(rows);
          for (const r of rows) ctx.commit(r);
        }),
      },
    );
    const runner = new StepRunner(e.plan('f'), 0, e.registry, e.deps);
    const started = Date.now();
    await expect(
      runner.run(
        { flowId: 'f', step: 0, runId: 'r', batchId: 'b', rows: rowsOf(3), meta: {} },
        { timeoutMs: 50 },
      ),
    ).rejects.toMatchObject({ code: 'TIMEOUT', message: expect.stringContaining("('hang')") });
    expect(Date.now() - started).toBeLessThan(1000);
    release();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(e.deps.store.items('c')).toEqual([]);
  });

  it('in an in-process run rejects that batch with TIMEOUT and keeps every other batch', async () => {
    const e = engine(
      { funcs: [{ fid: 'a' }], flows: [{ flowId: 'f', steps: ['a'], timeoutSeconds: 1 }] },
      {
        a: defineFunction(async (rows: Row[], ctx) => {
          // A promise that never settles, with nothing else keeping Node's event loop alive.
          if (rows.some((r) => r.id === 3)) await new Promise(() => {});
          for (const r of rows) ctx.commit(r);
        }),
      },
    );
    const result = await e.run('f', rowsOf(6), { batchRows: 2 });
    expect(result.output.map((r) => r.id)).toEqual([0, 1, 4, 5]);
    expect(result.rejected.map((r) => [r.row.id, r.code])).toEqual([
      [2, 'TIMEOUT'],
      [3, 'TIMEOUT'],
    ]);
    expect(result.stats.steps[0]).toMatchObject({ in: 6, out: 4, rejected: 2 });
  });
});
