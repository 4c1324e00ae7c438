import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateStreamCommand, type KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { CreateQueueCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../../kisflow/aws/clients.ts';
import {
  checkpointKey,
  type KinesisCheckpoints,
  openKinesisCheckpoints,
} from '../../../kisflow/local/kinesis-checkpoints.ts';
import { createKinesisClient } from '../../../kisflow/local/kinesis-client.ts';
import { type KinesisBatchFailure, sendKinesisFailure } from '../../../kisflow/local/kinesis-failure.ts';
import { type KinesisPollerOptions, startKinesisPoller } from '../../../kisflow/local/kinesis-poller.ts';
import { ensureStream } from '../../../kisflow/local/kinesis-sources.ts';
import { DEAD_LETTER_ATTRIBUTES } from '../../../kisflow/wire/dead-letter-record.ts';
import { type Emulators, startEmulators } from '../../../localstack/emulators.ts';
import { waitFor } from './harness.ts';

let emulators: Emulators;
let kinesis: KinesisClient;
let sqs: SQSClient;
let streams = 0;
const dirs: string[] = [];

beforeAll(async () => {
  emulators = await startEmulators();
  kinesis = createKinesisClient({ endpoint: emulators.kinesisEndpoint });
  ({ sqs } = createAwsClients({ sqsEndpoint: emulators.sqsEndpoint }));
});

afterAll(async () => {
  kinesis?.destroy();
  sqs?.destroy();
  await emulators?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A new stream; the ARN names another account, as a user's YAML would (only the name counts locally). */
async function stream(shards: number): Promise<string> {
  const arn = `arn:aws:kinesis:eu-west-1:123456789012:stream/poller-${++streams}`;
  await ensureStream(kinesis, arn, shards);
  return arn;
}

interface Put {
  readonly i: number;
  readonly key: string;
  readonly shardId: string;
  readonly seq: string;
}

/** Puts `{ i }` records (partition key `k<i % keys>`) in one call each 500, in order. */
async function put(arn: string, from: number, n: number, keys = 1): Promise<Put[]> {
  const StreamName = arn.split('/')[1];
  const out: Put[] = [];
  for (let start = from; start < from + n; start += 500) {
    const count = Math.min(500, from + n - start);
    const result = await kinesis.send(
      new PutRecordsCommand({
        StreamName,
        Records: Array.from({ length: count }, (_, j) => ({
          Data: Buffer.from(JSON.stringify({ i: start + j })),
          PartitionKey: `k${(start + j) % keys}`,
        })),
      }),
    );
    for (const [j, r] of (result.Records ?? []).entries()) {
      out.push({
        i: start + j,
        key: `k${(start + j) % keys}`,
        shardId: r.ShardId as string,
        seq: r.SequenceNumber as string,
      });
    }
  }
  return out;
}

const indexOf = (record: KinesisStreamEvent['Records'][number]): number =>
  (JSON.parse(Buffer.from(record.kinesis.data, 'base64').toString()) as { i: number }).i;

function memoryCheckpoints(): KinesisCheckpoints {
  return openKinesisCheckpoints();
}

function poller(
  arn: string,
  handler: KinesisPollerOptions['handler'],
  extra: Partial<KinesisPollerOptions> = {},
) {
  return startKinesisPoller({
    kinesis,
    streamArn: arn,
    handler,
    consumer: 'test-flow',
    checkpoints: memoryCheckpoints(),
    startingPosition: 'trim_horizon',
    idlePollMs: 50,
    retryDelayMs: 10,
    onFailure: async () => {
      throw new Error('no failure expected');
    },
    ...extra,
  });
}

describe('local Kinesis mapping (kinesalite)', () => {
  it('hands records to the handler as Lambda does, in shard order, each once', async () => {
    const arn = await stream(2);
    const puts = await put(arn, 0, 60, 7);
    const events: KinesisStreamEvent[] = [];
    const p = poller(
      arn,
      async (event) => {
        events.push(event);
      },
      { batchSize: 8 },
    );
    try {
      await waitFor('the records', () => events.flatMap((e) => e.Records).length >= 60);
    } finally {
      await p.stop();
    }
    const records = events.flatMap((e) => e.Records);
    expect(records.map(indexOf).sort((a, b) => a - b)).toEqual(puts.map((p) => p.i));
    for (const event of events) {
      expect(event.Records.length).toBeLessThanOrEqual(8);
      // One batch comes from one shard.
      expect(new Set(event.Records.map((r) => r.eventID.split(':')[0])).size).toBe(1);
    }
    const first = records.find((r) => indexOf(r) === 0);
    const put0 = puts[0] as Put;
    expect(first).toEqual({
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: 'k0',
        sequenceNumber: put0.seq,
        data: Buffer.from('{"i":0}').toString('base64'),
        approximateArrivalTimestamp: expect.any(Number),
      },
      eventSource: 'aws:kinesis',
      eventVersion: '1.0',
      eventID: `${put0.shardId}:${put0.seq}`,
      eventName: 'aws:kinesis:record',
      invokeIdentityArn: expect.stringMatching(/^arn:aws:iam::123456789012:role\//),
      awsRegion: 'eu-west-1',
      eventSourceARN: arn,
    });
    // Epoch seconds with milliseconds, as Lambda gives it.
    expect(Math.abs((first?.kinesis.approximateArrivalTimestamp ?? 0) * 1000 - Date.now())).toBeLessThan(
      60_000,
    );
    // Per shard, the handler saw exactly what was put there, in the order it was put.
    for (const shardId of new Set(puts.map((p) => p.shardId))) {
      const seen = records
        .filter((r) => r.eventID.startsWith(`${shardId}:`))
        .map((r) => r.kinesis.sequenceNumber);
      expect(seen).toEqual(puts.filter((p) => p.shardId === shardId).map((p) => p.seq));
    }
  });

  it('bisects a failing batch until the poison record is alone, dead-letters it with the reason, processes the rest', async () => {
    const arn = await stream(1);
    const puts = await put(arn, 0, 16);
    const poison = 11;
    const dlq = (await sqs.send(new CreateQueueCommand({ QueueName: `kinesis-dlq-${streams}` })))
      .QueueUrl as string;
    const done: number[] = [];
    const failures: KinesisBatchFailure[] = [];
    const p = poller(
      arn,
      async (event) => {
        const indexes = event.Records.map(indexOf);
        if (indexes.includes(poison)) throw new Error(`record ${poison} is poison`);
        done.push(...indexes);
      },
      {
        batchSize: 16,
        bisectOnError: true,
        maxRetries: 1,
        onFailure: async (failure) => {
          failures.push(failure);
          await sendKinesisFailure(sqs, dlq, failure, 'test-flow');
        },
      },
    );
    try {
      await waitFor('the records', () => done.length + failures.length >= 16 && failures.length === 1);
    } finally {
      await p.stop();
    }
    expect(done).toEqual(puts.map((p) => p.i).filter((i) => i !== poison));
    expect(failures).toHaveLength(1);
    const info = failures[0]?.record.KinesisBatchInfo;
    expect(info).toMatchObject({
      batchSize: 1,
      startSequenceNumber: puts[poison]?.seq,
      endSequenceNumber: puts[poison]?.seq,
      shardId: puts[poison]?.shardId,
      streamArn: arn,
    });
    expect(failures[0]?.record.requestContext.condition).toBe('RetryAttemptsExhausted');
    // On the queue: AWS's invocation record, and the reason as every dead letter carries it.
    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: dlq, MessageAttributeNames: ['All'], WaitTimeSeconds: 1 }),
    );
    const message = received.Messages?.[0];
    expect(JSON.parse(message?.Body ?? '{}').KinesisBatchInfo.startSequenceNumber).toBe(puts[poison]?.seq);
    expect(message?.MessageAttributes?.[DEAD_LETTER_ATTRIBUTES.code]?.StringValue).toBe('RETRIES_EXHAUSTED');
    expect(message?.MessageAttributes?.[DEAD_LETTER_ATTRIBUTES.message]?.StringValue).toContain(
      `record ${poison} is poison`,
    );
  });

  it('retries a partial batch failure from the failed sequence number, never the records before it', async () => {
    const arn = await stream(1);
    const puts = await put(arn, 0, 10);
    const calls: number[][] = [];
    const p = poller(
      arn,
      async (event): Promise<KinesisStreamBatchResponse> => {
        calls.push(event.Records.map(indexOf));
        // The first call fails records 6 and 3 (the lowest wins); the retry succeeds.
        if (calls.length === 1)
          return {
            batchItemFailures: [
              { itemIdentifier: event.Records[6]?.kinesis.sequenceNumber as string },
              { itemIdentifier: event.Records[3]?.kinesis.sequenceNumber as string },
            ],
          };
        return { batchItemFailures: [] };
      },
      { batchSize: 10 },
    );
    try {
      await waitFor('the records', () => calls.length >= 2);
      // Nothing more to do: no third call comes.
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      await p.stop();
    }
    const all = puts.map((p) => p.i);
    expect(calls).toEqual([all, all.slice(3)]);
  });

  it('fails the whole batch when batchItemFailures names a record that is not in it', async () => {
    const arn = await stream(1);
    await put(arn, 0, 4);
    const calls: number[][] = [];
    const p = poller(
      arn,
      async (event): Promise<KinesisStreamBatchResponse> => {
        calls.push(event.Records.map(indexOf));
        return calls.length === 1
          ? { batchItemFailures: [{ itemIdentifier: 'not-a-sequence-number' }] }
          : { batchItemFailures: [] };
      },
      { batchSize: 10 },
    );
    try {
      await waitFor('the records', () => calls.length >= 2);
    } finally {
      await p.stop();
    }
    expect(calls.slice(0, 2)).toEqual([
      [0, 1, 2, 3],
      [0, 1, 2, 3],
    ]);
  });

  it('sends records past max_record_age_seconds to the destination unprocessed', async () => {
    const arn = await stream(1);
    const puts = await put(arn, 0, 3);
    const failures: KinesisBatchFailure[] = [];
    let calls = 0;
    const p = poller(
      arn,
      async () => {
        calls++;
        throw new Error('down');
      },
      {
        maxRecordAgeSeconds: 1,
        onFailure: async (failure) => {
          failures.push(failure);
        },
      },
    );
    try {
      await waitFor('the records', () => failures.length >= 1);
    } finally {
      await p.stop();
    }
    expect(calls).toBeGreaterThan(0);
    expect(failures[0]?.code).toBe('RECORD_AGE_EXCEEDED');
    expect(failures[0]?.record.KinesisBatchInfo).toMatchObject({
      batchSize: 3,
      startSequenceNumber: puts[0]?.seq,
      endSequenceNumber: puts[2]?.seq,
    });
    expect(failures[0]?.reason).toContain('down');
  });

  it('runs parallelization_factor batches of a shard at once, each partition key in order', async () => {
    const arn = await stream(1);
    const puts = await put(arn, 0, 400, 16);
    const seen: { i: number; key: string }[] = [];
    let running = 0;
    let mostAtOnce = 0;
    const p = poller(
      arn,
      async (event) => {
        running++;
        mostAtOnce = Math.max(mostAtOnce, running);
        await new Promise((resolve) => setTimeout(resolve, 20));
        for (const r of event.Records) seen.push({ i: indexOf(r), key: r.kinesis.partitionKey });
        running--;
      },
      { batchSize: 10, parallelizationFactor: 4 },
    );
    try {
      await waitFor('the records', () => seen.length >= 400);
    } finally {
      await p.stop();
    }
    expect(mostAtOnce).toBeGreaterThan(1);
    expect(mostAtOnce).toBeLessThanOrEqual(4);
    expect(seen.map((s) => s.i).sort((a, b) => a - b)).toEqual(puts.map((p) => p.i));
    for (const key of new Set(puts.map((p) => p.key))) {
      const order = seen.filter((s) => s.key === key).map((s) => s.i);
      expect(order).toEqual([...order].sort((a, b) => a - b));
    }
  });

  it('refuses a parallelization_factor AWS refuses', () => {
    expect(() =>
      poller('arn:aws:kinesis:us-east-1:1:stream/x', async () => {}, { parallelizationFactor: 11 }),
    ).toThrow(/parallelization_factor must be an integer from 1 to 10/);
  });

  it('drops the records the filter criteria do not match, counts them, and checkpoints past them', async () => {
    const arn = await stream(1);
    const puts = await put(arn, 0, 12);
    const seen: number[] = [];
    let filtered = 0;
    const checkpoints = memoryCheckpoints();
    const p = poller(
      arn,
      async (event) => {
        seen.push(...event.Records.map(indexOf));
      },
      {
        batchSize: 4,
        checkpoints,
        filters: [{ data: { i: [{ numeric: ['<', 3] }] } }, { data: { i: [9] } }],
        onFiltered: (_shard, count) => {
          filtered += count;
        },
      },
    );
    try {
      await waitFor('the filtered records', () => seen.length + filtered >= 12);
    } finally {
      await p.stop();
    }
    expect(seen).toEqual([0, 1, 2, 9]);
    expect(filtered).toBe(8);
    expect(checkpoints.get(checkpointKey('test-flow', arn, puts[0]?.shardId as string))?.sequenceNumber).toBe(
      puts[11]?.seq,
    );
  });

  it('a restarted poller resumes after the last checkpoint: no record lost, none handed twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kisflow-kinesis-'));
    dirs.push(dir);
    const file = join(dir, 'kinesis-checkpoints.json');
    const arn = await stream(2);
    const puts = await put(arn, 0, 200, 5);
    const seen: number[] = [];
    const handler = async (event: KinesisStreamEvent) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      seen.push(...event.Records.map(indexOf));
    };
    const first = poller(arn, handler, { batchSize: 10, checkpoints: openKinesisCheckpoints(file) });
    await waitFor('the records', () => seen.length >= 40);
    await first.stop();
    const beforeRestart = seen.length;
    expect(beforeRestart).toBeLessThan(200);
    // More records while it is down, then a new poller on the same file.
    puts.push(...(await put(arn, 200, 50, 5)));
    const second = poller(arn, handler, { batchSize: 10, checkpoints: openKinesisCheckpoints(file) });
    try {
      await waitFor('the records', () => seen.length >= 250);
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      await second.stop();
    }
    expect([...seen].sort((a, b) => a - b)).toEqual(puts.map((p) => p.i));
    const last = (shardId: string) => puts.filter((p) => p.shardId === shardId).at(-1)?.seq;
    const checkpoints = openKinesisCheckpoints(file);
    for (const shardId of new Set(puts.map((p) => p.shardId)))
      expect(checkpoints.get(checkpointKey('test-flow', arn, shardId))?.sequenceNumber).toBe(last(shardId));
  });

  it('a poller killed mid-stream (SIGKILL) loses nothing: the next one hands again at most the batch in flight', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kisflow-kinesis-crash-'));
    dirs.push(dir);
    const out = join(dir, 'handled.txt');
    const arn = await stream(1);
    await put(arn, 0, 300);
    const handled = () =>
      existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean).map(Number) : [];
    const child = () =>
      spawn(
        process.execPath,
        [
          'bin/run-ts.js',
          'test/integration/runtime/kinesis-child.ts',
          emulators.kinesisEndpoint,
          arn,
          join(dir, 'kinesis-checkpoints.json'),
          out,
        ],
        { cwd: join(import.meta.dirname, '..', '..', '..'), stdio: ['ignore', 'ignore', 'inherit'] },
      );
    const first = child();
    await waitFor('the first child to hand 60 records', () => handled().length >= 60, 30_000);
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    const atKill = handled().length;
    expect(atKill).toBeLessThan(300);
    const second = child();
    try {
      await waitFor('every record', () => new Set(handled()).size >= 300, 30_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      second.kill('SIGTERM');
      await new Promise((resolve) => second.once('exit', resolve));
    }
    const all = handled();
    expect([...new Set(all)].sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    // Only the batch the kill cut off between its handling and its checkpoint comes twice.
    expect(all.length - 300).toBeLessThanOrEqual(10);
    // And the order held: each index after the first run's last checkpoint comes in sequence.
    const afterRestart = all.slice(atKill);
    expect(afterRestart).toEqual([...afterRestart].sort((a, b) => a - b));
  });

  it('a `latest` start that saw nothing yet still reads what arrived while it was down', async () => {
    const arn = await stream(1);
    await put(arn, 0, 3); // before the first start: `latest` skips these, as in AWS
    const checkpoints = memoryCheckpoints();
    const seen: number[] = [];
    const handler = async (event: KinesisStreamEvent) => {
      seen.push(...event.Records.map(indexOf));
    };
    const first = poller(arn, handler, { startingPosition: 'latest', checkpoints });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await first.stop();
    await put(arn, 3, 4);
    const second = poller(arn, handler, { startingPosition: 'latest', checkpoints });
    try {
      await waitFor('the records', () => seen.length >= 4);
    } finally {
      await second.stop();
    }
    expect(seen).toEqual([3, 4, 5, 6]);
  });

  it('starts the children of a split shard once the parent is done, reading them from their start', async () => {
    const arn = await stream(1);
    const StreamName = arn.split('/')[1] as string;
    await put(arn, 0, 5, 3);
    const { SplitShardCommand } = await import('@aws-sdk/client-kinesis');
    await kinesis.send(
      new SplitShardCommand({
        StreamName,
        ShardToSplit: 'shardId-000000000000',
        NewStartingHashKey: '170141183460469231731687303715884105728',
      }),
    );
    await ensureStream(kinesis, arn);
    await put(arn, 5, 10, 3);
    const seen: { i: number; shard: string }[] = [];
    const p = poller(
      arn,
      async (event) => {
        for (const r of event.Records) seen.push({ i: indexOf(r), shard: r.eventID.split(':')[0] as string });
      },
      { shardRefreshMs: 100 },
    );
    try {
      await waitFor('the records', () => seen.length >= 15);
    } finally {
      await p.stop();
    }
    expect(seen.map((s) => s.i).sort((a, b) => a - b)).toEqual(Array.from({ length: 15 }, (_, i) => i));
    // Every parent record was handed before any child record.
    const lastParent = seen.map((s) => s.shard).lastIndexOf('shardId-000000000000');
    expect(seen.slice(0, lastParent + 1).every((s) => s.shard === 'shardId-000000000000')).toBe(true);
    expect(seen.slice(0, 5).map((s) => s.i)).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('AWS_ENDPOINT_URL (LocalStack, MiniStack)', () => {
  it('is the Kinesis endpoint of the emulators and of a client given none', async () => {
    const previous = process.env.AWS_ENDPOINT_URL;
    // kinesalite plays the external server here: what LocalStack would be on :4566.
    process.env.AWS_ENDPOINT_URL = emulators.kinesisEndpoint;
    const client = createKinesisClient();
    try {
      const external = await startEmulators();
      expect(external).toMatchObject({ external: true, kinesisEndpoint: emulators.kinesisEndpoint });
      const endpoint = await client.config.endpoint?.();
      expect(`${endpoint?.protocol}//${endpoint?.hostname}:${endpoint?.port}`).toBe(
        emulators.kinesisEndpoint,
      );
      const arn = await stream(1);
      await put(arn, 0, 1);
      const { ListStreamsCommand } = await import('@aws-sdk/client-kinesis');
      const listed = await client.send(new ListStreamsCommand({}));
      expect(listed.StreamNames).toContain(arn.split('/')[1]);
    } finally {
      client.destroy();
      if (previous === undefined) delete process.env.AWS_ENDPOINT_URL;
      else process.env.AWS_ENDPOINT_URL = previous;
    }
  });
});

describe('createStream guard', () => {
  it('ensureStream is idempotent', async () => {
    const arn = await stream(1);
    await ensureStream(kinesis, arn);
    await expect(
      kinesis.send(new CreateStreamCommand({ StreamName: arn.split('/')[1], ShardCount: 1 })),
    ).rejects.toThrow();
  });
});
