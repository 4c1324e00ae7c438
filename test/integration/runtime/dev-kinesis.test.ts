import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { KinesisStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../../kisflow/aws/clients.ts';
import { loadProject } from '../../../kisflow/config/index.ts';
import type { FlowSpec, KinesisSourceSpec, ProjectConfig } from '../../../kisflow/config/model.ts';
import { type DevStack, type DevStackOptions, startDevStack } from '../../../kisflow/local/dev-stack.ts';
import { createKinesisClient } from '../../../kisflow/local/kinesis-client.ts';
import { DEAD_LETTER_ATTRIBUTES } from '../../../kisflow/wire/dead-letter-record.ts';
import { decodeEnvelope } from '../../../kisflow/wire/envelope.ts';
import { FIXTURE_ROOT, waitFor } from './harness.ts';

const STREAM_ARN = 'arn:aws:kinesis:us-east-1:123456789012:stream/dev-orders';
const POISON = 7;
const roots: string[] = [];
let project: ProjectConfig;

/** The fixture project with its `flaky` flow fed by a Kinesis stream (what lane S's YAML parses to). */
beforeAll(async () => {
  const base = await loadProject(join(FIXTURE_ROOT, 'flows'), { root: FIXTURE_ROOT });
  const flaky = base.flows.get('flaky') as FlowSpec;
  const fed: FlowSpec = {
    ...flaky,
    source: {
      kinesis: {
        streamArn: STREAM_ARN,
        startingPosition: 'trim_horizon',
        batchSize: 5,
        bisectOnError: true,
        maxRetries: 0,
      },
    },
  };
  project = { ...base, flows: new Map([['flaky', fed]]), jobs: new Map() };
});

afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

const index = (r: KinesisStreamEvent['Records'][number]): number =>
  (JSON.parse(Buffer.from(r.kinesis.data, 'base64').toString()) as { i: number }).i;

function start(root: string, seen: number[], extra: Partial<DevStackOptions> = {}): Promise<DevStack> {
  return startDevStack({
    dir: 'flows',
    root,
    project,
    isolation: 'in-process',
    logLevel: 'SILENT',
    kinesisIdlePollMs: 50,
    kinesisHandler: () => async (event) => {
      const indexes = event.Records.map(index);
      if (indexes.includes(POISON)) throw new Error(`record ${POISON} cannot be decoded`);
      seen.push(...indexes);
    },
    ...extra,
  });
}

/** The rows at the output once `n` arrived, then one more empty read: a duplicate would show. */
async function outputRows(sqs: SQSClient, output: string, n: number): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  const deadline = Date.now() + 30_000;
  for (let empty = 0; empty < 1 || rows.length < n; ) {
    if (Date.now() > deadline) throw new Error(`timed out with ${rows.length} rows at the output`);
    const got = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: output, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    for (const m of got.Messages ?? []) rows.push(...decodeEnvelope(m.Body as string).rows);
    if (rows.length >= n && (got.Messages ?? []).length === 0) empty++;
  }
  return rows;
}

async function put(kinesis: KinesisClient, from: number, n: number): Promise<void> {
  await kinesis.send(
    new PutRecordsCommand({
      StreamName: 'dev-orders',
      Records: Array.from({ length: n }, (_, j) => ({
        Data: Buffer.from(JSON.stringify({ i: from + j })),
        PartitionKey: `k${(from + j) % 3}`,
      })),
    }),
  );
}

