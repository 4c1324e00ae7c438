import { defineFunction } from 'kisflow';

export default defineFunction(async (rows, ctx) => {
  const found = await ctx.connector.load(rows);
  rows.forEach((shipment, i) => {
    const payment = found[i]?.[0];
    if (payment) ctx.commit({ ...payment, ...shipment });
    else ctx.reject(shipment, `order ${String(shipment.order_id)} has no settled payment`);
  });
});
