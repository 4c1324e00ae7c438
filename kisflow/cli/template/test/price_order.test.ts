import { runFlow, runFunction } from 'kisflow/testing';
import { describe, expect, it } from 'vitest';
import priceOrder from '../functions/price_order.ts';

describe('price_order', () => {
  it('applies the step discount', async () => {
    const { output } = await runFunction(priceOrder, [{ order_id: 'o-1', price: 10, qty: 3 }], {
      params: { discount: 0.5 },
    });
    expect(output).toEqual([{ order_id: 'o-1', price: 10, qty: 3, total: 15 }]);
  });

  it('runs in the orders flow, after verify_order', async () => {
    const { output, rejected } = await runFlow('orders', [
      { order_id: 'o-1', price: 40, qty: 1 },
      { order_id: 'o-2', price: 8, qty: 0 },
    ]);
    expect(output.map((row) => row.total)).toEqual([36]);
    expect(rejected.map((r) => [r.fid, r.reason])).toEqual([['verify_order', 'qty must be positive, got 0']]);
  });
});
