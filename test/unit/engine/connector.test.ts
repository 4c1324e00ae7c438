import { describe, expect, it } from 'vitest';
import { defineConnector } from '../../../kisflow/engine/connector.ts';
import { defineFunction } from '../../../kisflow/engine/function.ts';
import { StepRunner } from '../../../kisflow/engine/step-runner.ts';
import { ConnectorError } from '../../../kisflow/errors.ts';
import type { Row } from '../../../kisflow/ports.ts';
import { engine } from './project.ts';

const pass = defineFunction((rows, ctx) => {
  for (const r of rows) ctx.commit(r);
});

/** A Load function: each row gets the rows stored under its key. */
const enrich = defineFunction(async (rows, ctx) => {
  const stored = await ctx.connector.load(rows);
  rows.forEach((r, i) => {
    ctx.commit({ ...r, history: (stored[i] ?? []).map((s) => s.amount) });
  });
});

describe('Save', () => {
  it('stores the committed rows under the key rule and passes them on', async () => {
    const e = engine(
      {
        funcs: [{ fid: 'save', fmode: 'Save', cid: 'orders' }, { fid: 'end' }],
        conns: [{ cid: 'orders', key: ['user', 'order'] }],
        flows: [{ flowId: 'f', steps: ['save', 'end'] }],
      },
      { save: pass, end: pass },
    );
    const rows = [
      { user: 'u1', order: 1, amount: 10 },
      { user: 'u1', order: 2, amount: 5 },
      { user: 'u2', order: 1, amount: 7 },
    ];
    const result = await e.run('f', rows);
    expect(result.output).toEqual(rows);
    expect(e.deps.store.items('orders')).toEqual([
      { key: 'u1#1', sort: '', row: rows[0] },
      { key: 'u1#2', sort: '', row: rows[1] },
      { key: 'u2#1', sort: '', row: rows[2] },
    ]);
  });

  it('rejects rows lacking a key field: not saved, not passed on', async () => {
    const e = engine(
      {
        funcs: [{ fid: 'save', fmode: 'Save', cid: 'orders' }],
        conns: [{ cid: 'orders', key: 'user#{user}' }],
        flows: [{ flowId: 'f', steps: ['save'] }],
      },
      { save: pass },
    );
    const result = await e.run('f', [{ user: 'u1' }, { other: 1 }]);
    expect(result.output).toEqual([{ user: 'u1' }]);
    expect(result.rejected).toEqual([
      expect.objectContaining({ code: 'MISSING_KEY_FIELD', row: { other: 1 } }),
    ]);
    expect(e.deps.store.items('orders').map((i) => i.key)).toEqual(['user#u1']);
  });

  it('saves the input on reuse', async () => {
    const e = engine(
      {
        funcs: [{ fid: 'save', fmode: 'Save', cid: 'c' }],
        conns: [{ cid: 'c', key: ['id'] }],
        flows: [{ flowId: 'f', steps: ['save'] }],
      },
      { save: defineFunction((_rows, ctx) => ctx.reuse()) },
    );
    await e.run('f', [{ id: 'a' }]);
    expect(e.deps.store.items('c')).toEqual([{ key: 'a', sort: '', row: { id: 'a' } }]);
  });

  it('is idempotent for a literal key: the same batch twice stores the same items', async () => {
    const e = engine(
      {
        funcs: [{ fid: 'save', fmode: 'Save', cid: 'all' }],
        conns: [{ cid: 'all', key: 'userid_orderid_option' }],
        flows: [{ flowId: 'f', steps: ['save'] }],
      },
      { save: pass },
    );
    const runner = new StepRunner(e.plan('f'), 0, e.registry, e.deps);
    const batch = { flowId: 'f', step: 0, runId: 'r', batchId: 'b7', rows: [{ a: 1 }, { a: 2 }], meta: {} };
    await runner.run(batch);
    await runner.run(batch);
    const items = e.deps.store.items('all');
    expect(items.map((i) => i.row)).toEqual(expect.arrayContaining([{ a: 1 }, { a: 2 }]));
    expect(items).toHaveLength(2);
    expect(items.every((i) => i.key === 'userid_orderid_option' && i.sort.startsWith('b7#'))).toBe(true);
    await runner.run({ ...batch, batchId: 'b8' });
    expect(e.deps.store.items('all')).toHaveLength(4);
  });

  it('a redelivery that saves a different subset of rows (one failed this time) adds no copies', async () => {
    let failA1 = false;
    const flaky = defineFunction((rows, ctx) => {
      for (const r of rows) {
        if (failA1 && r.id === 'a1') throw new Error('a1 failed this time');
        ctx.commit(r);
      }
    });
    const e = engine(
      {
        funcs: [{ fid: 'save', fmode: 'Save', cid: 'all' }],
        conns: [{ cid: 'all', key: 'everything' }],
        flows: [{ flowId: 'f', steps: ['save'] }],
      },
      { save: flaky },
    );
    const runner = new StepRunner(e.plan('f'), 0, e.registry, e.deps);
    const batch = {
      flowId: 'f',
      step: 0,
      runId: 'r',
      batchId: 'b9',
      rows: [{ id: 'a1' }, { id: 'a2' }, { id: 'a3' }, { id: 'a3' }],
      meta: {},
    };
    await runner.run(batch);
    failA1 = true;
    const again = await runner.run(batch);
    expect(again.rejected.map((r) => r.row)).toEqual([{ id: 'a1' }]);
    const stored = e.deps.store
      .items('all')
      .map((i) => String(i.row.id))
      .sort();
    // a1 from the first delivery; a2 once; a3 twice because the input had it twice.
    expect(stored).toEqual(['a1', 'a2', 'a3', 'a3']);
  });

  it('writes ctx.connector.save calls only when the function succeeded', async () => {
    const e = engine(
      {
        funcs: [{ fid: 'calc', cid: 'c' }],
        conns: [{ cid: 'c', key: ['id'] }],
        flows: [{ flowId: 'f', steps: ['calc'] }],
      },
      {
        calc: defineFunction(async (rows, ctx) => {
          await ctx.connector.save(rows.map((r) => ({ ...r, saved: true })));
          if (rows.some((r) => r.id === 'bad')) throw new Error('boom');
          for (const r of rows) ctx.commit(r);
        }),
      },
    );
    const result = await e.run('f', [{ id: 'a' }, { id: 'bad' }, { id: 'c' }]);
    expect(result.output).toEqual([{ id: 'a' }, { id: 'c' }]);
    expect(e.deps.store.items('c').map((i) => i.row)).toEqual([
      { id: 'a', saved: true },
      { id: 'c', saved: true },
    ]);
  });
});

