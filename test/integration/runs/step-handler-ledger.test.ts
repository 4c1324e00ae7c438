/**
 * Runs recorded by the Lambda step handler, over fauxqs (SQS) and dynalite (the runs table): the
 * one delivery path records each batch before its children are sent, idempotently by batch id.
 */
import { type Message, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { Context, SQSEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { DynamoRunLedger } from '../../../kisflow/aws/dynamodb-run-ledger.ts';
import { deleteMessages } from '../../../kisflow/aws/queue-messages.ts';
import { ensureTable } from '../../../kisflow/aws/tables.ts';
import type { ProjectConfig } from '../../../kisflow/config/model.ts';
import { defineFunction, type KisFunction } from '../../../kisflow/engine/function.ts';
import { createStepHandler, type StepHandler } from '../../../kisflow/lambda/step-handler.ts';
import { MemoryMetrics } from '../../../kisflow/memory/metrics.ts';
import { encodeEnvelope } from '../../../kisflow/wire/envelope.ts';
import type { StepWiring } from '../../../kisflow/wire/step-wiring.ts';
import { createQueue, drain, useEmulators } from '../aws/harness.ts';

const ctx = useEmulators();
const lambdaContext = { functionName: 'test', awsRequestId: 'r', memoryLimitInMB: '1024' } as Context;

function project(fids: readonly string[]): ProjectConfig {
  return {
    root: process.cwd(),
    funcs: new Map(
      fids.map((fid) => [
        fid,
        {
          fid,
          fname: fid,
          fmode: 'Calculate' as const,
          source: { must: [] },
          retryTimes: 0,
          retryDurationMs: 0,
          defaultParams: {},
          handler: `functions/${fid}.ts`,
        },
      ]),
    ),
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
          },
        },
      ],
    ]),
    conns: new Map(),
    jobs: new Map(),
    global: { prometheusEnable: false, prometheusListen: false, metricsNamespace: 'KisFlow' },
  };
}

