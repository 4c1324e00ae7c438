import { defineFunction } from 'kisflow';

export default defineFunction((rows, ctx) => {
  for (const row of rows) {
    if (typeof row.amount !== 'number' || row.amount <= 0)
      ctx.reject(row, 'amount must be a positive number');
    else ctx.commit(row);
  }
});