describe('Load', () => {
  it('brings what a Save step stored earlier in the same flow', async () => {
    const e = engine(
      {
        funcs: [
          { fid: 'save', fmode: 'Save', cid: 'orders' },
          { fid: 'load', fmode: 'Load', cid: 'history' },
        ],
        conns: [
          { cid: 'orders', key: ['user', 'order'] },
          { cid: 'history', key: ['user', 'order'] },
        ],
        flows: [{ flowId: 'f', steps: ['save', 'load'] }],
      },
      { save: pass, load: enrich },
    );
    // Two connectors, two tables: the Load reads its own, empty here.
    const result = await e.run('f', [{ user: 'u1', order: 1, amount: 3 }]);
    expect(result.output).toEqual([{ user: 'u1', order: 1, amount: 3, history: [] }]);
  });

  it('sees, in a later step, what a Save step of the same flow stored for this batch', async () => {
    const e = engine(
      {
        funcs: [
          { fid: 'save', fmode: 'Save', cid: 'orders' },
          { fid: 'load', fmode: 'Load', cid: 'orders' },
        ],
        conns: [{ cid: 'orders', key: ['user'] }],
        flows: [{ flowId: 'f', steps: ['save', 'load'] }],
      },
      { save: pass, load: enrich },
    );
    await e.run('f', [{ user: 'u1', amount: 3 }]);
    const result = await e.run('f', [
      { user: 'u1', amount: 4 },
      { user: 'u2', amount: 5 },
    ]);
    // One row per key (`fields` rule): the latest save wins.
    expect(result.output).toEqual([
      { user: 'u1', amount: 4, history: [4] },
      { user: 'u2', amount: 5, history: [5] },
    ]);
  });

  it('merges flows: a Save in one flow, a Load of the same connector in another', async () => {
    const e = engine(
      {
        funcs: [
          { fid: 'verify', fmode: 'Verify', must: ['user'] },
          { fid: 'saveOrders', fmode: 'Save', cid: 'orders' },
          { fid: 'loadOrders', fmode: 'Load', cid: 'orders' },
          { fid: 'sum' },
        ],
        conns: [{ cid: 'orders', key: 'userid_orderid_option' }],
        flows: [
          { flowId: 'flow1', steps: ['verify', 'saveOrders'] },
          { flowId: 'flow2', steps: ['verify', 'loadOrders', 'sum'] },
        ],
      },
      {
        verify: pass,
        saveOrders: pass,
        loadOrders: enrich,
        sum: defineFunction((rows: Row[], ctx) => {
          for (const r of rows)
            ctx.commit({ user: r.user, total: (r.history as number[]).reduce((a, b) => a + b, 0) });
        }),
      },
    );
    await e.run('flow1', [
      { user: 'u1', amount: 10 },
      { user: 'u2', amount: 5 },
    ]);
    await e.run('flow1', [{ user: 'u1', amount: 1 }]);
    const result = await e.run('flow2', [{ user: 'anyone' }]);
    expect(result.output).toEqual([{ user: 'anyone', total: 16 }]);
  });

  it('loads by key: each row gets the rows stored under its own key', async () => {
    const e = engine(
      {
        funcs: [
          { fid: 'save', fmode: 'Save', cid: 'users' },
          { fid: 'load', fmode: 'Load', cid: 'users' },
        ],
        conns: [{ cid: 'users', key: ['user'] }],
        flows: [
          { flowId: 'in', steps: ['save'] },
          { flowId: 'out', steps: ['load'] },
        ],
      },
      { save: pass, load: enrich },
    );
    await e.run('in', [
      { user: 'u1', amount: 1 },
      { user: 'u2', amount: 2 },
      { user: 'u1', amount: 3 },
    ]);
    const result = await e.run('out', [{ user: 'u1' }, { user: 'u3' }, { user: 'u2' }, { user: 'u1' }]);
    expect(result.output.map((r) => r.history)).toEqual([[3], [], [2], [3]]);
  });
});

