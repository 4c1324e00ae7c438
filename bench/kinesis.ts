/**
 * A Kinesis-fed flow under `kisflow dev` on the embedded kinesalite (durable, as `kisflow dev` runs
 * it, in a temporary directory), against a raw SDK put/get loop on the same emulator:
 * 1. records/s from the first PutRecords to the last record handed to the flow's source handler:
 *    the dev stack's local mapping (per shard: GetRecords, a Lambda-shaped event, the handler, a
 *    durable checkpoint per batch);
 * 2. the same records put the same way and read back by one GetRecords loop per shard (same
 *    batch size, same idle wait), decoded the same way: what Kinesis alone costs on this emulator.
 * 3. drain only: a stream filled first, then read from TRIM_HORIZON to its end by the mapping
 *    (startKinesisPoller, durable checkpoints) and by the raw loop: the consumer's own cost, with
 *    the emulator's PutRecords (the bound of 1 and 2) out of the measure.
 * The handler decodes each record's JSON, as the raw loop does; it stands for the flow's first
 * step. Rounds alternate after a warm-up; the best of each is compared, with the median of the
 * per-round ratios beside it (these machines are noisy).
 *
 * `node bin/run-ts.js bench/kinesis.ts [records] [rounds]`
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
} from '@aws-sdk/client-kinesis';
import { buildProject } from '../kisflow/config/build-project.ts';
import type { FlowSpec, ProjectConfig } from '../kisflow/config/model.ts';
import { defineFunction } from '../kisflow/engine/function.ts';
import { Registry } from '../kisflow/engine/registry.ts';
import { startDevStack } from '../kisflow/local/dev-stack.ts';
import { openKinesisCheckpoints } from '../kisflow/local/kinesis-checkpoints.ts';
import { createKinesisClient } from '../kisflow/local/kinesis-client.ts';
import { startKinesisPoller } from '../kisflow/local/kinesis-poller.ts';
import { ensureStream } from '../kisflow/local/kinesis-sources.ts';
import { startEmulators } from '../localstack/emulators.ts';

const SHARDS = 2;
const BATCH = 100;
const IDLE_MS = 200;
const MAPPED = 'arn:aws:kinesis:us-east-1:000000000000:stream/bench-mapped';
const RAW = 'arn:aws:kinesis:us-east-1:000000000000:stream/bench-raw';

function kinesisProject(): ProjectConfig {
  const base = buildProject({
    funcs: [{ fid: 'ingest', fmode: 'Calculate' }],
    flows: [{ flow_id: 'bench_kinesis', flows: [{ fid: 'ingest' }] }],
  });
  const flow = base.flows.get('bench_kinesis') as FlowSpec;
  const fed: FlowSpec = {
    ...flow,
    source: { kinesis: { streamArn: MAPPED, startingPosition: 'latest', batchSize: BATCH } },
  };
  return { ...base, flows: new Map([['bench_kinesis', fed]]) };
}

async function putAll(kinesis: KinesisClient, streamArn: string, round: number, n: number): Promise<void> {
  const StreamName = streamArn.split('/')[1];
  for (let start = 0; start < n; start += 500) {
    const count = Math.min(500, n - start);
    const out = await kinesis.send(
      new PutRecordsCommand({
        StreamName,
        Records: Array.from({ length: count }, (_, j) => ({
          Data: Buffer.from(JSON.stringify({ round, i: start + j, pad: 'kisflow-bench-record-0123456789' })),
          PartitionKey: `k${(start + j) % 64}`,
        })),
      }),
    );
    if ((out.FailedRecordCount ?? 0) > 0) throw new Error(`${out.FailedRecordCount} records were not put`);
  }
}

/** The raw loop: per shard, GetRecords from `from` on, decoded, counted; empty reads wait IDLE_MS. */
async function startRawReaders(
  kinesis: KinesisClient,
  onRecords: (n: number) => void,
  streamArn = RAW,
  from: 'LATEST' | 'TRIM_HORIZON' = 'LATEST',
) {
  const StreamName = streamArn.split('/')[1];
  let stopped = false;
  const shards = (await kinesis.send(new ListShardsCommand({ StreamName }))).Shards ?? [];
  const loops = shards.map(async (shard) => {
    let iterator = (
      await kinesis.send(
        new GetShardIteratorCommand({ StreamName, ShardId: shard.ShardId, ShardIteratorType: from }),
      )
    ).ShardIterator;
    while (!stopped && iterator !== undefined) {
      const out = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: BATCH }));
      iterator = out.NextShardIterator;
      const records = out.Records ?? [];
      for (const r of records) JSON.parse(Buffer.from(r.Data ?? new Uint8Array()).toString());
      if (records.length > 0) onRecords(records.length);
      else await new Promise((r) => setTimeout(r, IDLE_MS));
    }
  });
  return async () => {
    stopped = true;
    await Promise.all(loops);
  };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 300_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Fills one stream with `n` records, then times reading it from TRIM_HORIZON to the end, by the
 * mapping (a new consumer each round, so its own checkpoints) and by the raw loop, in turns.
 */
