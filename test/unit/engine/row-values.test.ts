import { describe, expect, it } from 'vitest';
import { defineFunction } from '../../../kisflow/engine/function.ts';
import { MAX_ROW_DEPTH, rowProblem } from '../../../kisflow/engine/row-values.ts';
import { StepRunner } from '../../../kisflow/engine/step-runner.ts';
import { MemoryConnectorStore } from '../../../kisflow/memory/connector-store.ts';
import type { ConnectorStore, Row, StoredItem } from '../../../kisflow/ports.ts';
import { engine, rowsOf } from './project.ts';

function nested(levels: number): Row {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = [value];
  return { id: 'deep', value };
}

describe('rowProblem', () => {
  it('accepts what JSON carries unchanged, with undefined fields as absent', () => {
    expect(rowProblem({ a: 1, b: 'x', c: [true, null, { d: -0.5 }], e: undefined })).toBeUndefined();
    expect(rowProblem(Object.assign(Object.create(null), { a: 1 }))).toBeUndefined();
    expect(rowProblem(nested(MAX_ROW_DEPTH - 1))).toBeUndefined();
  });

  it('names the path and the kind of every value JSON would drop, change or fail on', () => {
    const cycle: Row = { id: 1 };
    cycle.self = { back: cycle };
    const cases: [unknown, RegExp][] = [
      [{ n: 10n }, /^n is a BigInt \(10n/],
      [{ a: { b: [1, Number.NaN] } }, /^a\.b\[1\] is NaN/],
      [{ x: Number.POSITIVE_INFINITY }, /^x is Infinity/],
      [{ f: () => 1 }, /^f is a function/],
      [{ s: Symbol('k') }, /^s is a symbol/],
      [{ when: new Date(0) }, /^when is a Date/],
      [{ m: new Map() }, /^m is an instance of Map/],
      [{ list: [1, undefined] }, /^list\[1\] is undefined inside an array/],
      [{ 'odd key': 1n }, /^\["odd key"\] is a BigInt/],
      [cycle, /^self\.back refers back to a value that contains it/],
      [nested(10_000), /nests deeper than 32 levels/],
      [[1], /the row is an array/],
      [null, /the row is null/],
      [new Date(0), /the row is a Date/],
    ];
    for (const [row, expected] of cases) expect(rowProblem(row)).toMatch(expected);
  });
});

describe('a committed value JSON cannot carry', () => {
  it('rejects only the input row that led to it (BAD_ROW), when rows leave as JSON; the rest goes on', async () => {
    const bad: Record<number, unknown> = { 1: 5n, 2: Number.NaN, 3: new Date(0), 4: Symbol('s'), 5: () => 0 };
    const e = engine(
      { funcs: [{ fid: 'calc' }], flows: [{ flowId: 'f', steps: ['calc'] }] },
      {
        calc: defineFunction((rows: Row[], ctx) => {
          for (const r of rows) ctx.commit({ ...r, v: Number(r.id) in bad ? bad[Number(r.id)] : 1 });
        }),
      },
    );
    const runner = new StepRunner(e.plan('f'), 0, e.registry, e.deps);
    const o = await runner.run({ flowId: 'f', step: 0, runId: 'r', batchId: 'b', rows: rowsOf(8), meta: {} });
    expect(o.emitted.map((r) => r.id)).toEqual([0, 6, 7]);
    expect(o.rejected.map((r) => [r.row.id, r.code])).toEqual([
      [1, 'BAD_ROW'],
      [2, 'BAD_ROW'],
      [3, 'BAD_ROW'],
      [4, 'BAD_ROW'],
      [5, 'BAD_ROW'],
    ]);
    expect(o.rejected[0]?.reason).toMatch(
      /Function 'calc' committed a row JSON cannot carry unchanged: v is a BigInt/,
    );
    // Every rejected record can itself travel as JSON.
    expect(() => JSON.stringify(o.rejected)).not.toThrow();
  });

  it('rejects a 10,000-level nested row entering the flow alone, with a record that can be sent', async () => {
    const e = engine(
      { funcs: [{ fid: 'a' }], flows: [{ flowId: 'f', steps: ['a'] }] },
      {
        a: defineFunction((rows: Row[], ctx) => {
          for (const r of rows) ctx.commit(r);
        }),
      },
    );
    const runner = new StepRunner(e.plan('f'), 0, e.registry, e.deps);
    const rows = [{ id: 0 }, nested(10_000), { id: 2 }];
    const o = await runner.run({ flowId: 'f', step: 0, runId: 'r', batchId: 'b', rows, meta: {} });
    expect(o.emitted).toEqual([{ id: 0 }, { id: 2 }]);
    expect(o.rejected).toEqual([
      expect.objectContaining({
        code: 'INVALID_ROW',
        reason: expect.stringContaining('nests deeper than 32'),
      }),
    ]);
    expect(() => JSON.stringify(o.rejected)).not.toThrow();
  });

  it('rejects the row behind a keyed-state value the store cannot keep (BAD_STATE_VALUE)', async () => {
    const e = engine(
      { funcs: [{ fid: 'a', usesState: true }], flows: [{ flowId: 'f', steps: ['a'] }] },
      {
        a: defineFunction((rows: Row[], ctx) => {
          for (const r of rows) {
            ctx.state.set(`k${r.id}`, r.id === 1 ? 1n : Number(r.id));
            ctx.commit(r);
          }
        }),
      },
    );
    const result = await e.run('f', rowsOf(3));
    expect(result.output.map((r) => r.id)).toEqual([0, 2]);
    expect(result.rejected).toEqual([
      expect.objectContaining({ code: 'BAD_STATE_VALUE', reason: expect.stringContaining("state key 'k1'") }),
    ]);
  });
});

/** A real memory store with DynamoDB's item size rule, as the DynamoDB store reports it. */
class SizedStore extends MemoryConnectorStore implements ConnectorStore {
  problem(_cid: string, item: StoredItem): { code: string; reason: string } | undefined {
    const size = JSON.stringify(item.row).length;
    return size > 200 ? { code: 'ITEM_TOO_LARGE', reason: `the item is ${size} bytes, over 200` } : undefined;
  }
}

describe('a row the store can never hold, saved through ctx.connector.save', () => {
  it('is rejected alone with the reason from a Calculate step, as in Save mode', async () => {
    const store = new SizedStore();
    const e = engine(
      {
        funcs: [{ fid: 'calc', cid: 'c' }],
        conns: [{ cid: 'c', key: ['id'] }],
        flows: [{ flowId: 'f', steps: ['calc'] }],
      },
      {
        calc: defineFunction(async (rows: Row[], ctx) => {
          await ctx.connector.save(rows.map((r) => ({ ...r, pad: 'x'.repeat(r.id === 3 ? 500 : 10) })));
          for (const r of rows) ctx.commit(r);
        }),
      },
      { store },
    );
    const result = await e.run('f', rowsOf(6));
    expect(result.output.map((r) => r.id)).toEqual([0, 1, 2, 4, 5]);
    expect(result.rejected).toEqual([
      expect.objectContaining({
        code: 'ITEM_TOO_LARGE',
        reason: 'the item is 517 bytes, over 200',
        row: { id: 3 },
      }),
    ]);
    expect(store.items('c').map((i) => i.key)).toEqual(['0', '1', '2', '4', '5']);
  });
});
