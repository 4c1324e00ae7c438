import { type DynamoDBClient, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
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
