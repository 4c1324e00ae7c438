import { defineFunction } from 'kisflow';

// Load mode: merges the order that order_intake saved into each payment (flows merging).
export default defineFunction(async (rows, ctx) => {
  const found = await ctx.connector.load(rows);
  rows.forEach((payment, i) => {
    const order = found[i]?.[0];
    if (order) ctx.commit({ ...order, ...payment });
    else ctx.reject(payment, `no order ${String(payment.order_id)} in connector ${ctx.connector.cid}`);
  });
});
