import { beforeAll, describe, expect, it } from 'vitest';
import { DynamoStateStore } from '../../../kisflow/aws/dynamodb-state-store.ts';
import { ensureTable, TTL_ATTRIBUTE } from '../../../kisflow/aws/tables.ts';
import { InfrastructureError } from '../../../kisflow/errors.ts';
import type { StateStore } from '../../../kisflow/ports.ts';
import { useEmulators } from './harness.ts';

const ctx = useEmulators();
const tableName = 'test-state';
let state: DynamoStateStore;

beforeAll(async () => {
  await ensureTable(ctx.clients.dynamodb, tableName, { ttlAttribute: TTL_ATTRIBUTE });
  state = new DynamoStateStore({
    dynamodb: ctx.clients.dynamodb,
    tableName,
    appliedBatchesKept: 4,
    ttlSeconds: 60,
  });
});

/** What a stateful step does per batch: read, add the batch's amounts, write with the versions read. */
async function applyBatch(
  store: StateStore,
  scope: string,
  batchId: string,
  amounts: Record<string, number>,
) {
  const keys = Object.keys(amounts);
  const read = await store.read(scope, keys, batchId);
  const results: Record<string, number> = {};
  const writes = keys.map((key) => {
    const entry = read.get(key) ?? { value: undefined, version: 0 };
    const value = ((entry.value as number | undefined) ?? 0) + (amounts[key] ?? 0);
    results[key] = value;
    return { key, value, expectedVersion: entry.version };
  });
  await store.write(scope, batchId, writes);
  return results;
}

async function current(scope: string, keys: string[]) {
  const got = await state.read(scope, keys, 'a-batch-never-applied');
  return Object.fromEntries(keys.map((k) => [k, got.get(k)]));
}

describe('DynamoStateStore on dynalite: exactly once per batch', () => {
  it('starts keys at version 0 and round-trips JSON values', async () => {
    const read = await state.read('s0', ['a'], 'b1');
    expect(read.get('a')).toEqual({ value: undefined, version: 0 });
    const value = { total: 3.5, items: ['x', null, { deep: '订单' }] };
    await state.write('s0', 'b1', [{ key: 'a', value, expectedVersion: 0 }]);
    expect((await current('s0', ['a'])).a).toEqual({ value, version: 1 });
  });

  it('applies a redelivered batch once and recomputes the same result', async () => {
    const first = await applyBatch(state, 's1', 'b1', { u1: 5, u2: 7 });
    const redelivered = await applyBatch(state, 's1', 'b1', { u1: 5, u2: 7 });
    expect(redelivered).toEqual(first);
    expect(await current('s1', ['u1', 'u2'])).toEqual({
      u1: { value: 5, version: 1 },
      u2: { value: 7, version: 1 },
    });
    await applyBatch(state, 's1', 'b2', { u1: 1 });
    const again = await applyBatch(state, 's1', 'b2', { u1: 1 });
    expect(again).toEqual({ u1: 6 });
    expect((await current('s1', ['u1'])).u1).toEqual({ value: 6, version: 2 });
  });

  it('treats an older batch re-applied after newer ones as a no-op', async () => {
    await applyBatch(state, 's2', 'b1', { k: 10 });
    await applyBatch(state, 's2', 'b2', { k: 1 });
    await applyBatch(state, 's2', 'b3', { k: 1 });
    await applyBatch(state, 's2', 'b1', { k: 10 });
    expect((await current('s2', ['k'])).k).toEqual({ value: 12, version: 3 });
  });

  it('remembers only the last N batches per key (the bounded ring)', async () => {
    for (let i = 1; i <= 6; i++) await applyBatch(state, 's3', `b${i}`, { k: 1 });
    // b6..b3 are remembered (N = 4): no-ops.
    for (const b of ['b3', 'b4', 'b5', 'b6']) await applyBatch(state, 's3', b, { k: 1 });
    expect((await current('s3', ['k'])).k).toEqual({ value: 6, version: 6 });
  });

  it('throws STATE_CONFLICT for a stale version from a concurrent writer, then succeeds on retry', async () => {
    await applyBatch(state, 's4', 'b0', { k: 1 });
    const readA = await state.read('s4', ['k'], 'bA');
    const readB = await state.read('s4', ['k'], 'bB');
    await state.write('s4', 'bA', [{ key: 'k', value: 2, expectedVersion: readA.get('k')?.version ?? 0 }]);
    const error = await state
      .write('s4', 'bB', [{ key: 'k', value: 11, expectedVersion: readB.get('k')?.version ?? 0 }])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InfrastructureError);
    expect((error as InfrastructureError).code).toBe('STATE_CONFLICT');
    expect((error as Error).message).toContain('expected version 1, found 2');
    // The message is retried: fresh reads, applied once.
    await applyBatch(state, 's4', 'bB', { k: 10 });
    expect((await current('s4', ['k'])).k).toEqual({ value: 12, version: 3 });
  });

  it('races duplicate deliveries of one batch: one applies, the other is a no-op', async () => {
    await Promise.all([applyBatch(state, 's5', 'dup', { k: 3 }), applyBatch(state, 's5', 'dup', { k: 3 })]);
    expect((await current('s5', ['k'])).k).toEqual({ value: 3, version: 1 });
  });

  it('keeps keys independent: after a partial conflict the retry applies the rest once', async () => {
    await applyBatch(state, 's6', 'b0', { a: 1, b: 1 });
    const readX = await state.read('s6', ['a', 'b'], 'bX');
    await applyBatch(state, 's6', 'other', { b: 100 });
    const error = await state
      .write('s6', 'bX', [
        { key: 'a', value: 2, expectedVersion: readX.get('a')?.version ?? 0 },
        { key: 'b', value: 2, expectedVersion: readX.get('b')?.version ?? 0 },
      ])
      .catch((e: unknown) => e);
    expect((error as InfrastructureError).code).toBe('STATE_CONFLICT');
    await applyBatch(state, 's6', 'bX', { a: 1, b: 1 });
    expect(await current('s6', ['a', 'b'])).toEqual({
      a: { value: 2, version: 2 },
      b: { value: 102, version: 3 },
    });
  });

  it('reads more than 100 keys (several BatchGetItem requests)', async () => {
    const amounts = Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`k${i}`, i]));
    await applyBatch(state, 's7', 'b1', amounts);
    const read = await state.read('s7', Object.keys(amounts), 'b2');
    expect(read.size).toBe(250);
    expect(read.get('k249')).toEqual({ value: 249, version: 1 });
  });

  it('separates scopes that share a key', async () => {
    await applyBatch(state, 'flow/a#b', 'b1', { 'c#d': 1 });
    await applyBatch(state, 'flow/a', 'b1', { 'b#c#d': 2 });
    expect((await current('flow/a#b', ['c#d']))['c#d']).toEqual({ value: 1, version: 1 });
  });
});
