import { describe, expect, it } from 'vitest';
import { defineFunction, type FlowInfo } from '../../../kisflow/engine/function.ts';
import { StepRunner } from '../../../kisflow/engine/step-runner.ts';
import { ConnectorError } from '../../../kisflow/errors.ts';
import type { Log } from '../../../kisflow/ports.ts';
import { engine, rowsOf } from './project.ts';

const pass = defineFunction((rows, ctx) => {
  for (const r of rows) ctx.commit(r);
});

describe('params', () => {
  it('gives each step its params over default_params, also for the same fid twice', async () => {
    const seen: unknown[] = [];
    const e = engine(
      {
        funcs: [{ fid: 'print', defaultParams: { args1: 'd1', default2: 'd2', n: 1 } }],
        flows: [
          {
            flowId: 'f',
            steps: [
              { fid: 'print', params: { args1: 'value1' } },
              'print',
              { fid: 'print', params: { default2: 'newDefault', n: 3 } },
            ],
          },
        ],
      },
      {
        print: defineFunction((rows, ctx) => {
          seen.push(ctx.params);
          for (const r of rows) ctx.commit(r);
        }),
      },
    );
    await e.run('f', rowsOf(1));
    expect(seen).toEqual([
      { args1: 'value1', default2: 'd2', n: 1 },
      { args1: 'd1', default2: 'd2', n: 1 },
      { args1: 'd1', default2: 'newDefault', n: 3 },
    ]);
  });
});

describe('flow info and metadata', () => {
  it('tells the function where it runs', async () => {
    const infos: FlowInfo[] = [];
    const e = engine(
      { funcs: [{ fid: 'a' }, { fid: 'b' }], flows: [{ flowId: 'f', steps: ['a', 'b'] }] },
      {
        a: pass,
        b: defineFunction((rows, ctx) => {
          infos.push(ctx.flow);
          for (const r of rows) ctx.commit(r);
        }),
      },
    );
    await e.run('f', rowsOf(3), { runId: 'run-1', batchRows: 2 });
    expect(infos).toEqual([
      { id: 'f', name: 'f', runId: 'run-1', batchId: 'run-1#0.1', step: 1, fid: 'b' },
      { id: 'f', name: 'f', runId: 'run-1', batchId: 'run-1#1.1', step: 1, fid: 'b' },
    ]);
  });

  it('carries metadata changes to later steps without touching the caller’s object', async () => {
    const seen: unknown[] = [];
    const e = engine(
      { funcs: [{ fid: 'a' }, { fid: 'b' }, { fid: 'c' }], flows: [{ flowId: 'f', steps: ['a', 'b', 'c'] }] },
      {
        a: defineFunction((rows, ctx) => {
          ctx.meta.tenant = 'acme';
          delete ctx.meta.drop;
          for (const r of rows) ctx.commit(r);
        }),
        b: defineFunction((rows, ctx) => {
          ctx.meta.count = rows.length;
          for (const r of rows) ctx.commit(r);
        }),
        c: defineFunction((rows, ctx) => {
          seen.push({ ...ctx.meta });
          for (const r of rows) ctx.commit(r);
        }),
      },
    );
    const meta = { source: 'test', drop: 1 };
    await e.run('f', rowsOf(2), { meta });
    expect(seen).toEqual([{ source: 'test', tenant: 'acme', count: 2 }]);
    expect(meta).toEqual({ source: 'test', drop: 1 });
  });

  it('returns the batch metadata in the step outcome', async () => {
    const e = engine(
      { funcs: [{ fid: 'a' }], flows: [{ flowId: 'f', steps: ['a'] }] },
      {
        a: defineFunction((rows, ctx) => {
          ctx.meta.seen = rows.length;
          for (const r of rows) ctx.commit(r);
        }),
      },
    );
    const runner = new StepRunner(e.plan('f'), 0, e.registry, e.deps);
    const batch = {
      flowId: 'f',
      step: 0,
      runId: 'r',
      batchId: 'b',
      rows: rowsOf(2),
      meta: Object.freeze({ x: 1 }),
    };
    expect((await runner.run(batch)).meta).toEqual({ x: 1, seen: 2 });
  });
});

