/**
 * The Lambda step handler over real SQS calls (fauxqs): what reaches the next queue or the DLQ,
 * with which reason. Messages are received from the queues and handed to the handler as Lambda's
 * event source mapping would.
 */
import { type Message, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { deleteMessages } from '../../../kisflow/aws/queue-messages.ts';
import type { ProjectConfig } from '../../../kisflow/config/model.ts';
import { defineFunction, type KisFunction } from '../../../kisflow/engine/function.ts';
import { createStepHandler } from '../../../kisflow/lambda/step-handler.ts';
import { MemoryMetrics } from '../../../kisflow/memory/metrics.ts';
import { DEAD_LETTER_ATTRIBUTES } from '../../../kisflow/wire/dead-letter-record.ts';
import { decodeEnvelope, encodeEnvelope } from '../../../kisflow/wire/envelope.ts';
import type { StepWiring } from '../../../kisflow/wire/step-wiring.ts';
import { createQueue, drain, useEmulators } from './harness.ts';

const ctx = useEmulators();

function project(maxHops?: number, fids: readonly string[] = ['loop', 'last']): ProjectConfig {
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
    funcs: new Map(fids.map((fid) => [fid, func(fid)])),
    flows: new Map([
      [
        'f',
        {
          flowId: 'f',
          flowName: 'f',
          enabled: true,
          steps: fids.map((fid) => ({ fid, params: {} })),
          tuning: {
            batchSize: 10,
            batchingWindowSeconds: 0,
            timeoutSeconds: 30,
            memoryMb: 256,
            maxMessageBytes: 262_144,
            ...(maxHops === undefined ? {} : { maxHops }),
          },
        },
      ],
    ]),
    conns: new Map(),
    jobs: new Map(),
    global: { prometheusEnable: false, prometheusListen: false, metricsNamespace: 'KisFlow' },
  };
}

async function receive(queueUrl: string): Promise<Message[]> {
  const out = await ctx.clients.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 0,
      MessageSystemAttributeNames: ['All'],
    }),
  );
  return out.Messages ?? [];
}

