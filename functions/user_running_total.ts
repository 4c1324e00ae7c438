import { defineFunction } from 'kisflow';

// A stateful function: the running total paid per user. State is applied exactly once per
// batch, so a redelivered batch does not count a payment twice.
export default defineFunction(async (rows, ctx) => {
  const totals = new Map<string, number>();
  for (const row of rows) {
    const user = String(row.user_id);
    const before = totals.get(user) ?? (await ctx.state.get<number>(user)) ?? 0;
    const after = Math.round((before + Number(row.amount)) * 100) / 100;
    totals.set(user, after);
    ctx.commit({ ...row, user_paid_total: after });
  }
  for (const [user, total] of totals) ctx.state.set(user, total);
});
