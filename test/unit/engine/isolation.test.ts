import { describe, expect, it } from 'vitest';
import { defineFunction } from '../../../kisflow/engine/function.ts';
import { StepRunner } from '../../../kisflow/engine/step-runner.ts';
import { InfrastructureError, StepError, UsageError } from '../../../kisflow/errors.ts';
import type { ConnectorStore, Row } from '../../../kisflow/ports.ts';
import { engine, rowsOf } from './project.ts';

describe('a function that throws', () => {
  it('isolates 1 bad row in 100: the others are emitted, the bad one rejected with the reason after its retries', async () => {
    const calls: number[] = [];
    let badTries = 0;
    let failed = 0;
    const e = engine(
      {
        funcs: [{ fid: 'calc', retryTimes: 2 }, { fid: 'end' }],
        flows: [{ flowId: 'f', steps: ['calc', 'end'] }],
      },
      {
        calc: defineFunction((rows: Row[], ctx) => {
          calls.push(rows.length);
          for (const r of rows) {
            if (r.id === 42) {
              if (rows.length === 1) badTries++;
              failed++;
              throw new TypeError('cannot read price of row 42');
            }
            ctx.commit({ ...r, ok: true });
          }
        }),
        end: defineFunction((rows, ctx) => {
          for (const r of rows) ctx.commit(r);
        }),
      },
    );
    const result = await e.run('f', rowsOf(100));
    expect(result.output).toHaveLength(99);
    expect(result.output.map((r) => r.id)).toEqual(
      rowsOf(100)
        .map((r) => r.id)
        .filter((id) => id !== 42),
    );
    expect(result.output.every((r) => r.ok === true)).toBe(true);
    expect(result.rejected).toEqual([
      {
        flowId: 'f',
        step: 0,
        fid: 'calc',
        code: 'FUNCTION_ERROR',
        reason: 'cannot read price of row 42',
        row: { id: 42 },
      },
    ]);
    // Alone, the bad row ran once plus retry_times (2) retries.
    expect(badTries).toBe(3);
    expect(e.deps.metrics.counter('retries', { step: '0.calc' })).toBe(2);
    expect(e.deps.metrics.counter('errors', { step: '0.calc' })).toBe(failed);
    // Bisection, not row-by-row: far fewer calls than rows.
    expect(calls.length).toBeLessThan(25);
    expect(calls[0]).toBe(100);
  });

  it('keeps every input row accounted for (emitted or rejected) with many bad rows', async () => {
    const bad = new Set([0, 7, 8, 9, 31, 63, 64, 99]);
    const e = engine(
      { funcs: [{ fid: 'calc', retryTimes: 1 }], flows: [{ flowId: 'f', steps: ['calc'] }] },
      {
        calc: defineFunction((rows: Row[], ctx) => {
          for (const r of rows) {
            if (bad.has(Number(r.id))) throw new Error(`bad ${r.id}`);
            ctx.commit(r);
          }
        }),
      },
    );
    const result = await e.run('f', rowsOf(100), { batchRows: 33 });
    const emitted = result.output.map((r) => Number(r.id));
    const rejected = result.rejected.map((r) => Number(r.row.id));
    expect(new Set(emitted).size).toBe(emitted.length);
    expect([...emitted, ...rejected].sort((a, b) => a - b)).toEqual(rowsOf(100).map((r) => r.id));
    expect(rejected.sort((a, b) => a - b)).toEqual([...bad].sort((a, b) => a - b));
    expect(result.rejected.every((r) => r.code === 'FUNCTION_ERROR' && r.reason === `bad ${r.row.id}`)).toBe(
      true,
    );
  });

  it('keeps no commits, actions or metadata of failed attempts', async () => {
    const e = engine(
      { funcs: [{ fid: 'a' }, { fid: 'b' }], flows: [{ flowId: 'f', steps: ['a', 'b'] }] },
      {
        a: defineFunction((rows: Row[], ctx) => {
          ctx.meta.tainted = rows.some((r) => r.id === 1);
          for (const r of rows) {
            ctx.commit(r);
            if (r.id === 1) {
              ctx.abort();
              throw new Error('nope');
            }
          }
        }),
        b: defineFunction((rows, ctx) => {
          for (const r of rows) ctx.commit({ ...r, tainted: ctx.meta.tainted });
        }),
      },
    );
    const result = await e.run('f', rowsOf(4));
    expect(result.output).toEqual([
      { id: 0, tainted: false },
      { id: 2, tainted: false },
      { id: 3, tainted: false },
    ]);
  });

  it('retries a row that fails intermittently and keeps it when a retry succeeds', async () => {
    let failures = 0;
    const e = engine(
      { funcs: [{ fid: 'a', retryTimes: 3 }], flows: [{ flowId: 'f', steps: ['a'] }] },
      {
        a: defineFunction((rows: Row[], ctx) => {
          for (const r of rows) {
            if (r.id === 2 && failures < 2) {
              failures++;
              throw new Error('flaky');
            }
            ctx.commit(r);
          }
        }),
      },
    );
    const result = await e.run('f', rowsOf(4));
    expect(result.output.map((r) => r.id)).toEqual([0, 1, 2, 3]);
    expect(result.rejected).toEqual([]);
  });

  it('with retry_times 0 rejects a failing row after one try alone', async () => {
    let alone = 0;
    const e = engine(
      { funcs: [{ fid: 'a' }], flows: [{ flowId: 'f', steps: ['a'] }] },
      {
        a: defineFunction((rows: Row[]) => {
          if (rows.length === 1) alone++;
          throw new Error('always');
        }),
      },
    );
    const result = await e.run('f', rowsOf(1));
    expect(alone).toBe(1);
    expect(result.rejected).toEqual([expect.objectContaining({ code: 'FUNCTION_ERROR', reason: 'always' })]);
  });

  it('isolates rows even when the function removed some of its input array and then threw', async () => {
    const e = engine(
      { funcs: [{ fid: 'a' }], flows: [{ flowId: 'f', steps: ['a'] }] },
      {
        a: defineFunction((rows: Row[], ctx) => {
          const all = rows.splice(0, rows.length);
          for (const r of all) {
            if (r.id === 2) throw new Error('after splice');
            ctx.commit(r);
          }
        }),
      },
    );
    const result = await e.run('f', rowsOf(4));
    expect(result.output.map((r) => r.id)).toEqual([0, 1, 3]);
    expect(result.rejected).toEqual([expect.objectContaining({ code: 'FUNCTION_ERROR', row: { id: 2 } })]);
  });

  it('still isolates rows when the function sorted its input before failing', async () => {
    const e = engine(
      { funcs: [{ fid: 'a' }], flows: [{ flowId: 'f', steps: ['a'] }] },
      {
        a: defineFunction((rows: Row[], ctx) => {
          rows.sort((x, y) => Number(y.id) - Number(x.id));
          for (const r of rows) {
            if (r.id === 3) throw new Error('three');
            ctx.commit(r);
          }
        }),
      },
    );
    const result = await e.run('f', rowsOf(6));
    expect(result.output.map((r) => r.id).sort()).toEqual([0, 1, 2, 4, 5]);
    expect(result.rejected).toEqual([expect.objectContaining({ reason: 'three', row: { id: 3 } })]);
  });

  it('fails the batch when the function throws on an empty (forced) batch', async () => {
    const e = engine(
      { funcs: [{ fid: 'a' }, { fid: 'b' }], flows: [{ flowId: 'f', steps: ['a', 'b'] }] },
      {
        a: defineFunction((_rows, ctx) => ctx.forceNext()),
        b: defineFunction(() => {
          throw new Error('no rows to work on');
        }),
      },
    );
    await expect(e.run('f', rowsOf(1))).rejects.toSatisfy(
      (err) =>
        err instanceof StepError && err.code === 'FUNCTION_ERROR' && /no rows to work on/.test(err.message),
    );
  });
});

