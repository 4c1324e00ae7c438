import { defineFunction } from 'kisflow';

// Calculate: the step's `discount` param overrides the function's default_params.
export default defineFunction((rows, ctx) => {
  const discount = Number(ctx.params.discount ?? 0);
  for (const row of rows) {
    ctx.commit({
      ...row,
      total: Math.round(Number(row.price) * Number(row.qty) * (1 - discount) * 100) / 100,
    });
  }
});