async function drainRounds(
  kinesis: KinesisClient,
  n: number,
  rounds: number,
  dataDir: string,
): Promise<{ mapped: number[]; raw: number[] }> {
  const filled = 'arn:aws:kinesis:us-east-1:000000000000:stream/bench-drain';
  await ensureStream(kinesis, filled, SHARDS);
  await putAll(kinesis, filled, 0, n);
  const checkpoints = openKinesisCheckpoints(join(dataDir, 'drain-checkpoints.json'));
  const mappedOnce = async (round: number): Promise<number> => {
    let handled = 0;
    const t0 = performance.now();
    const poller = startKinesisPoller({
      kinesis,
      streamArn: filled,
      consumer: `bench-${round}`,
      checkpoints,
      startingPosition: 'trim_horizon',
      batchSize: BATCH,
      idlePollMs: IDLE_MS,
      handler: async (event) => {
        for (const r of event.Records) JSON.parse(Buffer.from(r.kinesis.data, 'base64').toString());
        handled += event.Records.length;
      },
      onFailure: async () => {},
    });
    await until(() => handled >= n, 'the drained records');
    const ms = performance.now() - t0;
    await poller.stop();
    return ms;
  };
  const rawOnce = async (): Promise<number> => {
    let read = 0;
    const t0 = performance.now();
    const stop = await startRawReaders(
      kinesis,
      (count) => {
        read += count;
      },
      filled,
      'TRIM_HORIZON',
    );
    await until(() => read >= n, 'the raw drained records');
    const ms = performance.now() - t0;
    await stop();
    return ms;
  };
  const mapped: number[] = [];
  const raw: number[] = [];
  for (let round = 0; round <= rounds; round++) {
    const [m, r] =
      round % 2 === 0
        ? [await mappedOnce(round), await rawOnce()]
        : await rawOnce().then(async (r) => [await mappedOnce(round), r]);
    if (round === 0) continue; // warm-up
    mapped.push(m as number);
    raw.push(r as number);
  }
  return { mapped, raw };
}

const best = (values: number[]) => Math.min(...values);
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] as number;
};
const rate = (n: number, ms: number) => `${Math.round((n / ms) * 1000).toLocaleString('en-US')} records/s`;

export async function run(
  print: (line: string) => void,
  options: { records?: number; rounds?: number } = {},
): Promise<void> {
  const n = options.records ?? 20_000;
  const rounds = options.rounds ?? 4;
  const dataDir = mkdtempSync(join(tmpdir(), 'kisflow-bench-kinesis-'));
  const emulators = await startEmulators({ dataDir: join(dataDir, 'emulators') });
  const kinesis = createKinesisClient({ endpoint: emulators.kinesisEndpoint });
  let handled = 0;
  let read = 0;
  // Made here with the raw stream's shard count; the dev stack finds it and leaves it as it is.
  await ensureStream(kinesis, MAPPED, SHARDS);
  const stack = await startDevStack({
    dir: '.',
    root: dataDir,
    prefix: 'benchk',
    project: kinesisProject(),
    registry: new Registry().addFunction(
      'ingest',
      defineFunction((rows, ctx) => {
        for (const r of rows) ctx.commit(r);
      }),
    ),
    endpoints: {
      sqsEndpoint: emulators.sqsEndpoint,
      dynamodbEndpoint: emulators.dynamodbEndpoint,
      kinesisEndpoint: emulators.kinesisEndpoint,
    },
    stateDir: join(dataDir, 'state'),
    lock: false,
    logLevel: 'SILENT',
    kinesisIdlePollMs: IDLE_MS,
    kinesisHandler: () => async (event) => {
      for (const r of event.Records) JSON.parse(Buffer.from(r.kinesis.data, 'base64').toString());
      handled += event.Records.length;
    },
  });
  await ensureStream(kinesis, RAW, SHARDS);
  const stopRaw = await startRawReaders(kinesis, (count) => {
    read += count;
  });
  try {
    print(
      `  ${n.toLocaleString('en-US')} records a run, ${SHARDS} shards per stream, batch ${BATCH}, idle read wait ${IDLE_MS} ms, ${rounds} rounds after a warm-up`,
    );
    const mapped: number[] = [];
    const raw: number[] = [];
    const ratios: number[] = [];
    const once = async (round: number, streamArn: string): Promise<number> => {
      const t0 = performance.now();
      const counted = streamArn === MAPPED ? () => handled : () => read;
      const target = counted() + n;
      await putAll(kinesis, streamArn, round, n);
      await until(() => counted() >= target, streamArn);
      return performance.now() - t0;
    };
    for (let round = 0; round <= rounds; round++) {
      // Alternating which goes first evens out what the emulator's LevelDB is doing meanwhile.
      const first = round % 2 === 0 ? MAPPED : RAW;
      const a = await once(round, first);
      const b = await once(round, first === MAPPED ? RAW : MAPPED);
      if (round === 0) continue; // warm-up
      const [mappedMs, rawMs] = first === MAPPED ? [a, b] : [b, a];
      mapped.push(mappedMs);
      raw.push(rawMs);
      ratios.push(rawMs / mappedMs);
    }
    print(`  raw SDK put/get loop (best):      ${rate(n, best(raw))}`);
    print(`  kisflow dev Kinesis mapping (best): ${rate(n, best(mapped))}`);
    print(
      `  ratio dev mapping/raw: ${(best(raw) / best(mapped)).toFixed(2)} best-of-${rounds}, ${median(ratios).toFixed(2)} median per round`,
    );
    const drain = await drainRounds(kinesis, n, rounds, dataDir);
    print(`  drain only, raw GetRecords loop (best): ${rate(n, best(drain.raw))}`);
    print(`  drain only, Kinesis mapping (best):     ${rate(n, best(drain.mapped))}`);
    print(
      `  ratio drain mapping/raw: ${(best(drain.raw) / best(drain.mapped)).toFixed(2)} best-of-${rounds}, ${median(drain.raw.map((r, i) => r / (drain.mapped[i] as number))).toFixed(2)} median per round`,
    );
    print(`  iterator age at the end: ${stack.iteratorAges.get('bench_kinesis') ?? 0} ms`);
  } finally {
    await stopRaw();
    await stack.stop();
    kinesis.destroy();
    await emulators.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [records, rounds] = process.argv.slice(2).map(Number);
  await run((line) => console.log(line), {
    ...(records ? { records } : {}),
    ...(rounds ? { rounds } : {}),
  });
}