describe('cache', () => {
  it('lives as long as the step runner and expires entries by the clock', async () => {
    const computed: number[] = [];
    const e = engine(
      { funcs: [{ fid: 'a' }], flows: [{ flowId: 'f', steps: ['a'] }] },
      {
        a: defineFunction((rows, ctx) => {
          let rate = ctx.cache.get<number>('rate');
          if (rate === undefined) {
            rate = computed.length + 1;
            computed.push(rate);
            ctx.cache.set('rate', rate, 60_000);
            ctx.cache.set('forever', true);
          }
          for (const r of rows) ctx.commit({ ...r, rate, forever: ctx.cache.get('forever') });
        }),
      },
    );
    const runner = new StepRunner(e.plan('f'), 0, e.registry, e.deps);
    const run = async () =>
      (await runner.run({ flowId: 'f', step: 0, runId: 'r', batchId: 'b', rows: rowsOf(1), meta: {} }))
        .emitted[0];
    expect(await run()).toEqual({ id: 0, rate: 1, forever: true });
    e.deps.clock.advance(59_999);
    expect(await run()).toEqual({ id: 0, rate: 1, forever: true });
    e.deps.clock.advance(1);
    expect(await run()).toEqual({ id: 0, rate: 2, forever: true });
    expect(computed).toEqual([1, 2]);
    // Another runner (another Lambda container) has its own cache.
    const other = new StepRunner(e.plan('f'), 0, e.registry, e.deps);
    await other.run({ flowId: 'f', step: 0, runId: 'r', batchId: 'b', rows: rowsOf(1), meta: {} });
    expect(computed).toEqual([1, 2, 3]);
  });
});

describe('log and metrics', () => {
  it('counts rows per step and forwards function metrics and logs with their step', async () => {
    const lines: Array<[string, Record<string, unknown> | undefined]> = [];
    const log: Log = {
      debug: () => {},
      info: (m, d) => lines.push([m, d]),
      warn: (m, d) => lines.push([m, d]),
      error: (m, d) => lines.push([m, d]),
    };
    const e = engine(
      { funcs: [{ fid: 'a' }, { fid: 'b' }], flows: [{ flowId: 'f', steps: ['a', 'b'] }] },
      {
        a: defineFunction((rows, ctx) => {
          ctx.metrics.count('big_orders', 2);
          ctx.metrics.count('seen');
          ctx.log.info('hello', { n: rows.length });
          for (const r of rows) if (r.id !== 0) ctx.commit(r);
        }),
        b: pass,
      },
      { log },
    );
    await e.run('f', rowsOf(3), { runId: 'r' });
    const m = e.deps.metrics;
    expect(m.counter('rows_in', { flow: 'f', step: '0.a' })).toBe(3);
    expect(m.counter('rows_out', { flow: 'f', step: '0.a' })).toBe(2);
    expect(m.counter('rows_in', { step: '1.b' })).toBe(2);
    expect(m.counter('rows_rejected', { step: '0.a' })).toBe(0);
    expect(m.counter('big_orders', { flow: 'f', step: '0.a' })).toBe(2);
    expect(m.counter('seen')).toBe(1);
    expect(m.durations('duration', { step: '0.a' }).count).toBe(1);
    expect(lines).toEqual([['hello', { flow: 'f', step: 0, fid: 'a', runId: 'r', batchId: 'r#0', n: 3 }]]);
  });
});

describe('connector access', () => {
  it('throws NO_CONNECTOR when the function has no cid', async () => {
    const e = engine(
      { funcs: [{ fid: 'a', fmode: 'Load' }], flows: [{ flowId: 'f', steps: ['a'] }] },
      {
        a: defineFunction(async (rows, ctx) => {
          await ctx.connector.load(rows);
        }),
      },
    );
    const failure = e.run('f', rowsOf(2));
    await expect(failure).rejects.toBeInstanceOf(ConnectorError);
    await expect(e.run('f', rowsOf(2))).rejects.toMatchObject({
      code: 'NO_CONNECTOR',
      message: expect.stringContaining('option.cid'),
    });
  });
});
