import { describe, expect, it } from 'vitest';
import { defineFunction } from '../../../kisflow/engine/function.ts';
import { ROW_METRICS, stepDimensions, stepMetricDimensions } from '../../../kisflow/wire/metric-names.ts';
import { engine, rowsOf } from '../engine/project.ts';

// The dashboards read these names and dimensions; the engine writes them. A rename on either side
// would leave a dashboard empty without any error, so the engine's output is checked against them.
describe('metric names and dimensions', () => {
  it('are what the engine emits per step', async () => {
    const e = engine(
      { funcs: [{ fid: 'a' }], flows: [{ flowId: 'f', steps: ['a'] }] },
      {
        a: defineFunction((rows, ctx) => {
          // id 0 is rejected, id 1 neither committed nor rejected (dropped), the rest committed.
          for (const r of rows) if (r.id !== 0 && r.id !== 1) ctx.commit(r);
          ctx.reject(rows[0] ?? {}, 'no');
        }),
      },
    );
    await e.run('f', rowsOf(4));
    const dims = stepDimensions('f', 0, 'a');
    for (const name of ROW_METRICS) expect(e.deps.metrics.counter(name, dims), name).toBeGreaterThan(0);
    expect(stepMetricDimensions('f', 0, 'a')).toEqual({ service: 'kisflow', ...dims });
  });
});
