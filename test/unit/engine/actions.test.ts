import { describe, expect, it } from 'vitest';
import { defineFunction } from '../../../kisflow/engine/function.ts';
import { StepRunner } from '../../../kisflow/engine/step-runner.ts';
import type { Row } from '../../../kisflow/ports.ts';
import { engine, rowsOf } from './project.ts';

const pass = defineFunction((rows, ctx) => {
  for (const r of rows) ctx.commit(r);
});

function tracer(log: string[], name: string) {
  return defineFunction((rows, ctx) => {
    log.push(`${name}:${rows.length}`);
    for (const r of rows) ctx.commit(r);
  });
}

describe('commit', () => {
  it('emits what was committed, also through a detached ctx.commit', async () => {
    const e = engine(
      { funcs: [{ fid: 'a' }], flows: [{ flowId: 'f', steps: ['a'] }] },
      {
        a: defineFunction((rows, ctx) => {
          rows.map((r) => ({ ...r, seen: true })).forEach(ctx.commit);
        }),
      },
    );
    expect((await e.run('f', rowsOf(2))).output).toEqual([
      { id: 0, seen: true },
      { id: 1, seen: true },
    ]);
  });

  it('a step that emits nothing ends the flow', async () => {
    const log: string[] = [];
    const e = engine(
      { funcs: [{ fid: 'drop' }, { fid: 'after' }], flows: [{ flowId: 'f', steps: ['drop', 'after'] }] },
      { drop: defineFunction(() => {}), after: tracer(log, 'after') },
    );
    const result = await e.run('f', rowsOf(3));
    expect(result.output).toEqual([]);
    expect(log).toEqual([]);
  });
});

describe('reject', () => {
  it('routes a row out with the reason and code REJECTED_BY_FUNCTION', async () => {
    const e = engine(
      { funcs: [{ fid: 'a' }, { fid: 'b' }], flows: [{ flowId: 'f', steps: ['a', 'b'] }] },
      {
        a: pass,
        b: defineFunction((rows, ctx) => {
          for (const r of rows) {
            if (Number(r.id) % 2) ctx.reject(r, 'odd ids are not allowed');
            else ctx.commit(r);
          }
        }),
      },
    );
    const result = await e.run('f', rowsOf(4));
    expect(result.output).toEqual([{ id: 0 }, { id: 2 }]);
    expect(result.rejected).toEqual([
      {
        flowId: 'f',
        step: 1,
        fid: 'b',
        code: 'REJECTED_BY_FUNCTION',
        reason: 'odd ids are not allowed',
        row: { id: 1 },
      },
      {
        flowId: 'f',
        step: 1,
        fid: 'b',
        code: 'REJECTED_BY_FUNCTION',
        reason: 'odd ids are not allowed',
        row: { id: 3 },
      },
    ]);
    expect(result.stats).toMatchObject({ rowsIn: 4, rowsOut: 2, rejected: 2 });
  });
});

describe('abort', () => {
  it('stops the flow after this step; its commits are the output', async () => {
    const log: string[] = [];
    const e = engine(
      { funcs: [{ fid: 'a' }, { fid: 'b' }], flows: [{ flowId: 'f', steps: ['a', 'b'] }] },
      {
        a: defineFunction((rows, ctx) => {
          for (const r of rows) ctx.commit(r);
          ctx.abort();
        }),
        b: tracer(log, 'b'),
      },
    );
    const runner = new StepRunner(e.plan('f'), 0, e.registry, e.deps);
    const outcome = await runner.run({
      flowId: 'f',
      step: 0,
      runId: 'r',
      batchId: 'b',
      rows: rowsOf(2),
      meta: {},
    });
    expect(outcome).toMatchObject({ next: null, aborted: true, emitted: [{ id: 0 }, { id: 1 }] });
    expect((await e.run('f', rowsOf(2))).output).toEqual([{ id: 0 }, { id: 1 }]);
    expect(log).toEqual([]);
  });

  it('wins over jumpTo and forceNext', async () => {
    const e = engine(
      { funcs: [{ fid: 'a' }, { fid: 'b' }], flows: [{ flowId: 'f', steps: ['a', 'b'] }] },
      {
        a: defineFunction((_rows, ctx) => {
          ctx.forceNext();
          ctx.jumpTo('b');
          ctx.abort();
        }),
        b: pass,
      },
    );
    const runner = new StepRunner(e.plan('f'), 0, e.registry, e.deps);
    const outcome = await runner.run({
      flowId: 'f',
      step: 0,
      runId: 'r',
      batchId: 'b',
      rows: rowsOf(1),
      meta: {},
    });
    expect(outcome.next).toBeNull();
  });
});

describe('reuse', () => {
  it('passes the input on unchanged and drops the commits', async () => {
    const e = engine(
      { funcs: [{ fid: 'a' }, { fid: 'b' }], flows: [{ flowId: 'f', steps: ['a', 'b'] }] },
      {
        a: defineFunction((rows, ctx) => {
          ctx.commit({ dropped: true });
          for (const r of rows) ctx.commit({ ...r, changed: true });
          ctx.reuse();
        }),
        b: pass,
      },
    );
    expect((await e.run('f', rowsOf(3))).output).toEqual(rowsOf(3));
  });
});

