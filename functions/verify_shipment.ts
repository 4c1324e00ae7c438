import { defineFunction } from 'kisflow';

export default defineFunction((rows, ctx) => {
  for (const row of rows) ctx.commit({ ...row, carrier: String(row.carrier).toLowerCase() });
});
