import { describe, expect, it } from 'vitest';
import { InfrastructureError } from '../../../kisflow/errors.ts';
import { MemoryStateStore } from '../../../kisflow/memory/state-store.ts';

describe('MemoryStateStore', () => {
  it('reads version 0 and no value for a key never written', async () => {
    const state = new MemoryStateStore();
    expect((await state.read('s', ['k'], 'b1')).get('k')).toEqual({ value: undefined, version: 0 });
  });

  it('writes on the expected version and bumps it', async () => {
    const state = new MemoryStateStore();
    await state.write('s', 'b1', [{ key: 'k', value: { n: 1 }, expectedVersion: 0 }]);
    await state.write('s', 'b2', [{ key: 'k', value: { n: 2 }, expectedVersion: 1 }]);
    expect((await state.read('s', ['k'], 'b3')).get('k')).toEqual({ value: { n: 2 }, version: 2 });
  });

  it('reads with an applied batch id give the value from before that batch', async () => {
    const state = new MemoryStateStore();
    await state.write('s', 'b1', [{ key: 'k', value: 10, expectedVersion: 0 }]);
    await state.write('s', 'b2', [{ key: 'k', value: 15, expectedVersion: 1 }]);
    expect((await state.read('s', ['k'], 'b1')).get('k')).toEqual({ value: undefined, version: 0 });
    expect((await state.read('s', ['k'], 'b2')).get('k')).toEqual({ value: 10, version: 1 });
  });

  it('ignores a re-write of an applied batch', async () => {
    const state = new MemoryStateStore();
    await state.write('s', 'b1', [{ key: 'k', value: 10, expectedVersion: 0 }]);
    await state.write('s', 'b2', [{ key: 'k', value: 15, expectedVersion: 1 }]);
    await state.write('s', 'b1', [{ key: 'k', value: 10, expectedVersion: 0 }]);
    expect((await state.read('s', ['k'], 'x')).get('k')).toEqual({ value: 15, version: 2 });
  });

  it('throws InfrastructureError on a stale version and applies none of the writes', async () => {
    const state = new MemoryStateStore();
    await state.write('s', 'b1', [{ key: 'a', value: 1, expectedVersion: 0 }]);
    const stale = state.write('s', 'b2', [
      { key: 'b', value: 1, expectedVersion: 0 },
      { key: 'a', value: 2, expectedVersion: 0 },
    ]);
    await expect(stale).rejects.toBeInstanceOf(InfrastructureError);
    await expect(state.write('s', 'b2', [{ key: 'a', value: 2, expectedVersion: 0 }])).rejects.toMatchObject({
      code: 'STATE_VERSION_CONFLICT',
      context: { key: 'a', version: 1, expectedVersion: 0 },
    });
    const read = await state.read('s', ['a', 'b'], 'x');
    expect(read.get('a')).toEqual({ value: 1, version: 1 });
    expect(read.get('b')).toEqual({ value: undefined, version: 0 });
  });

  it('keeps scopes apart and shares no objects', async () => {
    const state = new MemoryStateStore();
    const value = { list: [1] };
    await state.write('s1', 'b', [{ key: 'k', value, expectedVersion: 0 }]);
    value.list.push(2);
    const got = (await state.read('s1', ['k'], 'x')).get('k')?.value as { list: number[] };
    expect(got).toEqual({ list: [1] });
    got.list.push(3);
    expect((await state.read('s1', ['k'], 'x')).get('k')?.value).toEqual({ list: [1] });
    expect((await state.read('s2', ['k'], 'x')).get('k')?.version).toBe(0);
  });

  it('survives a JSON round trip through snapshot/restore, applied batches included', async () => {
    const state = new MemoryStateStore();
    await state.write('s', 'b1', [{ key: 'k', value: 10, expectedVersion: 0 }]);
    const restored = MemoryStateStore.restore(JSON.parse(JSON.stringify(state.snapshot())));
    expect((await restored.read('s', ['k'], 'b1')).get('k')).toEqual({ value: undefined, version: 0 });
    expect((await restored.read('s', ['k'], 'b2')).get('k')).toEqual({ value: 10, version: 1 });
    await restored.write('s', 'b1', [{ key: 'k', value: 10, expectedVersion: 0 }]);
    expect((await restored.read('s', ['k'], 'b2')).get('k')?.version).toBe(1);
    expect(() => MemoryStateStore.restore([])).toThrow(/snapshot/);
  });
});
