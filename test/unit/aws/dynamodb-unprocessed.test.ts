import type { DynamoDBClient, WriteRequest } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoConnectorStore } from '../../../kisflow/aws/dynamodb-connector-store.ts';
import { DynamoStateStore } from '../../../kisflow/aws/dynamodb-state-store.ts';
import { InfrastructureError } from '../../../kisflow/errors.ts';

/**
 * UnprocessedItems / UnprocessedKeys come from throttling, which dynalite never does: these paths
 * are tested with a stand-in client that leaves some items unprocessed.
 */
function fakeDynamo(unprocessedOnCall: (call: number, count: number) => number) {
  const calls: { name: string; count: number }[] = [];
  const client = {
    async send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
      const name = command.constructor.name;
      if (name === 'BatchWriteItemCommand') {
        const items = command.input.RequestItems as Record<string, WriteRequest[]>;
        const [table, requests] = Object.entries(items)[0] as [string, WriteRequest[]];
        calls.push({ name, count: requests.length });
        const left = requests.slice(requests.length - unprocessedOnCall(calls.length, requests.length));
        return { UnprocessedItems: left.length ? { [table]: left } : {} };
      }
      if (name === 'BatchGetItemCommand') {
        const items = command.input.RequestItems as Record<string, { Keys: Record<string, { S: string }>[] }>;
        const [table, { Keys }] = Object.entries(items)[0] as [
          string,
          { Keys: Record<string, { S: string }>[] },
        ];
        calls.push({ name, count: Keys.length });
        const n = unprocessedOnCall(calls.length, Keys.length);
        const done = Keys.slice(0, Keys.length - n);
        return {
          Responses: {
            [table]: done.map((k) => ({
              ...k,
              value: { S: '1' },
              version: { N: '1' },
              lastBatch: { S: 'x' },
            })),
          },
          UnprocessedKeys: n ? { [table]: { Keys: Keys.slice(Keys.length - n) } } : {},
        };
      }
      throw new Error(`unexpected ${name}`);
    },
  };
  return { client: client as unknown as DynamoDBClient, calls };
}

const noWait = { sleep: async () => {}, random: () => 0 };

describe('DynamoConnectorStore: UnprocessedItems', () => {
  it('retries unprocessed items until all are written', async () => {
    const { client, calls } = fakeDynamo((call) => (call === 1 ? 10 : call === 2 ? 3 : 0));
    const store = new DynamoConnectorStore({
      dynamodb: client,
      tableName: () => 't',
      retry: noWait,
      concurrency: 1,
    });
    await store.put(
      'c',
      Array.from({ length: 25 }, (_, i) => ({ key: `k${i}`, sort: '', row: { i } })),
    );
    expect(calls.map((c) => c.count)).toEqual([25, 10, 3]);
  });

  it('gives up with InfrastructureError DYNAMODB_UNPROCESSED after the attempts', async () => {
    const { client, calls } = fakeDynamo(() => 1);
    const store = new DynamoConnectorStore({
      dynamodb: client,
      tableName: () => 't',
      retry: { ...noWait, attempts: 4 },
    });
    const error = await store.put('c', [{ key: 'k', sort: '', row: {} }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InfrastructureError);
    expect((error as InfrastructureError).code).toBe('DYNAMODB_UNPROCESSED');
    expect(calls).toHaveLength(4);
  });
});

describe('DynamoStateStore: UnprocessedKeys', () => {
  it('retries unprocessed keys of BatchGetItem', async () => {
    const { client, calls } = fakeDynamo((call) => (call === 1 ? 40 : 0));
    const state = new DynamoStateStore({ dynamodb: client, tableName: 't', retry: noWait });
    const keys = Array.from({ length: 100 }, (_, i) => `k${i}`);
    const read = await state.read('s', keys, 'b');
    expect(calls.map((c) => c.count)).toEqual([100, 40]);
    expect([...read.values()].every((e) => e.value === 1 && e.version === 1)).toBe(true);
  });
});
