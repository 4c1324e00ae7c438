import { describe, expect, it } from 'vitest';
import { defineFunction } from '../../../kisflow/engine/function.ts';
import { UsageError } from '../../../kisflow/errors.ts';
import type { Row } from '../../../kisflow/ports.ts';
import { engine, rowsOf } from './project.ts';

const pass = defineFunction((rows, ctx) => {
  for (const r of rows) ctx.commit(r);
});

describe('runFlow', () => {
  it('does nothing for a disabled flow, and says so', async () => {
    let called = false;
    const e = engine(
      { funcs: [{ fid: 'a' }], flows: [{ flowId: 'off', enabled: false, steps: ['a'] }] },
      {
        a: defineFunction(() => {
          called = true;
        }),
      },
    );
    const result = await e.run('off', rowsOf(5));
    expect(called).toBe(false);
    expect(result.output).toEqual([]);
    expect(result.rejected).toEqual([]);
    expect(result.stats).toMatchObject({ disabled: true, rowsIn: 5, rowsOut: 0, rejected: 0 });
    expect(result.stats.steps).toEqual([
      { step: 0, fid: 'a', in: 0, out: 0, rejected: 0, dropped: 0, created: 0, drops: {}, ms: 0 },
    ]);
  });

  it('cuts the input into batches and reports progress', async () => {
    const sizes: number[] = [];
    const progress: number[] = [];
    const e = engine(
      { funcs: [{ fid: 'a' }], flows: [{ flowId: 'f', steps: ['a'] }] },
      {
        a: defineFunction((rows, ctx) => {
          sizes.push(rows.length);
          for (const r of rows) ctx.commit(r);
        }),
      },
    );
    const result = await e.run('f', rowsOf(25), { batchRows: 10, onBatch: (done) => progress.push(done) });
    expect(sizes).toEqual([10, 10, 5]);
    expect(progress).toEqual([10, 20, 25]);
    expect(result.output).toEqual(rowsOf(25));
    expect(result.stats).toMatchObject({ rowsIn: 25, rowsOut: 25, rejected: 0, disabled: false });
    expect(result.stats.ms).toBeGreaterThanOrEqual(0);
  });

  it('returns rejected rows with where, why, and the row as it entered that step', async () => {
    const e = engine(
      {
        funcs: [{ fid: 'check', fmode: 'Verify', must: ['price'] }, { fid: 'calc' }],
        flows: [{ flowId: 'orders', steps: ['check', 'calc'] }],
      },
      {
        check: defineFunction((rows, ctx) => {
          for (const r of rows) ctx.commit({ ...r, checked: true });
        }),
        calc: defineFunction((rows: Row[], ctx) => {
          for (const r of rows) {
            if (Number(r.price) < 0) throw new RangeError(`negative price ${r.price}`);
            ctx.commit(r);
          }
        }),
      },
    );
    const result = await e.run('orders', [{ id: 1, price: 3 }, { id: 2 }, { id: 3, price: -1 }]);
    expect(result.rejected).toEqual([
      {
        flowId: 'orders',
        step: 0,
        fid: 'check',
        code: 'MISSING_FIELD',
        reason: "Missing required field 'price' (source.must of 'check': 'price').",
        row: { id: 2 },
      },
      {
        flowId: 'orders',
        step: 1,
        fid: 'calc',
        code: 'FUNCTION_ERROR',
        reason: 'negative price -1',
        row: { id: 3, price: -1, checked: true },
      },
    ]);
    expect(result.stats.steps).toEqual([
      expect.objectContaining({ step: 0, fid: 'check', in: 3, out: 2, rejected: 1 }),
      expect.objectContaining({ step: 1, fid: 'calc', in: 2, out: 1, rejected: 1 }),
    ]);
    expect(result.stats).toMatchObject({ rowsIn: 3, rowsOut: 1, rejected: 2 });
  });

  it('uses the given run id in batch ids', async () => {
    const ids: string[] = [];
    const e = engine(
      { funcs: [{ fid: 'a' }], flows: [{ flowId: 'f', steps: ['a'] }] },
      {
        a: defineFunction((rows, ctx) => {
          ids.push(ctx.flow.batchId);
          for (const r of rows) ctx.commit(r);
        }),
      },
    );
    const result = await e.run('f', rowsOf(3), { runId: 'job-1', batchRows: 2 });
    expect(result.runId).toBe('job-1');
    expect(ids).toEqual(['job-1#0', 'job-1#1']);
  });

  it('runs nothing for no input', async () => {
    const e = engine({ funcs: [{ fid: 'a' }], flows: [{ flowId: 'f', steps: ['a'] }] }, { a: pass });
    const result = await e.run('f', []);
    expect(result.output).toEqual([]);
    expect(result.stats.steps[0]?.in).toBe(0);
  });

  it('refuses a bad batch size', async () => {
    const e = engine({ funcs: [{ fid: 'a' }], flows: [{ flowId: 'f', steps: ['a'] }] }, { a: pass });
    await expect(e.run('f', rowsOf(1), { batchRows: 0 })).rejects.toBeInstanceOf(UsageError);
  });

  it('fails before running anything when a step has no registered function', async () => {
    let ran = false;
    const e = engine(
      { funcs: [{ fid: 'a' }, { fid: 'b' }], flows: [{ flowId: 'f', steps: ['a', 'b'] }] },
      {
        a: defineFunction(() => {
          ran = true;
        }),
      },
    );
    await expect(e.run('f', rowsOf(1))).rejects.toMatchObject({ code: 'FUNCTION_NOT_REGISTERED' });
    expect(ran).toBe(false);
  });
});
