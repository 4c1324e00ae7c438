import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoConnectorStore } from '../../../kisflow/aws/dynamodb-connector-store.ts';
import { ensureTable } from '../../../kisflow/aws/tables.ts';
import { defineFunction } from '../../../kisflow/engine/function.ts';
import { StepRunner } from '../../../kisflow/engine/step-runner.ts';
import { MemoryStateStore } from '../../../kisflow/memory/state-store.ts';
import type { Row } from '../../../kisflow/ports.ts';
import { engine, rowsOf } from '../../unit/engine/project.ts';
import { useEmulators } from '../aws/harness.ts';

const ctx = useEmulators();
const tableName = (cid: string) => `test-oversize-${cid}`;

beforeAll(async () => {
  await ensureTable(ctx.clients.dynamodb, tableName('c'));
});

describe('a row DynamoDB can never hold, saved through ctx.connector.save (dynalite)', () => {
  it('rejects the row behind it alone with ITEM_TOO_LARGE from a Calculate step; the others are stored and go on', async () => {
    const store = new DynamoConnectorStore({ dynamodb: ctx.clients.dynamodb, tableName });
    const e = engine(
      {
        funcs: [{ fid: 'enrich', cid: 'c' }],
        conns: [{ cid: 'c', key: ['id'] }],
        flows: [{ flowId: 'f', steps: ['enrich'] }],
      },
      {
        enrich: defineFunction(async (rows: Row[], c) => {
          // Row 3's item is over DynamoDB's 400 KB item limit.
          await c.connector.save(rows.map((r) => ({ ...r, blob: 'x'.repeat(r.id === 3 ? 500_000 : 100) })));
          for (const r of rows) c.commit(r);
        }),
      },
      { store, state: new MemoryStateStore() },
    );
    const runner = new StepRunner(e.plan('f'), 0, e.registry, e.deps);
    const outcome = await runner.run({
      flowId: 'f',
      step: 0,
      runId: 'r',
      batchId: 'b',
      rows: rowsOf(6),
      meta: {},
    });
    expect(outcome.emitted.map((r) => r.id)).toEqual([0, 1, 2, 4, 5]);
    expect(outcome.rejected).toEqual([
      expect.objectContaining({
        code: 'ITEM_TOO_LARGE',
        row: { id: 3 },
        reason: expect.stringMatching(/409600-byte item limit/),
      }),
    ]);
    const stored = await store.get('c', ['0', '3', '5']);
    expect(stored.get('0')).toHaveLength(1);
    expect(stored.get('3')).toEqual([]);
    expect(stored.get('5')).toHaveLength(1);
  });
});
