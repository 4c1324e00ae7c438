import { describe, expect, it } from 'vitest';
import { defineFunction } from '../../kisflow/index.ts';
import { MemoryConnectorStore } from '../../kisflow/memory/index.ts';
import { runFlow, runFunction } from '../../kisflow/testing.ts';

const double = defineFunction((rows, ctx) => {
  for (const row of rows) {
    if (typeof row.n === 'number') ctx.commit({ ...row, n: row.n * Number(ctx.params.factor ?? 2) });
    else ctx.reject(row, 'n is not a number');
  }
});

describe('kisflow/testing', () => {
  it('runFunction runs one function over rows with step params, and reports rejections', async () => {
    const { output, rejected, steps } = await runFunction(double, [{ n: 2 }, { n: 'x' }], {
      params: { factor: 3 },
    });
    expect(output).toEqual([{ n: 6 }]);
    expect(rejected).toMatchObject([
      { code: 'REJECTED_BY_FUNCTION', reason: 'n is not a number', row: { n: 'x' } },
    ]);
    expect(steps).toMatchObject([{ in: 2, out: 1, rejected: 1 }]);
  });

  it('runFunction gives a Save function its connector, and the store to assert on', async () => {
    const keep = defineFunction((rows, ctx) => {
      for (const row of rows) ctx.commit(row);
    });
    const store = new MemoryConnectorStore();
    await runFunction(keep, [{ id: 'a' }, { id: 'b' }], {
      fmode: 'Save',
      func: { option: { cid: 'things' } },
      conns: [{ cid: 'things', key: ['id'], save: ['under_test'] }],
      store,
    });
    expect((await store.get('things', ['a', 'b'])).size).toBe(2);
  });

  it('runFunction applies the mode: Verify rejects rows missing source.must before the function', async () => {
    const { output, rejected } = await runFunction(double, [{ n: 1 }, {}], {
      fmode: 'Verify',
      func: { source: { must: ['n'] } },
    });
    expect(output).toEqual([{ n: 2 }]);
    expect(rejected).toMatchObject([{ code: 'MISSING_FIELD' }]);
  });

  it("runFlow runs a flow of the project's YAML with its functions", async () => {
    const { output, rejected } = await runFlow('order_intake', [
      { order_id: 'o-1', user_id: 'u', sku: 's', price: 10, qty: 2 },
      { order_id: 'o-2', user_id: 'u', sku: 's', price: 10 },
    ]);
    expect(output).toMatchObject([{ order_id: 'o-1', total: 18, topic: 'orders.priced' }]);
    expect(rejected).toMatchObject([{ fid: 'verify_order', code: 'MISSING_FIELD' }]);
  });
});
