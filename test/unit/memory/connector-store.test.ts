import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../kisflow/errors.ts';
import { MemoryConnectorStore } from '../../../kisflow/memory/connector-store.ts';

describe('MemoryConnectorStore', () => {
  it('returns every row of a key in sort-key order, [] for missing keys', async () => {
    const store = new MemoryConnectorStore();
    await store.put('c', [
      { key: 'k', sort: 'b#1', row: { n: 2 } },
      { key: 'k', sort: 'a#0', row: { n: 1 } },
      { key: 'other', sort: '', row: { n: 3 } },
    ]);
    const got = await store.get('c', ['k', 'missing']);
    expect(got.get('k')).toEqual([{ n: 1 }, { n: 2 }]);
    expect(got.get('missing')).toEqual([]);
    expect((await store.get('unknown-connector', ['k'])).get('k')).toEqual([]);
  });

  it('overwrites the item with the same key and sort (a redelivered write changes nothing)', async () => {
    const store = new MemoryConnectorStore();
    const items = [{ key: 'k', sort: '', row: { v: 1 } }];
    await store.put('c', items);
    await store.put('c', items);
    await store.put('c', [{ key: 'k', sort: '', row: { v: 2 } }]);
    expect(store.items('c')).toEqual([{ key: 'k', sort: '', row: { v: 2 } }]);
  });

  it('shares no objects with callers', async () => {
    const store = new MemoryConnectorStore();
    const row = { nested: { v: 1 } };
    await store.put('c', [{ key: 'k', sort: '', row }]);
    row.nested.v = 99;
    const first = (await store.get('c', ['k'])).get('k')?.[0] as { nested: { v: number } };
    expect(first.nested.v).toBe(1);
    first.nested.v = 42;
    expect((await store.get('c', ['k'])).get('k')?.[0]).toEqual({ nested: { v: 1 } });
  });

  it('survives a JSON round trip through snapshot/restore', async () => {
    const store = new MemoryConnectorStore();
    await store.put('订单', [
      { key: 'u1', sort: 'b#0', row: { a: 1 } },
      { key: 'u1', sort: 'b#1', row: { a: 2 } },
    ]);
    await store.put('other', [{ key: 'x', sort: '', row: { b: true } }]);
    const restored = MemoryConnectorStore.restore(JSON.parse(JSON.stringify(store.snapshot())));
    expect(restored.snapshot()).toEqual(store.snapshot());
    expect((await restored.get('订单', ['u1'])).get('u1')).toEqual([{ a: 1 }, { a: 2 }]);
  });

  it('refuses something that is not a snapshot', () => {
    expect(() => MemoryConnectorStore.restore({ hello: 1 })).toThrow(UsageError);
    expect(() => MemoryConnectorStore.restore({ hello: 1 })).toThrow(/snapshot/);
  });
});
