import { defineFunction } from 'kisflow';

export default defineFunction((rows, ctx) => {
  const byCarrier = (ctx.params.days_by_carrier ?? {}) as Record<string, number>;
  const fallback = Number(ctx.params.default_days ?? 5);
  for (const row of rows) {
    const days = byCarrier[String(row.carrier)] ?? fallback;
    ctx.commit({ ...row, eta_days: days });
  }
});