describe('kisflow dev with a Kinesis-fed flow', () => {
  it('creates the stream, feeds the flow, dead-letters the poison record alone, and resumes after a restart', async () => {
    const root = mkdtempSync(join(tmpdir(), 'kisflow-dev-kinesis-'));
    roots.push(root);
    const seen: number[] = [];
    let stack = await start(root, seen);
    const kinesis = createKinesisClient({ endpoint: stack.kinesisEndpoint });
    let sqs: SQSClient | undefined;
    try {
      await put(kinesis, 0, 20);
      await waitFor('the first 20 records', () => seen.length >= 19);
      expect([...seen].sort((a, b) => a - b)).toEqual(
        Array.from({ length: 20 }, (_, i) => i).filter((i) => i !== POISON),
      );
      expect(stack.iteratorAges.get('flaky')).toBeGreaterThanOrEqual(0);
      expect(stack.iteratorAges.renderPrometheus()).toMatch(
        /^kisflow_kinesis_iterator_age_ms\{flow="flaky",shard="shardId-000000000000"\} \d+$/m,
      );

      // The poison record is in the flow's DLQ (its first step's), with the reason.
      ({ sqs } = createAwsClients({ sqsEndpoint: stack.sqsEndpoint }));
      const dlq = stack.resources.flows.flaky?.stepDeadLetterQueues[0] as string;
      const got = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: dlq, MessageAttributeNames: ['All'], WaitTimeSeconds: 2 }),
      );
      expect(got.Messages).toHaveLength(1);
      const body = JSON.parse(got.Messages?.[0]?.Body ?? '{}');
      expect(body.KinesisBatchInfo).toMatchObject({ batchSize: 1, streamArn: STREAM_ARN });
      const attributes = got.Messages?.[0]?.MessageAttributes ?? {};
      expect(attributes[DEAD_LETTER_ATTRIBUTES.code]?.StringValue).toBe('RETRIES_EXHAUSTED');
      expect(attributes[DEAD_LETTER_ATTRIBUTES.message]?.StringValue).toContain('cannot be decoded');
      expect(attributes[DEAD_LETTER_ATTRIBUTES.flow]?.StringValue).toBe('flaky');

      // Stopped, records arrive; the next `kisflow dev` in the folder carries on from its checkpoint.
      kinesis.destroy();
      sqs.destroy();
      await stack.stop();
      expect(existsSync(join(root, '.kisflow', 'dev', 'kinesis-checkpoints.json'))).toBe(true);
      stack = await start(root, seen);
      const again = createKinesisClient({ endpoint: stack.kinesisEndpoint });
      try {
        await put(again, 20, 10);
        await waitFor('the 10 records put after the restart', () => seen.length >= 29);
        await new Promise((resolve) => setTimeout(resolve, 300));
      } finally {
        again.destroy();
      }
      expect([...seen].sort((a, b) => a - b)).toEqual(
        Array.from({ length: 30 }, (_, i) => i).filter((i) => i !== POISON),
      );
    } finally {
      kinesis.destroy();
      sqs?.destroy();
      await stack.stop();
    }
  });

  it("runs the flow's own source handler: records decoded into rows, retried after a failure, each row at the output once", async () => {
    const root = mkdtempSync(join(tmpdir(), 'kisflow-dev-kinesis-'));
    roots.push(root);
    // flaky_step fails the first attempt of each batch as a store outage would: the mapping retries.
    const flaky = project.flows.get('flaky') as FlowSpec;
    const retried: FlowSpec = {
      ...flaky,
      source: {
        kinesis: { ...(flaky.source?.kinesis as KinesisSourceSpec), maxRetries: 3, bisectOnError: false },
      },
    };
    const stack = await startDevStack({
      dir: 'flows',
      root,
      project: { ...project, flows: new Map([['flaky', retried]]) },
      isolation: 'in-process',
      logLevel: 'SILENT',
      kinesisIdlePollMs: 50,
    });
    const kinesis = createKinesisClient({ endpoint: stack.kinesisEndpoint });
    const { sqs } = createAwsClients({ sqsEndpoint: stack.sqsEndpoint });
    try {
      await put(kinesis, 100, 6);
      const rows = await outputRows(sqs, stack.resources.flows.flaky?.outputQueue as string, 6);
      expect(rows.map((r) => r.i).sort()).toEqual([100, 101, 102, 103, 104, 105]);
      expect(rows.every((r) => typeof r.topic === 'string')).toBe(true);
    } finally {
      kinesis.destroy();
      sqs.destroy();
      await stack.stop();
    }
  });

  it("in the flow's worker: a source function that exits fails only its batch; the mapping retries it and each row reaches the output once", async () => {
    const root = mkdtempSync(join(tmpdir(), 'kisflow-dev-kinesis-'));
    roots.push(root);
    const marker = join(root, 'exited');
    const flaky = project.flows.get('flaky') as FlowSpec;
    const exiting: FlowSpec = {
      ...flaky,
      steps: flaky.steps.map((s, i) =>
        i === 0 ? { ...s, params: { ...s.params, fail_times: 0, exit_marker: marker } } : s,
      ),
      source: {
        kinesis: { ...(flaky.source?.kinesis as KinesisSourceSpec), maxRetries: 3, bisectOnError: false },
      },
    };
    // Worker threads (the default isolation), as `kisflow dev` runs a project.
    const stack = await startDevStack({
      dir: 'flows',
      root,
      project: { ...project, flows: new Map([['flaky', exiting]]) },
      logLevel: 'SILENT',
      log: () => {},
      kinesisIdlePollMs: 50,
    });
    const kinesis = createKinesisClient({ endpoint: stack.kinesisEndpoint });
    const { sqs } = createAwsClients({ sqsEndpoint: stack.sqsEndpoint });
    try {
      await put(kinesis, 200, 4);
      const rows = await outputRows(sqs, stack.resources.flows.flaky?.outputQueue as string, 4);
      expect(existsSync(marker)).toBe(true);
      expect(rows.map((r) => r.i).sort()).toEqual([200, 201, 202, 203]);
    } finally {
      kinesis.destroy();
      sqs.destroy();
      await stack.stop();
    }
  });
});
