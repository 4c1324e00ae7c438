import { describe, expect, it } from 'vitest';
import { defineFunction } from '../../../kisflow/engine/function.ts';
import type { Row } from '../../../kisflow/ports.ts';
import { engine } from './project.ts';

// `kisflow run` keeps every key's rows in input order (what `tuning.ordering` asks of the queues):
// a root batch goes through the whole flow before the next starts, isolation of a failing row
// accepts the rows of a batch in their order, and a jumpTo takes the batch along.
describe('kisflow run keeps rows in order per key', () => {
  it('through row retries, a jumpTo back and an Expand', async () => {
    const failedOnce = new Set<number>();
    const e = engine(
      {
        funcs: [
          { fid: 'first' },
          { fid: 'flaky', retryTimes: 2 },
          { fid: 'loop' },
          { fid: 'emit', fmode: 'Expand' },
        ],
        flows: [{ flowId: 'cdc', steps: ['first', 'flaky', 'loop', 'emit'] }],
      },
      {
        first: defineFunction((rows: Row[], ctx) => {
          for (const r of rows) ctx.commit(r);
        }),
        flaky: defineFunction((rows: Row[], ctx) => {
          for (const r of rows) {
            const seq = Number(r.seq);
            if (seq % 7 === 3 && !failedOnce.has(seq)) {
              failedOnce.add(seq);
              throw new Error(`flaky on ${seq}`);
            }
          }
          for (const r of rows) ctx.commit(r);
        }),
        loop: defineFunction((rows: Row[], ctx) => {
          const again = rows.some((r) => r.looped !== true);
          for (const r of rows) ctx.commit({ ...r, looped: true });
          if (again) ctx.jumpTo('flaky');
        }),
        emit: defineFunction((rows: Row[], ctx) => {
          for (const r of rows) ctx.commit(r);
        }),
      },
    );
    const rows = Array.from({ length: 3000 }, (_, seq) => ({ key: `k${seq % 30}`, seq }));
    const result = await e.run('cdc', rows, { batchRows: 250 });
    expect(failedOnce.size).toBeGreaterThan(100);
    expect(result.rejected).toEqual([]);
    expect(result.output.map((r) => r.seq)).toEqual(rows.map((r) => r.seq));
  });
});
