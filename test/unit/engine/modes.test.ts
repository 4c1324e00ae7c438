import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { defineFunction } from '../../../kisflow/engine/function.ts';
import { engine, rowsOf } from './project.ts';

const pass = defineFunction((rows, ctx) => {
  for (const r of rows) ctx.commit(r);
});

describe('Verify', () => {
  it('rejects rows missing a source.must field before user code runs', async () => {
    const seen: unknown[] = [];
    const e = engine(
      {
        funcs: [{ fid: 'check', fmode: 'Verify', must: ['userid', 'orderid'] }],
        flows: [{ flowId: 'f', steps: ['check'] }],
      },
      {
        check: defineFunction((rows, ctx) => {
          seen.push(...rows);
          for (const r of rows) ctx.commit(r);
        }),
      },
    );
    const ok = { userid: 1, orderid: 2 };
    const result = await e.run('f', [
      ok,
      { userid: 1 },
      { userid: null, orderid: '' },
      { userid: 0, orderid: false },
    ]);
    expect(seen).toEqual([ok, { userid: 0, orderid: false }]);
    expect(result.output).toEqual([ok, { userid: 0, orderid: false }]);
    expect(result.rejected).toEqual([
      {
        flowId: 'f',
        step: 0,
        fid: 'check',
        code: 'MISSING_FIELD',
        reason: expect.stringContaining("'orderid'"),
        row: { userid: 1 },
      },
      expect.objectContaining({
        code: 'MISSING_FIELD',
        reason: expect.stringMatching(/'userid', 'orderid'/),
      }),
    ]);
  });

  it('does not call the function when every row was refused', async () => {
    let called = false;
    const e = engine(
      {
        funcs: [{ fid: 'check', fmode: 'Verify', must: ['id'] }],
        flows: [{ flowId: 'f', steps: ['check'] }],
      },
      {
        check: defineFunction(() => {
          called = true;
        }),
      },
    );
    const result = await e.run('f', [{ x: 1 }, { id: '' }]);
    expect(called).toBe(false);
    expect(result.rejected.map((r) => r.code)).toEqual(['MISSING_FIELD', 'MISSING_FIELD']);
  });

  it('does not check source.must outside Verify', async () => {
    const e = engine(
      { funcs: [{ fid: 'calc', must: ['x'] }], flows: [{ flowId: 'f', steps: ['calc'] }] },
      { calc: pass },
    );
    expect((await e.run('f', [{ y: 1 }])).output).toEqual([{ y: 1 }]);
  });
});

describe('zod input schema (any mode)', () => {
  it('hands the parsed rows to the handler and rejects the rest with the zod message', async () => {
    const e = engine(
      { funcs: [{ fid: 'total' }], flows: [{ flowId: 'f', steps: ['total'] }] },
      {
        total: defineFunction({
          input: z.object({ price: z.coerce.number(), qty: z.number().int() }),
          handler: (rows, ctx) => {
            for (const r of rows) ctx.commit({ total: r.price * r.qty });
          },
        }),
      },
    );
    const result = await e.run('f', [
      { price: '2.5', qty: 4 },
      { price: 1, qty: 'two' },
    ]);
    expect(result.output).toEqual([{ total: 10 }]);
    expect(result.rejected).toHaveLength(1);
    expect(result.rejected[0]).toMatchObject({ code: 'INVALID_ROW', row: { price: 1, qty: 'two' } });
    expect(result.rejected[0]?.reason).toMatch(/qty/);
  });

  it('passes the original rows on reuse', async () => {
    const e = engine(
      { funcs: [{ fid: 'v' }], flows: [{ flowId: 'f', steps: ['v'] }] },
      { v: defineFunction({ input: z.object({ a: z.number() }), handler: (_rows, ctx) => ctx.reuse() }) },
    );
    expect((await e.run('f', [{ a: 1, extra: true }])).output).toEqual([{ a: 1, extra: true }]);
  });
});

describe('Calculate and Expand', () => {
  it('transform rows step by step; the last step emits the output', async () => {
    const e = engine(
      {
        funcs: [{ fid: 'double' }, { fid: 'sink', fmode: 'Expand' }],
        flows: [{ flowId: 'f', steps: ['double', 'sink'] }],
      },
      {
        double: defineFunction((rows, ctx) => {
          for (const r of rows) ctx.commit({ ...r, n: Number(r.id) * 2 });
        }),
        sink: pass,
      },
    );
    const result = await e.run('f', rowsOf(3));
    expect(result.output).toEqual([
      { id: 0, n: 0 },
      { id: 1, n: 2 },
      { id: 2, n: 4 },
    ]);
    expect(result.stats.steps.map((s) => [s.fid, s.in, s.out])).toEqual([
      ['double', 3, 3],
      ['sink', 3, 3],
    ]);
  });

  it('rejects a committed value that is not an object', async () => {
    const e = engine(
      { funcs: [{ fid: 'bad' }], flows: [{ flowId: 'f', steps: ['bad'] }] },
      {
        bad: defineFunction((rows, ctx) => {
          for (const r of rows) ctx.commit(r.id === 1 ? (null as never) : r);
        }),
      },
    );
    const result = await e.run('f', rowsOf(3));
    expect(result.output).toEqual([{ id: 0 }, { id: 2 }]);
    expect(result.rejected).toEqual([expect.objectContaining({ code: 'BAD_ROW', row: { id: 1 } })]);
  });

  it('rejects input values that are not objects', async () => {
    const e = engine({ funcs: [{ fid: 'p' }], flows: [{ flowId: 'f', steps: ['p'] }] }, { p: pass });
    const result = await e.run('f', [{ a: 1 }, 5 as never, null as never]);
    expect(result.output).toEqual([{ a: 1 }]);
    expect(result.rejected.map((r) => r.code)).toEqual(['INVALID_ROW', 'INVALID_ROW']);
  });
});
