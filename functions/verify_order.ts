import { defineFunction } from 'kisflow';

// Verify mode: the framework has already rejected rows missing a `source.must` field.
// Here: business rules the schema cannot express.
export default defineFunction((rows, ctx) => {
  for (const row of rows) {
    if (Number(row.qty) <= 0) ctx.reject(row, `qty must be positive, got ${String(row.qty)}`);
    else ctx.commit(row);
  }
});