function event(messages: readonly Message[], receiveCount = '1'): SQSEvent {
  return {
    Records: messages.map((m) => ({
      messageId: m.MessageId ?? '',
      receiptHandle: m.ReceiptHandle ?? '',
      body: m.Body ?? '',
      attributes: {
        ApproximateReceiveCount: receiveCount,
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

async function receive(queueUrl: string): Promise<Message[]> {
  const out = await ctx.clients.sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
  );
  return out.Messages ?? [];
}

let tables = 0;
async function setup(fns: readonly [KisFunction, KisFunction], maxMessageBytes = 262_144, wireNext = true) {
  const { sqs, dynamodb } = ctx.clients;
  const runsTable = `runs-${process.pid}-${tables++}`;
  await ensureTable(dynamodb, runsTable, { ttlAttribute: 'ttl' });
  const queues = [await createQueue(sqs), await createQueue(sqs)];
  const out = await createQueue(sqs);
  const dlqs = [await createQueue(sqs), await createQueue(sqs)];
  const handlers: StepHandler[] = fns.map((fn, step) => {
    const wiring: StepWiring = {
      inputQueue: queues[step] as string,
      stepQueues: wireNext ? { 0: queues[0] as string, 1: queues[1] as string } : { 0: queues[0] as string },
      outputQueue: out,
      deadLetterQueue: dlqs[step] as string,
      connectorTables: {},
      runsTable,
      maxReceiveCount: 3,
      maxMessageBytes,
      metricsNamespace: 'KisFlow',
    };
    return createStepHandler({
      project: project(['a', 'b']),
      flowId: 'f',
      step,
      fn,
      wiring,
      clients: ctx.clients,
      metrics: new MemoryMetrics(),
      logLevel: 'SILENT',
    });
  });
  const ledger = new DynamoRunLedger({ dynamodb, tableName: runsTable });
  const send = (runId: string, rows: unknown[]) =>
    sqs.send(
      new SendMessageCommand({
        QueueUrl: queues[0],
        MessageBody: encodeEnvelope({
          flowId: 'f',
          step: 0,
          runId,
          batchId: `${runId}#0`,
          rows,
          meta: {},
        } as never),
      }),
    );
  /** Runs step `step` on what is in its queue; `keep` leaves the messages there (a crash before delete). */
  let last: Message[] = [];
  const pump = async (step: number, keep = false, receiveCount = '1', again = false) => {
    const got = again ? last : await receive(queues[step] as string);
    last = got;
    if (got.length > 0) await (handlers[step] as StepHandler)(event(got, receiveCount), lambdaContext);
    if (!keep) await deleteMessages(sqs, queues[step] as string, got);
    return got.length;
  };
  return { ledger, send, pump, out, dlqs, queues };
}

const pass = defineFunction((rows, c) => {
  for (const r of rows) c.commit(r);
});

describe('runs recorded by the step handler', () => {
  it('a run through two steps ends with per-step counters, and a redelivered batch counts once', async () => {
    const reject = defineFunction((rows, c) => {
      for (const r of rows) {
        if ((r as { id: number }).id === 2) c.reject(r, 'two is bad');
        else c.commit(r);
      }
    });
    const { ledger, send, pump } = await setup([reject, pass]);
    await ledger.start({ runId: 'r1', flowId: 'f', trigger: 'api', roots: 1 });
    await send('r1', [{ id: 1 }, { id: 2 }, { id: 3 }]);
    // Delivered twice (the first invocation "crashed" before deleting): same batch ids, counted once.
    expect(await pump(0, true)).toBe(1);
    await pump(0, false, '2', true);
    expect(await ledger.status('r1')).toBe('running');
    expect(await pump(1)).toBe(2);
    const run = await ledger.get('r1');
    expect(run?.status).toBe('partial');
    expect(run?.steps.map((s) => ({ index: s.index, in: s.in, out: s.out, rejected: s.rejected }))).toEqual([
      { index: 0, in: 3, out: 2, rejected: 1 },
      { index: 1, in: 2, out: 2, rejected: 0 },
    ]);
    expect(run?.batches).toMatchObject({ roots: 1, spawned: 1, done: 2 });
    // What it cost, counted once per batch: step 0's invocation of one record (its message's send,
    // receive and delete), step 1's of two (the same batch twice: half of each counts).
    expect(run?.usage.lambdaInvocations).toBeCloseTo(1.5, 5);
    expect(run?.usage.sqsRequests).toBeCloseTo(3 + 2, 5);
    expect(run?.usage.lambdaGbSeconds).toBeGreaterThan(0);
    expect(run?.usage.dynamodbWriteUnits).toBeGreaterThanOrEqual(1);
  });

  it('counts every message a large batch is packed into as a child', async () => {
    const { ledger, send, pump } = await setup([pass, pass], 1024);
    await ledger.start({ runId: 'r2', flowId: 'f', trigger: 'api', roots: 1 });
    await send(
      'r2',
      Array.from({ length: 40 }, (_, id) => ({ id, pad: 'x'.repeat(60) })),
    );
    await pump(0);
    const spawned = (await ledger.get('r2'))?.batches.spawned ?? 0;
    expect(spawned).toBeGreaterThan(1);
    for (let i = 0; i < 10 && (await pump(1)) > 0; i++);
    const run = await ledger.get('r2');
    expect(run?.status).toBe('succeeded');
    expect(run?.batches.done).toBe(1 + spawned);
    expect(run?.steps[1]).toMatchObject({ in: 40, out: 40 });
  });

  it('a batch whose children cannot be sent is dead-lettered and the run still completes', async () => {
    // Step 1's queue is not wired: the send fails permanently after the completion was recorded.
    const { ledger, send, pump, dlqs } = await setup([pass, pass], 262_144, false);
    await ledger.start({ runId: 'r3', flowId: 'f', trigger: 'api', roots: 1 });
    await send('r3', [{ id: 1 }, { id: 2 }]);
    await pump(0);
    const run = await ledger.get('r3');
    // Step 0's one child was to carry its completion, and was never sent: the batch is dead-lettered
    // whole, nothing got through (failed), and the run is finished, never left running.
    expect(run?.status).toBe('failed');
    expect(run?.finished).toBeDefined();
    expect(run?.batches).toMatchObject({ roots: 1, spawned: 0, done: 1, deadLettered: 1 });
    expect(run?.steps[0]).toMatchObject({ in: 2, out: 0, deadLettered: 2 });
    expect(await drain(ctx.clients.sqs, dlqs[0] as string)).toHaveLength(1);
  });

  it("drops a cancelled run's remaining batches, counted as dropped, without running them", async () => {
    let ran = 0;
    const counting = defineFunction((rows, c) => {
      ran++;
      for (const r of rows) c.commit(r);
    });
    const { ledger, send, pump, queues } = await setup([pass, counting]);
    await ledger.start({ runId: 'r4', flowId: 'f', trigger: 'api', roots: 1 });
    await send('r4', [{ id: 1 }]);
    await pump(0);
    expect(await ledger.cancel('r4', 'stop')).toBe(true);
    await pump(1);
    expect(ran).toBe(0);
    expect(await receive(queues[1] as string)).toHaveLength(0);
    const run = await ledger.get('r4');
    expect(run?.status).toBe('cancelled');
    expect(run?.steps[1]).toMatchObject({ in: 1, dropped: 1 });
  });
});
