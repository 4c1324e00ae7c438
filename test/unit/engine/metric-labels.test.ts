import { describe, expect, it } from 'vitest';
import { flowMetricLabel, stepMetricLabel } from '../../../kisflow/config/names.ts';
import { defineFunction } from '../../../kisflow/engine/function.ts';
import { MemoryMetrics } from '../../../kisflow/memory/metrics.ts';
import type { Row } from '../../../kisflow/ports.ts';
import { engine } from './project.ts';

describe('the dimensions the engine emits', () => {
  it('are ASCII for the seed Chinese flow ids and fids, the names the dashboards read', async () => {
    const metrics = new MemoryMetrics();
    const e = engine(
      { funcs: [{ fid: '测试PrintInput' }], flows: [{ flowId: '订单流', steps: ['测试PrintInput'] }] },
      {
        测试PrintInput: defineFunction((rows: Row[], ctx) => {
          for (const r of rows) ctx.commit(r);
        }),
      },
      { metrics },
    );
    await e.run('订单流', [{ id: 1 }, { id: 2 }]);
    const dims = { flow: flowMetricLabel('订单流'), step: stepMetricLabel(0, '测试PrintInput') };
    expect(metrics.counter('rows_in', dims)).toBe(2);
    expect(metrics.counter('rows_in', { flow: '订单流' })).toBe(0);
    for (const value of Object.values(dims)) expect(value).toMatch(/^[\x21-\x7e]+$/);
  });
});