function event(messages: readonly Message[]): SQSEvent {
  return {
    Records: messages.map((m) => ({
      messageId: m.MessageId ?? '',
      receiptHandle: m.ReceiptHandle ?? '',
      body: m.Body ?? '',
      attributes: {
        ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1',
        SentTimestamp: '0',
        SenderId: 'x',
        ApproximateFirstReceiveTimestamp: '0',
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:q',
      awsRegion: 'us-east-1',
    })),
  };
}

const lambdaContext = { functionName: 'test', awsRequestId: 'r' } as Context;

async function setup(fn: KisFunction, opts: { maxHops?: number; wireNext?: boolean; byKey?: boolean } = {}) {
  const { sqs } = ctx.clients;
  const q0 = await createQueue(sqs);
  const q1 = await createQueue(sqs);
  const dlq = await createQueue(sqs);
  const wiring: StepWiring = {
    inputQueue: q0,
    stepQueues: opts.byKey ? { loop: q0, last: q1 } : opts.wireNext === false ? { 0: q0 } : { 0: q0, 1: q1 },
    deadLetterQueue: dlq,
    connectorTables: {},
    maxReceiveCount: 5,
    maxMessageBytes: 262_144,
    metricsNamespace: 'KisFlow',
  };
  const handler = createStepHandler({
    project: project(opts.maxHops),
    flowId: 'f',
    step: 0,
    fn,
    wiring,
    clients: ctx.clients,
    metrics: new MemoryMetrics(),
    logLevel: 'SILENT',
  });
  return { q0, q1, dlq, handler };
}

describe('step handler on SQS', () => {
  it('a function that jumps to itself is dead-lettered with HOP_LIMIT after max_hops, instead of looping', async () => {
    const loop = defineFunction((rows, c) => {
      for (const r of rows) c.commit(r);
      c.jumpTo('loop');
    });
    const { q0, dlq, handler } = await setup(loop, { maxHops: 4 });
    await ctx.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: q0,
        MessageBody: encodeEnvelope({
          flowId: 'f',
          step: 0,
          runId: 'r',
          batchId: 'b',
          rows: [{ id: 1 }],
          meta: {},
        }),
      }),
    );
    let invocations = 0;
    for (let i = 0; i < 20; i++) {
      const got = await receive(q0);
      if (got.length === 0) break;
      const out = await handler(event(got), lambdaContext);
      expect(out.batchItemFailures).toEqual([]);
      invocations++;
      await deleteMessages(ctx.clients.sqs, q0, got);
    }
    expect(invocations).toBe(4);
    const dead = await drain(ctx.clients.sqs, dlq);
    expect(dead).toHaveLength(1);
    expect(dead[0]?.MessageAttributes?.[DEAD_LETTER_ATTRIBUTES.code]?.StringValue).toBe('HOP_LIMIT');
    expect(JSON.parse(dead[0]?.Body ?? '{}')).toMatchObject({
      kind: 'rejected',
      rows: [{ code: 'HOP_LIMIT' }],
    });
  });

  it.each([
    ['by index', false],
    ['by step key', true],
  ])('sends the next batch with its step key and hop count (queues wired %s)', async (_, byKey) => {
    const { q0, q1, handler } = await setup(
      defineFunction((rows, c) => {
        for (const r of rows) c.commit(r);
      }),
      { byKey },
    );
    await ctx.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: q0,
        MessageBody: encodeEnvelope({
          flowId: 'f',
          step: 0,
          runId: 'r',
          batchId: 'b',
          rows: [{ id: 1 }],
          meta: {},
        }),
      }),
    );
    await handler(event(await receive(q0)), lambdaContext);
    const next = await drain(ctx.clients.sqs, q1);
    expect(next.map((m) => decodeEnvelope(m.Body ?? ''))).toMatchObject([
      { step: 1, stepKey: 'last', hops: 1, rows: [{ id: 1 }] },
    ]);
  });

  it('a destination missing from the wiring is dead-lettered at once with DESTINATION_NOT_WIRED, not retried', async () => {
    const { q0, dlq, handler } = await setup(
      defineFunction((rows, c) => {
        for (const r of rows) c.commit(r);
      }),
      { wireNext: false },
    );
    await ctx.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: q0,
        MessageBody: encodeEnvelope({
          flowId: 'f',
          step: 0,
          runId: 'r',
          batchId: 'b',
          rows: [{ id: 1 }],
          meta: {},
        }),
      }),
    );
    const got = await receive(q0);
    expect(got[0]?.Attributes?.ApproximateReceiveCount).toBe('1');
    const out = await handler(event(got), lambdaContext);
    expect(out.batchItemFailures).toEqual([]);
    const dead = await drain(ctx.clients.sqs, dlq);
    expect(dead.map((m) => m.MessageAttributes?.[DEAD_LETTER_ATTRIBUTES.code]?.StringValue)).toEqual([
      'DESTINATION_NOT_WIRED',
    ]);
    expect(dead[0]?.MessageAttributes?.[DEAD_LETTER_ATTRIBUTES.message]?.StringValue).toMatch(
      /may not send to step 1 \('last'\)/,
    );
  });

  it("stops a hanging function with the engine's TIMEOUT before Lambda's own, and dead-letters it with the reason", async () => {
    // The flow's timeout is 30 s; this invocation has 3 s left: the engine must stop at ~2.4 s.
    const { q0, dlq, handler } = await setup(defineFunction(() => new Promise<void>(() => {})));
    await ctx.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: q0,
        MessageBody: encodeEnvelope({
          flowId: 'f',
          step: 0,
          runId: 'r',
          batchId: 'b',
          rows: [{ id: 1 }],
          meta: {},
        }),
      }),
    );
    const got = await receive(q0);
    const started = Date.now();
    const out = await handler(event(got), { ...lambdaContext, getRemainingTimeInMillis: () => 3_000 });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(out.batchItemFailures).toEqual([]);
    const dead = await drain(ctx.clients.sqs, dlq);
    expect(dead.map((m) => m.MessageAttributes?.[DEAD_LETTER_ATTRIBUTES.code]?.StringValue)).toEqual([
      'TIMEOUT',
    ]);
  }, 10_000);

  it('refuses to start on a wiring that is not valid, naming the field', () => {
    expect(() =>
      createStepHandler({
        project: project(),
        flowId: 'f',
        step: 0,
        fn: defineFunction(() => {}),
        wiring: { deadLetterQueue: '' } as unknown as StepWiring,
        clients: ctx.clients,
        metrics: new MemoryMetrics(),
      }),
    ).toThrow(/WIRING|deadLetterQueue/);
  });

  it('a message in flight across a redeploy that inserted a step reaches its step, or is dead-lettered with the reason', async () => {
    const { sqs } = ctx.clients;
    const waiting = await createQueue(sqs);
    const dlq = await createQueue(sqs);
    // Sent by step 0 of the old flow [loop, last]: addressed to step 1, key 'last'.
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: waiting,
        MessageBody: encodeEnvelope({
          flowId: 'f',
          step: 1,
          stepKey: 'last',
          runId: 'r',
          batchId: 'b',
          hops: 1,
          rows: [{ id: 1 }],
          meta: {},
        }),
      }),
    );
    const seen: string[] = [];
    const recording = (name: string) =>
      defineFunction((rows, c) => {
        seen.push(name);
        for (const r of rows) c.commit(r);
      });
    // The new flow [loop, added, last]. If the queue is still read by the step now at index 1
    // ('added', queues named by index), that step refuses the message: it is dead-lettered.
    const wiring = (own: string): StepWiring => ({
      inputQueue: own,
      stepQueues: {},
      outputQueue: own,
      deadLetterQueue: dlq,
      connectorTables: {},
      maxReceiveCount: 5,
      maxMessageBytes: 262_144,
      metricsNamespace: 'KisFlow',
    });
    const newFlow = project(undefined, ['loop', 'added', 'last']);
    const added = createStepHandler({
      project: newFlow,
      flowId: 'f',
      step: 1,
      fn: recording('added'),
      wiring: wiring(waiting),
      clients: ctx.clients,
      metrics: new MemoryMetrics(),
      logLevel: 'SILENT',
    });
    await added(event(await receive(waiting)), lambdaContext);
    expect(seen).toEqual([]);
    const [dead] = await drain(sqs, dlq);
    expect(dead?.MessageAttributes?.[DEAD_LETTER_ATTRIBUTES.code]?.StringValue).toBe('WRONG_STEP');
    expect(dead?.MessageAttributes?.[DEAD_LETTER_ATTRIBUTES.message]?.StringValue).toMatch(
      /for step 'last' \(now step 2\) but reached the queue of step 'added' \(step 1\)/,
    );
    // Where the queue follows the step's key, the step 'last' (now index 2) runs it.
    await sqs.send(new SendMessageCommand({ QueueUrl: waiting, MessageBody: dead?.Body ?? '' }));
    const last = createStepHandler({
      project: newFlow,
      flowId: 'f',
      step: 2,
      fn: recording('last'),
      wiring: wiring(waiting),
      clients: ctx.clients,
      metrics: new MemoryMetrics(),
      logLevel: 'SILENT',
    });
    await last(event(await receive(waiting)), lambdaContext);
    expect(seen).toEqual(['last']);
    const out = await drain(sqs, waiting);
    expect(out.map((m) => decodeEnvelope(m.Body ?? '').rows)).toEqual([[{ id: 1 }]]);
  });
});
