import { describe, expect, it } from 'vitest';
import { defineFunction } from '../../../kisflow/engine/function.ts';
import { StepRunner } from '../../../kisflow/engine/step-runner.ts';
import { InfrastructureError } from '../../../kisflow/errors.ts';
import { MemoryStateStore } from '../../../kisflow/memory/state-store.ts';
import type { Row, StateStore } from '../../../kisflow/ports.ts';
import { engine } from './project.ts';

/** A running total of `amount` per user, kept in keyed state. */
const runningTotal = defineFunction(async (rows: Row[], ctx) => {
  for (const r of rows) {
    const user = String(r.user);
    const total = ((await ctx.state.get<number>(user)) ?? 0) + Number(r.amount);
    ctx.state.set(user, total);
    ctx.commit({ ...r, total });
  }
});

function setup(state?: StateStore) {
  const e = engine(
    { funcs: [{ fid: 'total', usesState: true }], flows: [{ flowId: 'f', steps: ['total'] }] },
    { total: runningTotal },
    state === undefined ? {} : { state },
  );
  const runner = new StepRunner(e.plan('f'), 0, e.registry, e.deps);
  const batch = (batchId: string, rows: Row[]) => ({
    flowId: 'f',
    step: 0,
    runId: 'r',
    batchId,
    rows,
    meta: {},
  });
  return { e, runner, batch };
}

describe('keyed state', () => {
  it('keeps a running total per key across batches', async () => {
    const { runner, batch } = setup();
    const first = await runner.run(
      batch('b1', [
        { user: 'u1', amount: 10 },
        { user: 'u2', amount: 1 },
        { user: 'u1', amount: 5 },
      ]),
    );
    expect(first.emitted.map((r) => r.total)).toEqual([10, 1, 15]);
    const second = await runner.run(batch('b2', [{ user: 'u1', amount: 1 }]));
    expect(second.emitted.map((r) => r.total)).toEqual([16]);
  });

  it('is exactly-once per batch: the same batch run twice computes and stores the same', async () => {
    const { e, runner, batch } = setup();
    const rows = [
      { user: 'u1', amount: 10 },
      { user: 'u1', amount: 5 },
    ];
    const once = await runner.run(batch('b1', rows));
    const again = await runner.run(batch('b1', rows));
    expect(again.emitted).toEqual(once.emitted);
    expect((await e.deps.state.read('f/total', ['u1'], 'other')).get('u1')).toEqual({
      value: 15,
      version: 1,
    });
    // After a later batch, a redelivery of b1 still changes nothing.
    await runner.run(batch('b2', [{ user: 'u1', amount: 1 }]));
    await runner.run(batch('b1', rows));
    expect((await e.deps.state.read('f/total', ['u1'], 'other')).get('u1')).toEqual({
      value: 16,
      version: 2,
    });
  });

  it('scopes state by flow and fid', async () => {
    const { e, runner, batch } = setup();
    await runner.run(batch('b1', [{ user: 'u1', amount: 2 }]));
    expect((await e.deps.state.read('f/total', ['u1'], 'x')).get('u1')?.value).toBe(2);
    expect((await e.deps.state.read('g/total', ['u1'], 'x')).get('u1')?.value).toBeUndefined();
  });

  it('reads the keys of one tick in one store call and writes once per batch', async () => {
    const inner = new MemoryStateStore();
    const calls: string[] = [];
    const spy: StateStore = {
      read: (scope, keys, batchId) => {
        calls.push(`read ${keys.join(',')}`);
        return inner.read(scope, keys, batchId);
      },
      write: (scope, batchId, writes) => {
        calls.push(`write ${writes.map((w) => `${w.key}@${w.expectedVersion}`).join(',')}`);
        return inner.write(scope, batchId, writes);
      },
    };
    const e = engine(
      { funcs: [{ fid: 'a', usesState: true }], flows: [{ flowId: 'f', steps: ['a'] }] },
      {
        a: defineFunction(async (rows: Row[], ctx) => {
          const values = await Promise.all(rows.map((r) => ctx.state.get<number>(String(r.k))));
          rows.forEach((r, i) => {
            ctx.state.set(String(r.k), (values[i] ?? 0) + 1);
          });
          ctx.state.set('blind', 1);
          for (const r of rows) ctx.commit(r);
        }),
      },
      { state: spy },
    );
    await e.run('f', [{ k: 'x' }, { k: 'y' }, { k: 'x' }]);
    expect(calls).toEqual(['read x,y', 'read blind', 'write x@0,y@0,blind@0']);
  });

  it('drops the state writes of failed attempts', async () => {
    const e = engine(
      { funcs: [{ fid: 'a', usesState: true }], flows: [{ flowId: 'f', steps: ['a'] }] },
      {
        a: defineFunction(async (rows: Row[], ctx) => {
          for (const r of rows) {
            const user = String(r.user);
            ctx.state.set(user, ((await ctx.state.get<number>(user)) ?? 0) + Number(r.amount));
            if (r.amount === 666) throw new Error('cursed amount');
            ctx.commit(r);
          }
        }),
      },
    );
    const result = await e.run('f', [
      { user: 'u1', amount: 1 },
      { user: 'u1', amount: 666 },
      { user: 'u1', amount: 2 },
      { user: 'u1', amount: 4 },
    ]);
    expect(result.output).toHaveLength(3);
    expect(result.rejected).toEqual([
      expect.objectContaining({ code: 'FUNCTION_ERROR', reason: 'cursed amount' }),
    ]);
    expect((await e.deps.state.read('f/a', ['u1'], 'x')).get('u1')?.value).toBe(7);
  });

  it('propagates a version conflict (a concurrent writer) as InfrastructureError', async () => {
    const inner = new MemoryStateStore();
    const racing: StateStore = {
      read: inner.read.bind(inner),
      write: async (scope, batchId, writes) => {
        // Another container wins the race between our read and our write.
        await inner.write(scope, 'other-batch', [{ key: 'u1', value: 100, expectedVersion: 0 }]);
        return inner.write(scope, batchId, writes);
      },
    };
    const { runner, batch } = setup(racing);
    await expect(runner.run(batch('b1', [{ user: 'u1', amount: 1 }]))).rejects.toBeInstanceOf(
      InfrastructureError,
    );
  });

  it('refuses ctx.state to a function that does not declare option.state (STATE_NOT_DECLARED), as AWS grants it no table', async () => {
    const e = engine(
      { funcs: [{ fid: 'total' }], flows: [{ flowId: 'f', steps: ['total'] }] },
      { total: runningTotal },
    );
    const failed = await e.run('f', [{ user: 'u1', amount: 1 }]).catch((err: unknown) => err);
    expect(failed).toMatchObject({ code: 'STATE_NOT_DECLARED', retryable: false });
    expect((failed as Error).message).toMatch(/Function 'total' uses ctx.state .*option: \{ state: true \}/);
    expect((await e.deps.state.read('f/total', ['u1'], 'x')).get('u1')?.version).toBe(0);
  });
});
