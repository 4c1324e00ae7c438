import { describe, expect, it } from 'vitest';
import { defineFunction } from '../../../kisflow/engine/function.ts';
import type { StepOutcome } from '../../../kisflow/engine/step-runner.ts';
import { StepRunner } from '../../../kisflow/engine/step-runner.ts';
import type { Row } from '../../../kisflow/ports.ts';
import { engine, rowsOf } from './project.ts';

/** Runs step 0 of flow 'f' on `rows` directly, as a Lambda step would. */
async function runStep(e: ReturnType<typeof engine>, rows: Row[]): Promise<StepOutcome> {
  const runner = new StepRunner(e.plan('f'), 0, e.registry, e.deps);
  return runner.run({ flowId: 'f', step: 0, runId: 'r', batchId: 'b', rows, meta: {} });
}

function balanced(o: StepOutcome): boolean {
  const { stats } = o;
  return stats.in + stats.created === stats.out + stats.rejected + stats.dropped;
}

describe('row accounting: in + created = out + rejected + dropped', () => {
  it('counts rows an abort() left uncommitted as dropped, with the reason', async () => {
    const e = engine(
      { funcs: [{ fid: 'a' }], flows: [{ flowId: 'f', steps: ['a'] }] },
      {
        a: defineFunction((_rows, ctx) => ctx.abort()),
      },
    );
    const o = await runStep(e, rowsOf(5));
    expect(o.stats).toMatchObject({ in: 5, out: 0, rejected: 0, dropped: 5 });
    expect(o.dropped).toEqual([{ code: 'ABORTED', reason: expect.stringContaining('abort()'), count: 5 }]);
    expect(e.deps.metrics.counter('rows_dropped', { step: '0.a' })).toBe(5);
    expect(balanced(o)).toBe(true);
  });

  it('counts rows a Verify function filtered out, and rows a function neither committed nor rejected', async () => {
    const e = engine(
      {
        funcs: [{ fid: 'v', fmode: 'Verify', must: ['id'] }, { fid: 'c' }],
        flows: [
          { flowId: 'f', steps: ['v'] },
          { flowId: 'g', steps: ['c'] },
        ],
      },
      {
        v: defineFunction((rows: Row[], ctx) => {
          for (const r of rows) if (Number(r.id) % 2 === 0) ctx.commit(r);
        }),
        c: defineFunction((rows: Row[], ctx) => {
          ctx.reject(rows[0] as Row, 'no');
          ctx.commit(rows[1] as Row);
        }),
      },
    );
    const o = await runStep(e, [...rowsOf(6), { other: 1 }]);
    expect(o.stats).toMatchObject({ in: 7, out: 3, rejected: 1, dropped: 3, created: 0 });
    expect(o.dropped).toEqual([{ code: 'FILTERED', reason: expect.any(String), count: 3 }]);
    expect(balanced(o)).toBe(true);

    const result = await e.run('g', rowsOf(4));
    expect(result.stats.steps[0]).toMatchObject({
      in: 4,
      out: 1,
      rejected: 1,
      dropped: 2,
      drops: { NOT_COMMITTED: 2 },
    });
    expect(result.stats.dropped).toBe(2);
  });

  it('counts rows a function split into more as created', async () => {
    const e = engine(
      { funcs: [{ fid: 'a', fmode: 'Expand' }], flows: [{ flowId: 'f', steps: ['a'] }] },
      {
        a: defineFunction((rows: Row[], ctx) => {
          for (const r of rows) for (let i = 0; i < 3; i++) ctx.commit({ ...r, i });
        }),
      },
    );
    const o = await runStep(e, rowsOf(2));
    expect(o.stats).toMatchObject({ in: 2, out: 6, rejected: 0, dropped: 0, created: 4 });
    expect(balanced(o)).toBe(true);
  });

  it('never passes a rejected row on: reuse() and a commit of the same row leave it rejected only', async () => {
    const e = engine(
      {
        funcs: [{ fid: 'a' }, { fid: 'b' }],
        flows: [
          { flowId: 'f', steps: ['a'] },
          { flowId: 'g', steps: ['b'] },
        ],
      },
      {
        a: defineFunction((rows: Row[], ctx) => {
          ctx.reject(rows[1] as Row, 'bad');
          ctx.reuse();
        }),
        b: defineFunction((rows: Row[], ctx) => {
          for (const r of rows) {
            r.seen = true; // a mutated input, committed and rejected
            ctx.commit(r);
            if (r.id === 0) ctx.reject(r, 'zero');
          }
        }),
      },
    );
    const o = await runStep(e, rowsOf(3));
    expect(o.emitted.map((r) => r.id)).toEqual([0, 2]);
    expect(o.rejected.map((r) => r.row.id)).toEqual([1]);
    expect(o.stats).toMatchObject({ in: 3, out: 2, rejected: 1, dropped: 0 });

    const result = await e.run('g', rowsOf(2));
    expect(result.output.map((r) => r.id)).toEqual([1]);
    expect(result.rejected.map((r) => [r.row.id, r.code])).toEqual([[0, 'REJECTED_BY_FUNCTION']]);
    expect(result.stats.steps[0]).toMatchObject({ in: 2, out: 1, rejected: 1, dropped: 0, created: 0 });
  });

  it('refuses a reject of a row the function was not given, or twice, as a per-row error', async () => {
    const e = engine(
      { funcs: [{ fid: 'a' }], flows: [{ flowId: 'f', steps: ['a'] }] },
      {
        a: defineFunction((rows: Row[], ctx) => {
          for (const r of rows) {
            if (r.id === 1) ctx.reject({ ...r }, 'a copy');
            else if (r.id === 2) {
              ctx.reject(r, 'once');
              ctx.reject(r, 'twice');
            } else ctx.commit(r);
          }
        }),
      },
    );
    const o = await runStep(e, rowsOf(4));
    expect(o.emitted.map((r) => r.id)).toEqual([0, 3]);
    expect(o.rejected.map((r) => [r.row, r.code, r.reason])).toEqual([
      [{ id: 1 }, 'BAD_REJECT', expect.stringMatching(/Function 'a' .*a row it was not given/)],
      [{ id: 2 }, 'BAD_REJECT', expect.stringContaining('already rejected')],
    ]);
    expect(balanced(o)).toBe(true);
  });

  it('reports the rejected row as it entered the step when the function got it parsed by its schema', async () => {
    const { z } = await import('zod');
    const e = engine(
      { funcs: [{ fid: 'a' }], flows: [{ flowId: 'f', steps: ['a'] }] },
      {
        a: defineFunction({
          input: z.object({ id: z.number() }).transform((r) => ({ ...r, parsed: true })),
          handler: (rows, ctx) => {
            for (const r of rows) ctx.reject(r, 'all');
          },
        }),
      },
    );
    const o = await runStep(e, rowsOf(2));
    expect(o.rejected.map((r) => r.row)).toEqual([{ id: 0 }, { id: 1 }]);
    expect(o.stats).toMatchObject({ in: 2, out: 0, rejected: 2, dropped: 0 });
  });
});