describe('connector types', () => {
  it('runs Save and Load through a registered implementation, one driver per connector', async () => {
    let drivers = 0;
    const saved: Array<{ rows: readonly Row[]; batchId: string }> = [];
    const memory = defineConnector('memkv', (conn) => {
      drivers++;
      const data: Row[] = [];
      return {
        async save(rows, info) {
          saved.push({ rows, batchId: info.batchId });
          data.push(...rows.map((r) => ({ ...r, prefix: conn.params.prefix })));
        },
        async load(rows) {
          return rows.map(() => data.map((d) => ({ ...d })));
        },
      };
    });
    const e = engine(
      {
        funcs: [
          { fid: 'save', fmode: 'Save', cid: 'kv' },
          { fid: 'load', fmode: 'Load', cid: 'kv' },
        ],
        conns: [{ cid: 'kv', type: 'memkv', key: 'kv', params: { prefix: 'p' } }],
        flows: [{ flowId: 'f', steps: ['save', 'load'] }],
      },
      {
        save: pass,
        load: defineFunction(async (rows, ctx) => {
          expect(ctx.connector).toMatchObject({ cid: 'kv', type: 'memkv', params: { prefix: 'p' } });
          const found = await ctx.connector.load(rows);
          for (const [i, r] of rows.entries()) ctx.commit({ ...r, found: found[i]?.length });
        }),
      },
    );
    e.registry.addConnector(memory);
    const result = await e.run('f', [{ a: 1 }, { a: 2 }], { runId: 'r' });
    expect(result.output).toEqual([
      { a: 1, found: 2 },
      { a: 2, found: 2 },
    ]);
    expect(saved).toEqual([{ rows: [{ a: 1 }, { a: 2 }], batchId: 'r#0' }]);
    expect(drivers).toBe(1);
  });

  it('fails clearly for a type with no implementation, naming the type and the connector', async () => {
    const e = engine(
      {
        funcs: [{ fid: 'save', fmode: 'Save', cid: '测试KisConnector_1' }],
        conns: [{ cid: '测试KisConnector_1', type: 'redis', key: 'userid_orderid_option' }],
        flows: [{ flowId: 'f', steps: ['save'] }],
      },
      { save: pass },
    );
    const failure = e.run('f', [{ a: 1 }]);
    await expect(failure).rejects.toBeInstanceOf(ConnectorError);
    await expect(e.run('f', [{ a: 1 }])).rejects.toMatchObject({
      code: 'CONNECTOR_TYPE_NOT_IMPLEMENTED',
      context: { type: 'redis', cid: '测试KisConnector_1' },
      message: expect.stringMatching(/type 'redis'.*defineConnector\('redis'/s),
    });
  });

  it('turns a driver failure into a ConnectorError that fails the whole batch', async () => {
    const e = engine(
      {
        funcs: [{ fid: 'load', fmode: 'Load', cid: 'kv' }],
        conns: [{ cid: 'kv', type: 'flaky', key: 'kv' }],
        flows: [{ flowId: 'f', steps: ['load'] }],
      },
      { load: enrich },
    );
    e.registry.addConnector(
      defineConnector('flaky', () => ({
        save: async () => {},
        load: async () => {
          throw new Error('connection refused');
        },
      })),
    );
    await expect(e.run('f', [{ a: 1 }])).rejects.toMatchObject({
      code: 'CONNECTOR_FAILED',
      message: expect.stringContaining('connection refused'),
    });
  });
});
