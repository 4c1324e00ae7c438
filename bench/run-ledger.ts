/**
 * Run accounting on DynamoDB (dynalite in-process, or AWS_ENDPOINT_URL): the requests and the
 * time that counting a run's batches exactly costs, against the least any per-batch accounting
 * needs (one unconditional ADD per batch, which double-counts redeliveries and cannot tell when
 * a run ends). A run of one root batch fanning out to 2,000 children, completed 16 at a time.
 * Standalone: `node bin/run-ts.js bench/run-ledger.ts`.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type DynamoDBClient, QueryCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { createAwsClients, destroyAwsClients } from '../kisflow/aws/clients.ts';
import { DynamoRunLedger, RUN_TABLE } from '../kisflow/aws/dynamodb-run-ledger.ts';
import { mapLimit } from '../kisflow/aws/parallel.ts';
import { ensureTable } from '../kisflow/aws/tables.ts';
import { startEmulators } from '../localstack/emulators.ts';

const CHILDREN = 2_000;
const CONCURRENCY = 16;

/** The client, counting the requests sent through it by command name. */
function counting(client: DynamoDBClient): { client: DynamoDBClient; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  const wrapped = {
    send: (command: { constructor: { name: string } }) => {
      const name = command.constructor.name.replace(/Command$/, '');
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return client.send(command as never);
    },
  } as unknown as DynamoDBClient;
  return { client: wrapped, counts };
}

export async function run(print: (line: string) => void): Promise<void> {
  const emulators = await startEmulators();
  const { dynamodb, ...rest } = createAwsClients({
    sqsEndpoint: emulators.sqsEndpoint,
    dynamodbEndpoint: emulators.dynamodbEndpoint,
  });
  try {
    const table = `bench-runs-${Date.now()}`;
    await ensureTable(dynamodb, table, { ttlAttribute: 'ttl' });
    const { client, counts } = counting(dynamodb);
    const ledger = new DynamoRunLedger({ dynamodb: client, tableName: table });
    const batches = CHILDREN + 1;
    print(
      `${batches} batches (1 root, ${CHILDREN} children), ${CONCURRENCY} at a time, on ${emulators.external ? emulators.dynamodbEndpoint : 'dynalite'}`,
    );

    await ledger.start({ runId: 'bench', flowId: 'Bench', trigger: 'manual', roots: 1 });
    counts.clear();
    const t0 = performance.now();
    await ledger.complete({
      runId: 'bench',
      batchId: 'root',
      step: 0,
      counters: { in: CHILDREN, out: CHILDREN },
      children: CHILDREN,
    });
    const results = await mapLimit(
      Array.from({ length: CHILDREN }, (_, i) => i),
      CONCURRENCY,
      // With a duration, as every processed batch reports it: the step's timings ride the same update.
      (i) =>
        ledger.complete({
          runId: 'bench',
          batchId: `child-${i}`,
          step: 1,
          counters: { in: 1, out: 1 },
          durationMs: 5 + (i % 50),
        }),
    );
    const exactMs = performance.now() - t0;
    const finished = results.filter((r) => r.finished).length;
    const requests = [...counts.values()].reduce((a, b) => a + b, 0);
    const record = await ledger.get('bench');
    const timings = record?.steps[1]?.timings;
    print(
      `step 1 timings from the same updates: ${timings?.batches} batches, total ${timings?.totalMs} ms, p95 ${timings?.p95Ms} ms (true p95 52 ms)`,
    );
    print(
      `exact ledger: ${exactMs.toFixed(0)} ms, ${requests} requests (${[...counts].map(([k, v]) => `${k} ${v}`).join(', ')}) = ${(requests / batches).toFixed(2)} per batch; run ${record?.status}, finished by ${finished} call(s), ${record?.batches.done} batches counted`,
    );

    // Completions are appended in bundles: a write is billed per KB of the item written.
    const bundles =
      (
        await dynamodb.send(
          new QueryCommand({
            TableName: table,
            KeyConditionExpression: 'pk = :pk AND begins_with(sk, :recs)',
            ExpressionAttributeValues: {
              ':pk': { S: RUN_TABLE.runItem('bench').pk },
              ':recs': { S: 'recs#' },
            },
          }),
        )
      ).Items ?? [];
    const largest = Math.max(0, ...bundles.map((b) => JSON.stringify(b).length));
    print(
      `${bundles.length} completion bundles (group commits), the largest ≈ ${(largest / 1024).toFixed(1)} KB (${Math.ceil(largest / 1024)} write units)`,
    );

    const t1 = performance.now();
    await mapLimit(
      Array.from({ length: batches }, (_, i) => i),
      CONCURRENCY,
      (i) =>
        dynamodb.send(
          new UpdateItemCommand({
            TableName: table,
            Key: { pk: { S: 'baseline' }, sk: { S: `shard#${i % 16}` } },
            UpdateExpression: 'ADD done_count :one, c1_in :one',
            ExpressionAttributeValues: { ':one': { N: '1' } },
          }),
        ),
    );
    const baselineMs = performance.now() - t1;
    print(
      `baseline (one unconditional ADD per batch): ${baselineMs.toFixed(0)} ms, ${batches} requests = 1.00 per batch`,
    );
    print(
      `exact / baseline: time ${(exactMs / baselineMs).toFixed(2)}×, requests ${(requests / batches).toFixed(2)}×`,
    );
  } finally {
    destroyAwsClients({ dynamodb, ...rest });
    await emulators.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await run((line) => process.stdout.write(`${line}\n`));
}
