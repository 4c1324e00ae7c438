import { defineFunction } from 'kisflow';
import * as z from 'zod';

// Typed input: a row that does not parse is rejected with zod's reason before this runs.
const Order = z.looseObject({ price: z.number().nonnegative(), qty: z.number().int().positive() });

export default defineFunction({
  input: Order,
  handler: (rows, ctx) => {
    const discount = Number(ctx.params.discount ?? 0);
    for (const row of rows) {
      const total = Math.round(row.price * row.qty * (1 - discount) * 100) / 100;
      ctx.commit({ ...row, total, currency: ctx.params.currency });
    }
  },
});
