import { defineFunction } from 'kisflow';

// Verify: the framework has already rejected rows missing a `source.must` field; these are the
// business rules a list of fields cannot express.
export default defineFunction((rows, ctx) => {
  for (const row of rows) {
    if (Number(row.qty) > 0) ctx.commit(row);
    else ctx.reject(row, `qty must be positive, got ${String(row.qty)}`);
  }
});
