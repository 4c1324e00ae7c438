import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoConnectorStore } from '../../../kisflow/aws/dynamodb-connector-store.ts';
import { ensureTable } from '../../../kisflow/aws/tables.ts';
import { ConnectorError } from '../../../kisflow/errors.ts';
import type { StoredItem } from '../../../kisflow/ports.ts';
import { useEmulators } from './harness.ts';

const ctx = useEmulators();
const tableName = (cid: string) => `test-conn-${cid}`;
let store: DynamoConnectorStore;

beforeAll(async () => {
  for (const cid of ['orders', 'pages', 'ttl', 'dup'])
    await ensureTable(ctx.clients.dynamodb, tableName(cid));
  store = new DynamoConnectorStore({
    dynamodb: ctx.clients.dynamodb,
    tableName,
    ttlSeconds: (cid) => (cid === 'ttl' ? 3_600 : undefined),
    now: () => 1_700_000_000_000,
  });
});

describe('DynamoConnectorStore on dynalite', () => {
  it('writes more than 25 items (several BatchWriteItem chunks) and reads each key in sort order', async () => {
    const items: StoredItem[] = Array.from({ length: 130 }, (_, i) => ({
      key: `user-${i % 4}`,
      sort: `b1#${String(i).padStart(3, '0')}`,
      row: {
        i,
        user: `user-${i % 4}`,
        nested: { list: [1, 'two', null, { three: 3 }], unicode: '订单 😀' },
        n: 1.5e-7,
      },
    }));
    await store.put('orders', items);
    const got = await store.get('orders', ['user-0', 'user-3', 'nobody']);
    expect(got.get('user-0')).toEqual(items.filter((it) => it.key === 'user-0').map((it) => it.row));
    expect(got.get('user-3')).toHaveLength(32);
    expect(got.get('nobody')).toEqual([]);
  });

  it('keeps the last of duplicate key/sort pairs within one request', async () => {
    await store.put('dup', [
      { key: 'k', sort: '', row: { v: 1 } },
      { key: 'other', sort: '', row: { v: 'x' } },
      { key: 'k', sort: '', row: { v: 2 } },
    ]);
    expect((await store.get('dup', ['k'])).get('k')).toEqual([{ v: 2 }]);
  });

  it('is idempotent: putting a redelivered batch again leaves the same result', async () => {
    const items: StoredItem[] = Array.from({ length: 40 }, (_, i) => ({
      key: 'same',
      sort: `b9#${i}`,
      row: { i },
    }));
    await store.put('orders', items);
    const once = (await store.get('orders', ['same'])).get('same');
    await store.put('orders', items);
    expect((await store.get('orders', ['same'])).get('same')).toEqual(once);
    expect(once).toHaveLength(40);
  });

  it('gets many keys at once (limited parallelism), duplicates requested once', async () => {
    const items = Array.from({ length: 300 }, (_, i) => ({ key: `k${i}`, sort: '', row: { i } }));
    await store.put('orders', items);
    const keys = [...items.map((it) => it.key), 'k0', 'k1'];
    const got = await store.get('orders', keys);
    expect(got.size).toBe(300);
    expect(got.get('k299')).toEqual([{ i: 299 }]);
  });

  it('paginates a key whose rows exceed one Query page (1 MB)', async () => {
    const blob = 'p'.repeat(40_000);
    const items = Array.from({ length: 60 }, (_, i) => ({
      key: 'big',
      sort: String(i).padStart(2, '0'),
      row: { i, blob },
    }));
    await store.put('pages', items);
    const rows = (await store.get('pages', ['big'])).get('big') ?? [];
    expect(rows).toHaveLength(60);
    expect(rows.map((r) => r.i)).toEqual(items.map((it) => it.row.i));
  });

  it('writes a ttl attribute (epoch seconds) for connectors that expire', async () => {
    await store.put('ttl', [{ key: 'k', sort: '', row: { a: 1 } }]);
    const { Item } = await ctx.clients.dynamodb.send(
      new GetItemCommand({ TableName: tableName('ttl'), Key: { pk: { S: '#k' }, sk: { S: '#' } } }),
    );
    expect(Item?.ttl).toEqual({ N: String(1_700_000_000 + 3_600) });
  });

  it('refuses an item over DynamoDB’s 400 KB with ConnectorError ITEM_TOO_LARGE', async () => {
    const error = await store
      .put('orders', [{ key: 'k', sort: '', row: { blob: 'x'.repeat(420_000) } }])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectorError);
    expect((error as ConnectorError).code).toBe('ITEM_TOO_LARGE');
  });
});

describe('a Save step on DynamoDB with a row DynamoDB cannot hold', () => {
  it('rejects that row alone (ITEM_TOO_LARGE) and stores and passes on the others', async () => {
    const { buildProject } = await import('../../../kisflow/config/index.ts');
    const { FlowPlan, Registry, StepRunner, defineFunction } = await import(
      '../../../kisflow/engine/index.ts'
    );
    const { MemoryStateStore } = await import('../../../kisflow/memory/index.ts');
    await ensureTable(ctx.clients.dynamodb, tableName('big'));
    const project = buildProject({
      funcs: [{ fid: 'save', fmode: 'Save', option: { cid: 'big' } }],
      conns: [{ cid: 'big', key: ['id'] }],
      flows: [{ flow_id: 'f', flows: [{ fid: 'save' }] }],
    });
    const registry = new Registry().addFunction(
      'save',
      defineFunction((_rows, c) => c.reuse()),
    );
    const runner = new StepRunner(FlowPlan.build(project, 'f'), 0, registry, {
      store,
      state: new MemoryStateStore(),
    });
    const rows = [{ id: 'small-1' }, { id: 'huge', blob: 'x'.repeat(420_000) }, { id: 'small-2' }];
    const outcome = await runner.run({ flowId: 'f', step: 0, runId: 'r', batchId: 'b1', rows, meta: {} });
    expect(outcome.emitted.map((r) => r.id)).toEqual(['small-1', 'small-2']);
    expect(outcome.rejected).toHaveLength(1);
    expect(outcome.rejected[0]).toMatchObject({ code: 'ITEM_TOO_LARGE', row: { id: 'huge' } });
    expect(outcome.rejected[0]?.reason).toMatch(/400\d*-byte item limit|item limit/);
    const stored = await store.get('big', ['small-1', 'small-2', 'huge']);
    expect([
      stored.get('small-1')?.length,
      stored.get('small-2')?.length,
      stored.get('huge')?.length,
    ]).toEqual([1, 1, 0]);
  });
});