describe('infrastructure errors', () => {
  it('are not isolated: an InfrastructureError thrown inside the function fails the whole batch', async () => {
    let calls = 0;
    const e = engine(
      { funcs: [{ fid: 'a', retryTimes: 3 }], flows: [{ flowId: 'f', steps: ['a'] }] },
      {
        a: defineFunction(() => {
          calls++;
          throw new InfrastructureError('THROTTLED', 'slow down');
        }),
      },
    );
    const runner = new StepRunner(e.plan('f'), 0, e.registry, e.deps);
    await expect(
      runner.run({ flowId: 'f', step: 0, runId: 'r', batchId: 'b', rows: rowsOf(10), meta: {} }),
    ).rejects.toMatchObject({ code: 'THROTTLED' });
    expect(calls).toBe(1);
  });

  it('a failing store fails the whole batch with InfrastructureError, and nothing is half-done in the engine', async () => {
    const broken: ConnectorStore = {
      put: async () => {
        throw new Error('ProvisionedThroughputExceededException');
      },
      get: async () => new Map(),
    };
    const e = engine(
      {
        funcs: [{ fid: 'save', fmode: 'Save', cid: 'c' }],
        conns: [{ cid: 'c', key: ['id'] }],
        flows: [{ flowId: 'f', steps: ['save'] }],
      },
      {
        save: defineFunction((rows, ctx) => {
          for (const r of rows) ctx.commit(r);
        }),
      },
      { store: broken },
    );
    const failure = e.run('f', rowsOf(3));
    await expect(failure).rejects.toBeInstanceOf(InfrastructureError);
    await expect(e.run('f', rowsOf(3))).rejects.toMatchObject({
      code: 'STORE_FAILED',
      message: expect.stringContaining('ProvisionedThroughputExceededException'),
    });
  });

  it('a store failing during a Load inside the function is not blamed on rows', async () => {
    const e = engine(
      {
        funcs: [{ fid: 'load', fmode: 'Load', cid: 'c' }],
        conns: [{ cid: 'c', key: ['id'] }],
        flows: [{ flowId: 'f', steps: ['load'] }],
      },
      {
        load: defineFunction(async (rows, ctx) => {
          await ctx.connector.load(rows);
        }),
      },
      {
        store: {
          put: async () => {},
          get: async () => {
            throw new Error('socket hang up');
          },
        },
      },
    );
    await expect(e.run('f', rowsOf(4))).rejects.toBeInstanceOf(InfrastructureError);
  });

  it('decides retry by what the error declares: a not-retryable error rejects at once with its code, a retryable StepError is retried', async () => {
    const tries = { config: 0, step: 0 };
    const e = engine(
      { funcs: [{ fid: 'a', retryTimes: 3 }], flows: [{ flowId: 'f', steps: ['a'] }] },
      {
        a: defineFunction((rows: Row[], ctx) => {
          for (const r of rows) {
            if (r.id === 1 && rows.length === 1) tries.config++;
            if (r.id === 1) throw new UsageError('NOT_ALLOWED', 'not allowed here');
            // Row 2 fails in every larger attempt, and alone twice before it succeeds.
            if (r.id === 2 && (rows.length > 1 || ++tries.step < 3))
              throw new StepError('SLOW_PEER', 'try again', {}, { retryable: true });
            ctx.commit(r);
          }
        }),
      },
    );
    const result = await e.run('f', rowsOf(4));
    expect(result.output.map((r) => r.id)).toEqual([0, 2, 3]);
    expect(result.rejected.map((r) => [r.row.id, r.code])).toEqual([[1, 'NOT_ALLOWED']]);
    expect(tries).toEqual({ config: 1, step: 3 });
  });
});