describe('forceNext', () => {
  it('runs the next step with no rows', async () => {
    const log: string[] = [];
    const e = engine(
      {
        funcs: [{ fid: 'drop' }, { fid: 'load' }, { fid: 'end' }],
        flows: [{ flowId: 'f', steps: ['drop', 'load', 'end'] }],
      },
      {
        drop: defineFunction((_rows, ctx) => ctx.forceNext()),
        load: defineFunction((rows, ctx) => {
          log.push(`load:${rows.length}`);
          ctx.commit({ loaded: true });
        }),
        end: tracer(log, 'end'),
      },
    );
    const result = await e.run('f', rowsOf(2));
    expect(log).toEqual(['load:0', 'end:1']);
    expect(result.output).toEqual([{ loaded: true }]);
  });
});

describe('jumpTo', () => {
  it('continues at the target with the rows this step committed', async () => {
    const log: string[] = [];
    const e = engine(
      {
        funcs: [{ fid: 'a' }, { fid: 'skipped' }, { fid: 'c' }],
        flows: [{ flowId: 'f', steps: ['a', 'skipped', 'c'] }],
      },
      {
        a: defineFunction((rows, ctx) => {
          for (const r of rows) ctx.commit({ ...r, from: 'a' });
          ctx.jumpTo('c');
        }),
        skipped: tracer(log, 'skipped'),
        c: tracer(log, 'c'),
      },
    );
    const result = await e.run('f', rowsOf(2));
    expect(log).toEqual(['c:2']);
    expect(result.output).toEqual([
      { id: 0, from: 'a' },
      { id: 1, from: 'a' },
    ]);
  });

  it('sends the input on when the step committed nothing', async () => {
    const e = engine(
      { funcs: [{ fid: 'a' }, { fid: 'b' }, { fid: 'c' }], flows: [{ flowId: 'f', steps: ['a', 'b', 'c'] }] },
      {
        a: defineFunction((_rows, ctx) => ctx.jumpTo('c')),
        b: defineFunction(() => {
          throw new Error('must be skipped');
        }),
        c: pass,
      },
    );
    expect((await e.run('f', rowsOf(2))).output).toEqual(rowsOf(2));
  });

  it('rejects the rows with UNKNOWN_JUMP_TARGET for an fid not in the flow', async () => {
    const e = engine(
      { funcs: [{ fid: 'a' }, { fid: 'total' }], flows: [{ flowId: 'f', steps: ['a', 'total'] }] },
      {
        a: defineFunction((rows, ctx) => {
          for (const r of rows) ctx.commit(r);
          ctx.jumpTo('totl');
        }),
        total: pass,
      },
    );
    const result = await e.run('f', rowsOf(2));
    expect(result.output).toEqual([]);
    expect(result.rejected).toHaveLength(2);
    expect(result.rejected[0]).toMatchObject({
      code: 'UNKNOWN_JUMP_TARGET',
      fid: 'a',
      step: 0,
      row: { id: 0 },
    });
    expect(result.rejected[0]?.reason).toMatch(/'totl'.*did you mean "total"/);
  });

  it('loops back while the function says so (the user guards the loop)', async () => {
    const e = engine(
      {
        funcs: [{ fid: 'inc' }, { fid: 'check' }, { fid: 'done' }],
        flows: [{ flowId: 'f', steps: ['inc', 'check', 'done'] }],
      },
      {
        inc: defineFunction((rows, ctx) => {
          for (const r of rows) ctx.commit({ ...r, n: Number(r.n ?? 0) + 1 });
        }),
        check: defineFunction((rows: Row[], ctx) => {
          const more = rows.filter((r) => Number(r.n) < 3);
          for (const r of rows) ctx.commit(r);
          if (more.length > 0) ctx.jumpTo('inc');
        }),
        done: pass,
      },
    );
    const result = await e.run('f', [{ id: 1 }]);
    expect(result.output).toEqual([{ id: 1, n: 3 }]);
    expect(result.stats.steps.map((s) => s.in)).toEqual([3, 3, 1]);
  });

  it('stops a loop that never ends: its rows are rejected with HOP_LIMIT after max_hops step runs', async () => {
    const e = engine(
      { funcs: [{ fid: 'a' }], flows: [{ flowId: 'f', steps: ['a'] }] },
      { a: defineFunction((_rows, ctx) => ctx.jumpTo('a')) },
    );
    const result = await e.run('f', rowsOf(2), { maxHops: 50 });
    expect(result.output).toEqual([]);
    expect(result.rejected.map((r) => [r.code, r.fid, r.row])).toEqual([
      ['HOP_LIMIT', 'a', rowsOf(2)[0]],
      ['HOP_LIMIT', 'a', rowsOf(2)[1]],
    ]);
    expect(result.rejected[0]?.reason).toMatch(/run through 50 steps.*tuning\.max_hops: 50/);
    expect(result.stats.steps[0]?.in).toBe(100);
  });

  it('stops an empty loop (forceNext with no rows) with a permanent HOP_LIMIT error', async () => {
    const e = engine(
      { funcs: [{ fid: 'a' }, { fid: 'b' }], flows: [{ flowId: 'f', steps: ['a', 'b'] }] },
      {
        a: defineFunction((_rows, ctx) => ctx.forceNext()),
        b: defineFunction((_rows, ctx) => {
          ctx.forceNext();
          ctx.jumpTo('b');
        }),
      },
    );
    await expect(e.run('f', rowsOf(1), { maxHops: 5 })).rejects.toMatchObject({
      code: 'HOP_LIMIT',
      retryable: false,
    });
  });
});