describe('an action after the handler returned', () => {
  it('is StepError COMMIT_AFTER_RETURN naming the function, not a silent drop', async () => {
    let late: Promise<unknown> | undefined;
    const e = engine(
      { funcs: [{ fid: 'sloppy' }], flows: [{ flowId: 'f', steps: ['sloppy'] }] },
      {
        sloppy: defineFunction((rows: Row[], ctx) => {
          ctx.commit(rows[0] as Row);
          late = new Promise((resolve) => setTimeout(resolve, 5)).then(() => ctx.commit(rows[1] as Row));
        }),
      },
    );
    const o = await runStep(e, rowsOf(2));
    expect(o.emitted).toEqual([{ id: 0 }]);
    await expect(late).rejects.toMatchObject({
      code: 'COMMIT_AFTER_RETURN',
      message: expect.stringContaining("Function 'sloppy' called ctx.commit() after its handler returned"),
    });
  });

  it('fails the batch when it happens before the step finished', async () => {
    const e = engine(
      {
        funcs: [{ fid: 'sloppy', cid: 'c' }],
        conns: [{ cid: 'c', key: ['id'] }],
        flows: [{ flowId: 'f', steps: ['sloppy'] }],
      },
      {
        sloppy: defineFunction(async (rows: Row[], ctx) => {
          await ctx.connector.save(rows);
          // Not awaited: lands while the step writes its saves.
          void Promise.resolve()
            .then(() => undefined)
            .then(() => ctx.commit({ id: 'late' }))
            .catch(() => {});
        }),
      },
    );
    await expect(runStep(e, rowsOf(2))).rejects.toMatchObject({ code: 'COMMIT_AFTER_RETURN' });
  });
});

describe('accounting under mixed behaviour', () => {
  it('holds per step for 200 seeded batches of functions that commit, split, reject, drop, throw and abort', async () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const e = engine(
      { funcs: [{ fid: 'mixed', retryTimes: 1 }], flows: [{ flowId: 'f', steps: ['mixed'] }] },
      {
        mixed: defineFunction((rows: Row[], ctx) => {
          for (const r of rows) {
            const kind = Number(r.kind);
            if (kind === 0) ctx.commit({ ...r, out: 1 });
            else if (kind === 1) ctx.reject(r, 'no');
            else if (kind === 2)
              continue; // neither committed nor rejected
            else if (kind === 3) throw new Error(`bad ${r.id}`);
            else if (kind === 4) {
              ctx.commit({ ...r, part: 1 });
              ctx.commit({ ...r, part: 2 });
            } else if (rows.length > 3) ctx.abort();
            else ctx.commit(r);
          }
        }),
      },
    );
    const runner = new StepRunner(e.plan('f'), 0, e.registry, e.deps);
    for (let b = 0; b < 200; b++) {
      const rows = rowsOf(1 + Math.floor(random() * 40), () => ({ kind: Math.floor(random() * 6) }));
      const o = await runner.run({ flowId: 'f', step: 0, runId: 'r', batchId: `b${b}`, rows, meta: {} });
      expect(balanced(o), JSON.stringify(o.stats)).toBe(true);
      expect(o.dropped.reduce((n, d) => n + d.count, 0)).toBe(o.stats.dropped);
      // Every rejected record is one of the batch's rows, at most once.
      const ids = o.rejected.map((r) => r.row.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.every((id) => rows.some((r) => r.id === id))).toBe(true);
    }
  });
});
