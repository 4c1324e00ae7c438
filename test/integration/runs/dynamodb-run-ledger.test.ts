import {
  type DynamoDBClient,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { DynamoRunLedger } from '../../../kisflow/aws/dynamodb-run-ledger.ts';
import { ensureTable } from '../../../kisflow/aws/tables.ts';
import { runLedgerContract } from '../../unit/runs/run-ledger-contract.ts';
import { useEmulators } from '../aws/harness.ts';

const ctx = useEmulators();
let tables = 0;

runLedgerContract('DynamoDB on dynalite', async (clock) => {
  const tableName = `runs-${++tables}`;
  await ensureTable(ctx.clients.dynamodb, tableName, { ttlAttribute: 'ttl' });
  return new DynamoRunLedger({ dynamodb: ctx.clients.dynamodb, tableName, now: clock.now });
});

describe('DynamoRunLedger: a process killed between counting the last batch and finishing the run', () => {
  it('the redelivered batch finishes the run, counting nothing twice', async () => {
    await ensureTable(ctx.clients.dynamodb, 'runs-crash', { ttlAttribute: 'ttl' });
    let killAtRead = false;
    // The shard write reaches the server; the process dies before the completion check's read.
    const dying = {
      send: (command: unknown) => {
        if (killAtRead && command instanceof QueryCommand) {
          killAtRead = false;
          return Promise.reject(new Error('process killed'));
        }
        return ctx.clients.dynamodb.send(command as QueryCommand);
      },
    } as unknown as DynamoDBClient;
    const ledger = new DynamoRunLedger({ dynamodb: dying, tableName: 'runs-crash' });
    await ledger.start({ runId: 'r', flowId: 'Orders', trigger: 'manual', roots: 1 });
    const batch = { runId: 'r', batchId: 'only', step: 0, counters: { in: 7, out: 7 } };
    killAtRead = true;
    await expect(ledger.complete(batch)).rejects.toMatchObject({ code: 'RUN_LEDGER_FAILED' });
    expect((await ledger.get('r'))?.status).toBe('running');
    expect(await ledger.complete(batch)).toEqual({ finished: 'succeeded' });
    const got = await ledger.get('r');
    expect(got?.status).toBe('succeeded');
    expect(got?.steps[0]?.in).toBe(7);
  });

  it('with no redelivery, the sweep finishes the complete run instead of timing it out', async () => {
    let killAtRead = false;
    const dying = {
      send: (command: unknown) => {
        if (killAtRead && command instanceof QueryCommand) {
          killAtRead = false;
          return Promise.reject(new Error('process killed'));
        }
        return ctx.clients.dynamodb.send(command as QueryCommand);
      },
    } as unknown as DynamoDBClient;
    const ledger = new DynamoRunLedger({ dynamodb: dying, tableName: 'runs-crash' });
    await ledger.start({ runId: 's', flowId: 'Orders', trigger: 'manual', roots: 1, timeoutMs: 60_000 });
    killAtRead = true;
    await expect(
      ledger.complete({ runId: 's', batchId: 'only', step: 0, outcome: 'dead_lettered' }),
    ).rejects.toThrow();
    expect(await ledger.sweep()).toEqual([]);
    expect((await ledger.get('s'))?.status).toBe('failed');
  });
});

describe('DynamoRunLedger: bundles and tallies written in parallel by two processes', () => {
  it("the writer whose tally ends the run waits for the other's slow bundle, then finishes it once", async () => {
    await ensureTable(ctx.clients.dynamodb, 'runs-race', { ttlAttribute: 'ttl' });
    // Process A's bundle write takes 120 ms to land; its tally lands at once.
    const slowBundles = {
      send: async (command: unknown) => {
        if (command instanceof PutItemCommand && command.input.Item?.sk?.S?.startsWith('recs#')) {
          await new Promise((r) => setTimeout(r, 120));
        }
        return ctx.clients.dynamodb.send(command as PutItemCommand);
      },
    } as unknown as DynamoDBClient;
    const a = new DynamoRunLedger({ dynamodb: slowBundles, tableName: 'runs-race' });
    const b = new DynamoRunLedger({ dynamodb: ctx.clients.dynamodb, tableName: 'runs-race' });
    await b.start({ runId: 'race', flowId: 'Orders', trigger: 'manual', roots: 2 });
    const first = a.complete({ runId: 'race', batchId: 'r0', step: 0, counters: { in: 1, out: 1 } });
    await new Promise((r) => setTimeout(r, 30));
    // B's tally reaches 0 while A's bundle is still on its way: B's first look sees one batch.
    const last = await b.complete({ runId: 'race', batchId: 'r1', step: 0, counters: { in: 1, out: 1 } });
    expect(await first).toEqual({});
    expect(last).toEqual({ finished: 'succeeded' });
    expect((await b.get('race'))?.batches).toEqual({ roots: 2, spawned: 0, done: 2, deadLettered: 0 });
  });
});

describe('DynamoRunLedger: a fan-out carried in chains that end in different processes', () => {
  it('each process guesses the announcement new; the tally still counts it once and the run finishes once', async () => {
    await ensureTable(ctx.clients.dynamodb, 'runs-carry', { ttlAttribute: 'ttl' });
    const ledgers = [0, 1, 2].map(
      () => new DynamoRunLedger({ dynamodb: ctx.clients.dynamodb, tableName: 'runs-carry' }),
    );
    await ledgers[0]?.start({ runId: 'fan', flowId: 'Orders', trigger: 'manual', roots: 1 });
    const parent = { runId: 'fan', batchId: 'p', step: 0, counters: { in: 3, out: 3 }, children: 3 };
    const chain = (i: number) => [
      parent,
      { runId: 'fan', batchId: `k${i}`, step: 1, counters: { in: 1, out: 1 } },
    ];
    // Two chains end at once in two processes, each sure it announces the fan-out first.
    const firstTwo = await Promise.all([
      ledgers[0]?.completeMany(chain(0)),
      ledgers[1]?.completeMany(chain(1)),
    ]);
    expect(firstTwo).toEqual([{}, {}]);
    const run = await ledgers[2]?.get('fan');
    expect(run?.status).toBe('running');
    // Their tally, put right: −1 (roots) + 2 leaves − 2 (one announcement of 3 children) = −1.
    const item = await ctx.clients.dynamodb.send(
      new QueryCommand({
        TableName: 'runs-carry',
        KeyConditionExpression: 'pk = :pk AND sk = :sk',
        ExpressionAttributeValues: { ':pk': { S: 'run#fan' }, ':sk': { S: 'run' } },
      }),
    );
    expect(item.Items?.[0]?.t_net?.N).toBe('-1');
    expect(await ledgers[2]?.completeMany(chain(2))).toEqual({ finished: 'succeeded' });
    expect((await ledgers[0]?.get('fan'))?.batches).toEqual({
      roots: 1,
      spawned: 3,
      done: 4,
      deadLettered: 0,
    });
  });

  it('a process whose own announcement is still on its way when its next chain lands: put right both ways', async () => {
    await ensureTable(ctx.clients.dynamodb, 'runs-carry', { ttlAttribute: 'ttl' });
    let delayFirstTally = true;
    const slowFirstTally = {
      send: async (command: unknown) => {
        if (
          delayFirstTally &&
          command instanceof UpdateItemCommand &&
          command.input.UpdateExpression?.includes('t_net :net')
        ) {
          delayFirstTally = false;
          await new Promise((r) => setTimeout(r, 150));
        }
        return ctx.clients.dynamodb.send(command as UpdateItemCommand);
      },
    } as unknown as DynamoDBClient;
    const a = new DynamoRunLedger({ dynamodb: slowFirstTally, tableName: 'runs-carry' });
    const b = new DynamoRunLedger({ dynamodb: ctx.clients.dynamodb, tableName: 'runs-carry' });
    await b.start({ runId: 'fan2', flowId: 'Orders', trigger: 'manual', roots: 1 });
    const parent = { runId: 'fan2', batchId: 'p', step: 0, counters: { in: 3, out: 3 }, children: 3 };
    const chain = (i: number) => [
      parent,
      { runId: 'fan2', batchId: `k${i}`, step: 1, counters: { in: 1, out: 1 } },
    ];
    const slow = a.completeMany(chain(0));
    await new Promise((r) => setTimeout(r, 30));
    // A thinks it announced the fan-out already; its second chain's tally lands first.
    await a.completeMany(chain(1));
    await slow;
    const item = await ctx.clients.dynamodb.send(
      new QueryCommand({
        TableName: 'runs-carry',
        KeyConditionExpression: 'pk = :pk AND sk = :sk',
        ExpressionAttributeValues: { ':pk': { S: 'run#fan2' }, ':sk': { S: 'run' } },
      }),
    );
    expect(item.Items?.[0]?.t_net?.N).toBe('-1');
    expect(await b.completeMany(chain(2))).toEqual({ finished: 'succeeded' });
  });
});
