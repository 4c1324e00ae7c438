/**
 * The first step's source handler over real SQS (fauxqs): Kinesis, Kafka and DynamoDB stream
 * events from recorded fixtures, decoded and run through step 0; what reaches the next queue and
 * the DLQ (with which reason), and which records the partial batch response names.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KinesisStreamBatchResponse, KinesisStreamEvent, SelfManagedKafkaEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { FlowSourceSpec, ProjectConfig } from '../../../kisflow/config/model.ts';
import { defineFunction, type KisFunction } from '../../../kisflow/engine/function.ts';
import { InfrastructureError } from '../../../kisflow/errors.ts';
import { createSourceHandler, type KinesisSourceHandler } from '../../../kisflow/lambda/source-handler.ts';
import { MemoryMetrics } from '../../../kisflow/memory/metrics.ts';
import { DEAD_LETTER_ATTRIBUTES } from '../../../kisflow/wire/dead-letter-record.ts';
import { decodeEnvelope } from '../../../kisflow/wire/envelope.ts';
import type { StepWiring } from '../../../kisflow/wire/step-wiring.ts';
import { createQueue, drain, useEmulators } from './harness.ts';

const ctx = useEmulators();

const fixture = (name: string) =>
  JSON.parse(readFileSync(join(import.meta.dirname, '../../fixtures/sources', name), 'utf8'));

function project(source: FlowSourceSpec): ProjectConfig {
  const func = (fid: string) => ({
    fid,
    fname: fid,
    fmode: 'Calculate' as const,
    source: { must: [] },
    retryTimes: 0,
    retryDurationMs: 0,
    defaultParams: {},
    handler: `functions/${fid}.ts`,
  });
  return {
    root: process.cwd(),
    funcs: new Map([
      ['first', func('first')],
      ['last', func('last')],
    ]),
    flows: new Map([
      [
        'f',
        {
          flowId: 'f',
          flowName: 'f',
          enabled: true,
          steps: [
            { fid: 'first', params: {} },
            { fid: 'last', params: {} },
          ],
          tuning: {
            batchSize: 10,
            batchingWindowSeconds: 0,
            timeoutSeconds: 30,
            memoryMb: 256,
            maxMessageBytes: 262_144,
          },
          source,
        },
      ],
    ]),
    conns: new Map(),
    jobs: new Map(),
    global: { prometheusEnable: false, prometheusListen: false, metricsNamespace: 'KisFlow' },
  };
}

const KINESIS: FlowSourceSpec = {
  kinesis: {
    streamArn: 'arn:aws:kinesis:us-east-1:123456789012:stream/orders',
    startingPosition: 'trim_horizon',
  },
};

async function setup(fn: KisFunction, source: FlowSourceSpec = KINESIS) {
  const { sqs } = ctx.clients;
  const q0 = await createQueue(sqs);
  const q1 = await createQueue(sqs);
  const dlq = await createQueue(sqs);
  const wiring: StepWiring = {
    inputQueue: q0,
    stepQueues: { 0: q0, 1: q1 },
    deadLetterQueue: dlq,
    connectorTables: {},
    maxReceiveCount: 5,
    maxMessageBytes: 262_144,
    metricsNamespace: 'KisFlow',
  };
  const metrics = new MemoryMetrics();
  const handler = createSourceHandler({
    project: project(source),
    flowId: 'f',
    fn,
    wiring,
    clients: ctx.clients,
    metrics,
    logLevel: 'SILENT',
  });
  return { q1, dlq, handler, metrics };
}

const pass = defineFunction((rows, c) => {
  for (const row of rows) c.commit(row);
});

describe('source handler', () => {
  it('is a Kinesis handler: rows reach the next step with their record meta; the undecodable record is dead-lettered with its reason, alone', async () => {
    const { q1, dlq, handler } = await setup(pass);
    const kinesis: KinesisSourceHandler = handler;
    const event: KinesisStreamEvent = fixture('kinesis-orders.json');
    const response: KinesisStreamBatchResponse = await kinesis(event);
    expect(response).toEqual({ batchItemFailures: [] });

    const next = (await drain(ctx.clients.sqs, q1)).map((m) => decodeEnvelope(m.Body ?? ''));
    expect(
      next.flatMap((b) => b.rows).sort((a, b) => String(a.order_id).localeCompare(String(b.order_id))),
    ).toEqual([
      { order_id: 'o-1', user_id: 'u1', price: 10, qty: 2 },
      { order_id: 'o-2', user_id: 'u2', price: 5, qty: 1 },
    ]);
    expect(next.find((b) => b.rows[0]?.order_id === 'o-1')?.meta).toMatchObject({
      source: 'kinesis',
      partition_key: 'o-1',
      shard: 'shardId-000000000000',
      sequence: '49590338271490256608559692538361571095921575989136588801',
    });

    const dead = await drain(ctx.clients.sqs, dlq);
    expect(dead).toHaveLength(1);
    expect(dead[0]?.MessageAttributes?.[DEAD_LETTER_ATTRIBUTES.code]?.StringValue).toBe('SOURCE_NOT_JSON');
    expect(JSON.parse(dead[0]?.Body ?? '{}').kinesis.sequenceNumber).toBe(
      '49590338271490256608559692538361571095921575989136588803',
    );
  });

  it("names a failing row's record, and every later record of its key, in batchItemFailures; other keys go on", async () => {
    let attempts = 0;
    const flaky = defineFunction((rows, c) => {
      for (const row of rows) {
        if (row.order_id === 'o-2' && row.qty === 1) {
          attempts++;
          throw new InfrastructureError('FLAKY', 'the database is busy');
        }
        c.commit(row);
      }
    });
    const { q1, dlq, handler } = await setup(flaky);
    const base: KinesisStreamEvent = fixture('kinesis-orders.json');
    const [r1, r2] = base.Records;
    // A second record of key o-2 after the failing one: it must not run ahead of it.
    const later = {
      ...r2,
      kinesis: {
        ...r2?.kinesis,
        sequenceNumber: '49590338271490256608559692538361571095921575989136588809',
        data: Buffer.from(JSON.stringify({ order_id: 'o-2', qty: 5 })).toString('base64'),
      },
    };
    const response = await handler({ Records: [r1, r2, later] } as KinesisStreamEvent);
    expect(attempts).toBe(1);
    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual([
      '49590338271490256608559692538361571095921575989136588802',
      '49590338271490256608559692538361571095921575989136588809',
    ]);
    const next = (await drain(ctx.clients.sqs, q1)).flatMap((m) => decodeEnvelope(m.Body ?? '').rows);
    expect(next).toEqual([{ order_id: 'o-1', user_id: 'u1', price: 10, qty: 2 }]);
    expect(await drain(ctx.clients.sqs, dlq)).toEqual([]);
  });

  it('rejects a row the function fails on for good, with the reason, and moves past its record', async () => {
    const broken = defineFunction(() => {
      throw new TypeError('row.total is undefined');
    });
    const { dlq, handler } = await setup(broken);
    const base: KinesisStreamEvent = fixture('kinesis-orders.json');
    const response = await handler({ Records: base.Records.slice(0, 1) } as KinesisStreamEvent);
    // A TypeError is the function's bug: retrying cannot help, so the row is rejected to the DLQ.
    expect(response).toEqual({ batchItemFailures: [] });
    const dead = await drain(ctx.clients.sqs, dlq);
    expect(dead).toHaveLength(1);
    expect(JSON.parse(dead[0]?.Body ?? '{}').rows).toEqual([
      expect.objectContaining({
        code: 'FUNCTION_ERROR',
        reason: 'row.total is undefined',
        row: { order_id: 'o-1', user_id: 'u1', price: 10, qty: 2 },
      }),
    ]);
  });

  it('decodes Debezium on Kafka: changes reach the next step, the tombstone is skipped and counted, the bad envelope is dead-lettered', async () => {
    const { q1, dlq, handler, metrics } = await setup(pass, {
      kafka: {
        mskClusterArn:
          'arn:aws:kafka:us-east-1:123456789012:cluster/biz/0b1c2d3e-1111-2222-3333-444455556666-1',
        topic: 'orders',
        consumerGroup: 'kisflow-f',
        format: 'debezium',
        startingPosition: 'trim_horizon',
      },
    });
    expect(await handler(fixture('kafka-debezium.json'))).toEqual({ batchItemFailures: [] });
    const rows = (await drain(ctx.clients.sqs, q1)).flatMap((m) => decodeEnvelope(m.Body ?? '').rows);
    expect(rows.map((r) => r.op).sort()).toEqual(['delete', 'insert', 'snapshot', 'update']);
    const dead = await drain(ctx.clients.sqs, dlq);
    expect(dead.map((m) => m.MessageAttributes?.[DEAD_LETTER_ATTRIBUTES.code]?.StringValue)).toEqual([
      'DEBEZIUM_BAD_ENVELOPE',
    ]);
    expect(metrics.counter('source_records_skipped')).toBe(1);
  });

  it('throws a Kafka batch with a failed record when the mapping is not provisioned (no partial responses), for Lambda to retry it whole', async () => {
    const failing = defineFunction(() => {
      throw new InfrastructureError('DOWN', 'downstream is down');
    });
    const { handler } = await setup(failing, {
      kafka: {
        bootstrapServers: ['b-1:9096'],
        secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:k',
        topic: 'orders',
        consumerGroup: 'g',
        startingPosition: 'latest',
      },
    });
    await expect(handler(fixture('kafka-orders.json'))).rejects.toMatchObject({ code: 'SOURCE_BATCH_RETRY' });
  });

  it('answers a provisioned Kafka mapping by topic-partition and offset: a failed partition resumes at its first failure, the others go on', async () => {
    const failing = defineFunction((rows, c) => {
      for (const row of rows) {
        if (row.order_id === 'o-2') throw new InfrastructureError('DOWN', 'downstream is down');
        c.commit(row);
      }
    });
    const { q1, handler } = await setup(failing, {
      kafka: {
        bootstrapServers: ['b-1:9096'],
        secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:k',
        topic: 'orders',
        consumerGroup: 'g',
        startingPosition: 'latest',
        provisionedPollers: { minimum: 1, maximum: 2 },
      },
    });
    const record = (partition: number, offset: number, row: object) => ({
      topic: 'orders',
      partition,
      offset,
      timestamp: 1767225600000 + offset,
      timestampType: 'CREATE_TIME' as const,
      key: Buffer.from(`k${partition}`).toString('base64'),
      value: Buffer.from(JSON.stringify(row)).toString('base64'),
      headers: [],
    });
    const event: SelfManagedKafkaEvent = {
      eventSource: 'SelfManagedKafka',
      bootstrapServers: 'b-1:9096',
      records: {
        'orders-0': [
          record(0, 40, { order_id: 'o-1' }),
          record(0, 41, { order_id: 'o-2' }),
          record(0, 42, { order_id: 'o-3' }),
        ],
        'orders-1': [record(1, 7, { order_id: 'o-4' })],
      },
    };
    expect(await handler(event)).toEqual({
      batchItemFailures: [
        { itemIdentifier: { partition: 'orders-0', offset: 41 } },
        { itemIdentifier: { partition: 'orders-0', offset: 42 } },
      ],
    });
    // o-3 waits for o-2: a partition's records are never applied out of order.
    const rows = (await drain(ctx.clients.sqs, q1)).flatMap((m) => decodeEnvelope(m.Body ?? '').rows);
    expect(rows.map((r) => r.order_id).sort()).toEqual(['o-1', 'o-4']);
  });

  it('decodes DynamoDB stream images into change rows', async () => {
    const { q1, dlq, handler } = await setup(pass, {
      dynamodbStream: {
        streamArn: 'arn:aws:dynamodb:us-east-1:123456789012:table/customers/stream/2026-01-01T00:00:00.000',
        startingPosition: 'trim_horizon',
      },
    });
    expect(await handler(fixture('dynamodb-customers.json'))).toEqual({ batchItemFailures: [] });
    const rows = (await drain(ctx.clients.sqs, q1)).flatMap((m) => decodeEnvelope(m.Body ?? '').rows);
    expect(rows.map((r) => r.op)).toEqual(['insert', 'update', 'delete']);
    expect(
      (await drain(ctx.clients.sqs, dlq)).map(
        (m) => m.MessageAttributes?.[DEAD_LETTER_ATTRIBUTES.code]?.StringValue,
      ),
    ).toEqual(['DYNAMODB_BAD_IMAGE']);
  });
  it("tells an existing queue's messages (rows) from the step's own queue's (envelopes)", async () => {
    const source = 'arn:aws:sqs:us-east-1:123456789012:orders-in';
    const { q1, dlq, handler } = await setup(pass, { sqs: { queueArn: source } });
    const message = (id: string, body: string, arn: string) => ({
      messageId: id,
      receiptHandle: '',
      body,
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: '0',
        SenderId: 'x',
        ApproximateFirstReceiveTimestamp: '0',
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: arn,
      awsRegion: 'us-east-1',
    });
    const fromSource = await handler({
      Records: [message('m1', '{"order_id":"o-9"}', source), message('m2', 'not json', source)],
    });
    expect(fromSource).toEqual({ batchItemFailures: [] });
    expect((await drain(ctx.clients.sqs, q1)).flatMap((m) => decodeEnvelope(m.Body ?? '').rows)).toEqual([
      { order_id: 'o-9' },
    ]);
    expect(await drain(ctx.clients.sqs, dlq)).toHaveLength(1);
    // The step's own queue carries envelopes: a row body there is not one, and is dead-lettered as such.
    const own = await handler({
      Records: [message('m3', '{"order_id":"o-9"}', 'arn:aws:sqs:us-east-1:000000000000:own')],
    });
    expect(own).toEqual({ batchItemFailures: [] });
    const dead = await drain(ctx.clients.sqs, dlq);
    expect(dead[0]?.MessageAttributes?.[DEAD_LETTER_ATTRIBUTES.code]?.StringValue).toBe('INVALID_ENVELOPE');
  });
});
