/**
 * A Kinesis-fed flow under `kisflow dev` (kinesalite, fauxqs, dynalite): its batches are no runs,
 * so they are counted in the runs table's stream buckets, per step, per minute of arrival. A
 * restart that reads the stream again from the start (its checkpoints lost) redelivers every
 * record: the flow runs them again, the buckets do not count them twice.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../../kisflow/aws/clients.ts';
import { runsStats, STREAM_WINDOW_MINUTES, statsTable } from '../../../kisflow/cli/commands/runs.ts';
import { resolveEndpoints } from '../../../kisflow/cli/endpoints.ts';
import { sourceLagReader } from '../../../kisflow/cli/source-lag.ts';
import { loadProject } from '../../../kisflow/config/index.ts';
import type { FlowSpec, ProjectConfig } from '../../../kisflow/config/model.ts';
import type { ConsoleContext } from '../../../kisflow/console/console-context.ts';
import { overview } from '../../../kisflow/console/views/overview.ts';
import { type DevStack, startDevStack } from '../../../kisflow/local/dev-stack.ts';
import { createKinesisClient } from '../../../kisflow/local/kinesis-client.ts';
import type { StreamBucket } from '../../../kisflow/runs/run-ledger.ts';
import { decodeEnvelope } from '../../../kisflow/wire/envelope.ts';
import { kisflow } from '../dev/dev-process.ts';
import { FIXTURE_ROOT } from '../runtime/harness.ts';

const STREAM_ARN = 'arn:aws:kinesis:us-east-1:123456789012:stream/dev-counted';
const roots: string[] = [];
let project: ProjectConfig;

beforeAll(async () => {
  const base = await loadProject(join(FIXTURE_ROOT, 'flows'), { root: FIXTURE_ROOT });
  const flaky = base.flows.get('flaky') as FlowSpec;
  // flaky_step fails each batch's first attempt (the mapping retries it), publish_tx passes it on.
  const fed: FlowSpec = {
    ...flaky,
    source: {
      kinesis: { streamArn: STREAM_ARN, startingPosition: 'trim_horizon', batchSize: 5, maxRetries: 3 },
    },
  };
  project = {
    ...base,
    // No Prometheus: `runs stats` reads the iterator age from the file dev publishes.
    global: { ...base.global, prometheusEnable: false },
    flows: new Map([['flaky', fed]]),
    jobs: new Map(),
  };
});

afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

const start = (root: string): Promise<DevStack> =>
  startDevStack({
    dir: 'flows',
    root,
    project,
    isolation: 'in-process',
    logLevel: 'SILENT',
    kinesisIdlePollMs: 50,
  });

async function put(kinesis: KinesisClient, from: number, n: number): Promise<void> {
  await kinesis.send(
    new PutRecordsCommand({
      StreamName: 'dev-counted',
      Records: Array.from({ length: n }, (_, j) => ({
        Data: Buffer.from(JSON.stringify({ i: from + j })),
        PartitionKey: `k${(from + j) % 3}`,
      })),
    }),
  );
}

/** Rows taken from the flow's output until `n` arrived. */
async function outputRows(sqs: SQSClient, queue: string, n: number): Promise<number[]> {
  const rows: number[] = [];
  const deadline = Date.now() + 30_000;
  while (rows.length < n) {
    if (Date.now() > deadline) throw new Error(`timed out with ${rows.length} of ${n} rows at the output`);
    const got = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queue, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    for (const m of got.Messages ?? []) {
      rows.push(...decodeEnvelope(m.Body as string).rows.map((r) => r.i as number));
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queue, ReceiptHandle: m.ReceiptHandle }));
    }
  }
  return rows;
}

/** Per step: [batches, in, out] over the last hour, summed over its minutes. */
async function perStep(stack: DevStack): Promise<Record<number, [number, number, number]>> {
  const now = Date.now();
  const buckets: StreamBucket[] = await stack.ledger.streamBuckets({
    flowId: 'flaky',
    granularity: 'minute',
    since: now - 3_600_000,
    until: now + 60_000,
  });
  const sums: Record<number, [number, number, number]> = {};
  for (const b of buckets) {
    const [batches, rowsIn, rowsOut] = sums[b.step] ?? [0, 0, 0];
    sums[b.step] = [batches + b.batches, rowsIn + b.in, rowsOut + b.out];
  }
  return sums;
}

/** Until step 1 counted `rows` rows (its output is sent before its count is written). */
async function counted(stack: DevStack, rows: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await perStep(stack))[1]?.[1] !== rows) {
    if (Date.now() > deadline) throw new Error(`step 1 never counted ${rows} rows`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Step 0's buckets over the last hour, summed. */
async function stepZero(stack: DevStack) {
  const now = Date.now();
  const buckets = await stack.ledger.streamBuckets({
    flowId: 'flaky',
    granularity: 'minute',
    since: now - 3_600_000,
    until: now + 60_000,
  });
  return buckets
    .filter((b) => b.step === 0)
    .reduce(
      (sum, b) => ({
        batches: sum.batches + b.batches,
        in: sum.in + b.in,
        out: sum.out + b.out,
        deadLettered: sum.deadLettered + b.deadLettered,
      }),
      { batches: 0, in: 0, out: 0, deadLettered: 0 },
    );
}

describe('stream buckets under kisflow dev', () => {
  it("counts a Kinesis-fed flow's rows per step, and a redelivered stream once", async () => {
    const root = mkdtempSync(join(tmpdir(), 'kisflow-dev-buckets-'));
    roots.push(root);
    let stack = await start(root);
    let kinesis = createKinesisClient({ endpoint: stack.kinesisEndpoint });
    let { sqs } = createAwsClients({ sqsEndpoint: stack.sqsEndpoint });
    try {
      await put(kinesis, 0, 6);
      const output = stack.resources.flows.flaky?.outputQueue as string;
      expect((await outputRows(sqs, output, 6)).sort()).toEqual([0, 1, 2, 3, 4, 5]);
      await counted(stack, 6);
      expect(await perStep(stack)).toEqual({ 0: [6, 6, 6], 1: [6, 6, 6] });

      // The stream read again from its start: every record is delivered (and run) a second time.
      kinesis.destroy();
      sqs.destroy();
      await stack.stop();
      rmSync(join(root, '.kisflow', 'dev', 'kinesis-checkpoints.json'));
      stack = await start(root);
      kinesis = createKinesisClient({ endpoint: stack.kinesisEndpoint });
      ({ sqs } = createAwsClients({ sqsEndpoint: stack.sqsEndpoint }));
      expect(await perStep(stack)).toEqual({ 0: [6, 6, 6], 1: [6, 6, 6] });
      await put(kinesis, 6, 2);
      const again = stack.resources.flows.flaky?.outputQueue as string;
      expect((await outputRows(sqs, again, 8)).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      await counted(stack, 8);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await perStep(stack)).toEqual({ 0: [8, 8, 8], 1: [8, 8, 8] });

      // `kisflow runs stats`: the flow's throughput from the buckets, its lag as dev publishes it.
      const stats = await runsStats(stack.ledger, {
        days: 1,
        now: Date.now(),
        flows: [project.flows.get('flaky') as FlowSpec],
        lagOf: sourceLagReader(resolveEndpoints({ root })),
      });
      expect(stats.streams).toEqual([
        {
          flowId: 'flaky',
          source: 'kinesis',
          windowMinutes: STREAM_WINDOW_MINUTES,
          rowsPerMinute: Math.round((8 / STREAM_WINDOW_MINUTES) * 100) / 100,
          steps: [
            { step: 0, batches: 8, in: 8, out: 8, rejected: 0, deadLettered: 0 },
            { step: 1, batches: 8, in: 8, out: 8, rejected: 0, deadLettered: 0 },
          ],
          lag: { metric: 'iterator_age_ms', value: expect.any(Number), from: 'dev' },
        },
      ]);
      // The console's Overview shows the same, from the same lookup of the deployment.
      const context = {
        ledger: stack.ledger,
        endpoints: resolveEndpoints({ root }),
        project: async () => project,
        depths: async () => [],
        now: () => Date.now(),
      } as unknown as ConsoleContext;
      expect((await overview(context, 1)).streams).toEqual(
        stats.streams.map((s) => ({ ...s, lag: expect.anything() })),
      );
      // The command itself, as a script runs it: the flows from --dir, the stack from .kisflow/dev.json.
      cpSync(join(FIXTURE_ROOT, 'functions'), join(root, 'functions'), { recursive: true });
      mkdirSync(join(root, 'flows'));
      writeFileSync(
        join(root, 'flows', 'runtime.yml'),
        readFileSync(join(FIXTURE_ROOT, 'flows', 'runtime.yml'), 'utf8').replace(
          'flow_id: flaky\n',
          `flow_id: flaky\nsource:\n  kinesis: { stream_arn: "${STREAM_ARN}", starting_position: trim_horizon }\n`,
        ),
      );
      const cli = await kisflow(root, ['runs', 'stats', '--days', '1', '--json']);
      expect(cli.code, cli.stderr).toBe(0);
      expect(cli.stderr).not.toMatch(/lag of flow/);
      expect(JSON.parse(cli.stdout).streams).toEqual([
        expect.objectContaining({ flowId: 'flaky', steps: stats.streams[0]?.steps, lag: expect.anything() }),
      ]);
      expect(statsTable(stats)).toMatch(/flaky\s+kinesis\s+0\.53\s+\d+(ms|\.\ds)\s+0:8\/8\/0 1:8\/8\/0/);
    } finally {
      kinesis.destroy();
      sqs.destroy();
      await stack.stop();
    }
  });

  it('counts a record that decodes to no row: one in, dead-lettered with its reason, beside the rows that went on', async () => {
    const root = mkdtempSync(join(tmpdir(), 'kisflow-dev-buckets-'));
    roots.push(root);
    const stack = await start(root);
    const kinesis = createKinesisClient({ endpoint: stack.kinesisEndpoint });
    const { sqs } = createAwsClients({ sqsEndpoint: stack.sqsEndpoint });
    try {
      await kinesis.send(
        new PutRecordsCommand({
          StreamName: 'dev-counted',
          Records: [
            { Data: Buffer.from('{"i": 100}'), PartitionKey: 'a' },
            { Data: Buffer.from('not json {'), PartitionKey: 'b' },
            { Data: Buffer.from('{"i": 101}'), PartitionKey: 'c' },
          ],
        }),
      );
      const output = stack.resources.flows.flaky?.outputQueue as string;
      expect((await outputRows(sqs, output, 2)).sort()).toEqual([100, 101]);
      const step0 = () => stepZero(stack);
      const deadline = Date.now() + 20_000;
      while ((await step0()).batches < 3 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      expect(await step0()).toEqual({ batches: 3, in: 3, out: 2, deadLettered: 1 });
      const dlq = stack.resources.flows.flaky?.stepDeadLetterQueues[0] as string;
      const dead = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: dlq,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          MessageAttributeNames: ['All'],
        }),
      );
      // Once, though the mapping handed it over again (the first attempt of its neighbours failed).
      expect(
        dead.Messages?.map((m) => [
          Buffer.from(JSON.parse(m.Body as string).kinesis.data, 'base64').toString(),
          m.MessageAttributes?.['kisflow.error.code']?.StringValue,
        ]),
      ).toEqual([['not json {', 'SOURCE_NOT_JSON']]);
    } finally {
      kinesis.destroy();
      sqs.destroy();
      await stack.stop();
    }
  });

  it('counts the records the mapping gave up on (retries exhausted): one in, dead-lettered each, and their failure record in the DLQ', async () => {
    const root = mkdtempSync(join(tmpdir(), 'kisflow-dev-buckets-'));
    roots.push(root);
    const stack = await start(root);
    const kinesis = createKinesisClient({ endpoint: stack.kinesisEndpoint });
    const { sqs } = createAwsClients({ sqsEndpoint: stack.sqsEndpoint });
    try {
      await kinesis.send(
        new PutRecordsCommand({
          StreamName: 'dev-counted',
          Records: [
            { Data: Buffer.from('{"i": 200, "always_down": true}'), PartitionKey: 'z' },
            { Data: Buffer.from('{"i": 201}'), PartitionKey: 'y' },
          ],
        }),
      );
      const output = stack.resources.flows.flaky?.outputQueue as string;
      expect(await outputRows(sqs, output, 1)).toEqual([201]);
      const dlq = stack.resources.flows.flaky?.stepDeadLetterQueues[0] as string;
      const dead = [];
      const deadline = Date.now() + 20_000;
      while (dead.length === 0 && Date.now() < deadline) {
        const got = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: dlq,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 1,
            MessageAttributeNames: ['All'],
          }),
        );
        dead.push(...(got.Messages ?? []));
      }
      // max_retries 3: the first attempt and three retries, then the batch from the failed record on.
      expect(
        dead.map((m) => [
          m.MessageAttributes?.['kisflow.error.code']?.StringValue,
          JSON.parse(m.Body as string).requestContext.approximateInvokeCount,
        ]),
      ).toEqual([['RETRIES_EXHAUSTED', 4]]);
      // 201 was done on its first attempt; handed over again behind 200, it keeps its count.
      expect(await stepZero(stack)).toEqual({ batches: 2, in: 2, out: 1, deadLettered: 1 });
    } finally {
      kinesis.destroy();
      sqs.destroy();
      await stack.stop();
    }
  });
});
