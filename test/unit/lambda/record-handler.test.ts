import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { Delivery } from '../../../kisflow/engine/delivery.ts';
import { defineFunction, type KisFunction } from '../../../kisflow/engine/function.ts';
import { FlowPlan } from '../../../kisflow/engine/plan.ts';
import { Registry } from '../../../kisflow/engine/registry.ts';
import { StepRunner } from '../../../kisflow/engine/step-runner.ts';
import { InfrastructureError, StepError } from '../../../kisflow/errors.ts';
import { createRecordHandler, type RecordHandlerOptions } from '../../../kisflow/lambda/record-handler.ts';
import { streamCounter } from '../../../kisflow/lambda/stream-counts.ts';
import { MemoryMetrics } from '../../../kisflow/memory/metrics.ts';
import { MemoryTransport } from '../../../kisflow/memory/transport.ts';
import type { StepBatch } from '../../../kisflow/ports.ts';
import { MemoryRunLedger } from '../../../kisflow/runs/memory-run-ledger.ts';
import type { DeadLetterReason } from '../../../kisflow/wire/dead-letter-record.ts';
import { encodeEnvelope } from '../../../kisflow/wire/envelope.ts';
import { streamRunId } from '../../../kisflow/wire/stream-run.ts';
import { memoryDeps, project } from '../engine/project.ts';

/** An SQS record as Lambda's event source mapping delivers it. */
function sqsRecord(body: string, receiveCount = 1): SQSRecord {
  return {
    messageId: `m-${receiveCount}`,
    receiptHandle: `rh-${receiveCount}`,
    body,
    attributes: {
      ApproximateReceiveCount: String(receiveCount),
      SentTimestamp: '0',
      SenderId: 'test',
      ApproximateFirstReceiveTimestamp: '0',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-1:000000000000:q',
    awsRegion: 'eu-west-1',
  };
}

const batchFor = (over: Partial<StepBatch> = {}): StepBatch => ({
  flowId: 'f',
  step: 1,
  stepKey: 'b',
  runId: 'r',
  batchId: 'b1',
  rows: [{ id: 1 }],
  meta: {},
  ...over,
});

const pass = defineFunction((rows, ctx) => {
  for (const r of rows) ctx.commit(r);
});

/** Flow f = a, b, c; the handler runs step 1 (b) with `fn`, over a MemoryTransport. */
function setup(fn: KisFunction = pass, over: Partial<RecordHandlerOptions> = {}, maxHops?: number) {
  const proj = project({
    funcs: [{ fid: 'a' }, { fid: 'b' }, { fid: 'c' }],
    flows: [{ flowId: 'f', steps: ['a', 'b', 'c'] }],
  });
  const plan = FlowPlan.build(proj, 'f');
  const registry = new Registry().addFunction('b', fn);
  const runner = new StepRunner(plan, 1, registry, memoryDeps());
  const transport = new MemoryTransport();
  const deadLetters: Array<{ body: string; reason: DeadLetterReason }> = [];
  const delays: number[] = [];
  const warnings: string[] = [];
  const metrics = new MemoryMetrics();
  const handle = createRecordHandler({
    flowId: 'f',
    step: 1,
    fid: 'b',
    delivery: new Delivery(plan, transport, maxHops === undefined ? {} : { maxHops }),
    run: (batch) => runner.run(batch),
    deadLetter: async (record, reason) => {
      deadLetters.push({ body: record.body, reason });
    },
    delayRetry: async (_record, seconds) => {
      delays.push(seconds);
    },
    maxReceiveCount: 3,
    retryDurationMs: 1500,
    metrics,
    dimensions: { flow: 'f', step: '1-b' },
    log: {
      debug: () => {},
      info: () => {},
      warn: (message) => warnings.push(message),
      error: () => {},
    },
    ...over,
  });
  return { handle, transport, deadLetters, delays, warnings, metrics };
}

const failing = (error: Error) =>
  defineFunction(() => {
    throw error;
  });

describe('record handler', () => {
  it('success: runs the step and sends its rows to the next step with its key and hop count', async () => {
    const t = setup();
    await t.handle(sqsRecord(encodeEnvelope(batchFor())));
    const next = t.transport.take();
    expect(next).toMatchObject({ step: 2, stepKey: 'c', hops: 1, rows: [{ id: 1 }] });
    expect(t.deadLetters).toEqual([]);
    expect(t.metrics.counter('messages', { step: '1-b' })).toBe(1);
  });

  it('malformed: a body that is not an envelope is dead-lettered at once with its reason, never run', async () => {
    const t = setup(failing(new Error('must not run')));
    await t.handle(sqsRecord('not json'));
    expect(t.deadLetters).toHaveLength(1);
    expect(t.deadLetters[0]?.body).toBe('not json');
    expect(t.deadLetters[0]?.reason).toMatchObject({ code: 'MALFORMED_JSON', flow: 'f', step: 1, fid: 'b' });
    expect(t.metrics.counter('messages_dead_lettered', { step: '1-b' })).toBe(1);
  });

  it('permanent error: an error declaring itself not retryable is dead-lettered on the first receive', async () => {
    const t = setup(undefined, {
      run: () => Promise.reject(new StepError('ROWS_MUTATED', 'the function changed its input')),
    });
    await t.handle(sqsRecord(encodeEnvelope(batchFor()), 1));
    expect(t.deadLetters.map((d) => d.reason.code)).toEqual(['ROWS_MUTATED']);
    expect(t.delays).toEqual([]);
  });

  it('a per-throw override wins over the class default', async () => {
    const t = setup(undefined, {
      run: () =>
        Promise.reject(new InfrastructureError('STATE_TOO_LARGE', 'too big', {}, { retryable: false })),
    });
    await t.handle(sqsRecord(encodeEnvelope(batchFor()), 1));
    expect(t.deadLetters.map((d) => d.reason.code)).toEqual(['STATE_TOO_LARGE']);
  });

  it('transient error: the record fails with the retry delayed by retry_duration, doubled per receive', async () => {
    const error = new InfrastructureError('SQS_SEND_FAILED', 'throttled');
    const t = setup(undefined, { run: () => Promise.reject(error) });
    await expect(t.handle(sqsRecord(encodeEnvelope(batchFor()), 2))).rejects.toBe(error);
    // 1500 ms · 2^(2-1) = 3 s
    expect(t.delays).toEqual([3]);
    expect(t.deadLetters).toEqual([]);
    expect(t.metrics.counter('messages_retried', { step: '1-b' })).toBe(1);
  });

  it('an error that is no KisFlowError (an SDK timeout, a bug) is retried', async () => {
    const t = setup(undefined, { run: () => Promise.reject(new TypeError('socket hang up')) });
    await expect(t.handle(sqsRecord(encodeEnvelope(batchFor()), 1))).rejects.toThrow('socket hang up');
    expect(t.delays).toEqual([2]);
  });

  it('last receive: a transient error on receive maxReceiveCount is dead-lettered with its reason', async () => {
    const t = setup(undefined, {
      run: () => Promise.reject(new InfrastructureError('DYNAMODB_FAILED', 'table unavailable')),
    });
    await t.handle(sqsRecord(encodeEnvelope(batchFor()), 3));
    expect(t.deadLetters.map((d) => [d.reason.code, d.reason.message])).toEqual([
      ['DYNAMODB_FAILED', 'table unavailable'],
    ]);
    expect(t.delays).toEqual([]);
  });

  it('dead-letter send failing: the record fails, so SQS keeps the message and redelivers it', async () => {
    const t = setup(undefined, {
      deadLetter: () => Promise.reject(new InfrastructureError('SQS_SEND_FAILED', 'DLQ unreachable')),
    });
    await expect(t.handle(sqsRecord('not json'))).rejects.toThrow('DLQ unreachable');
    expect(t.metrics.counter('messages_dead_lettered', { step: '1-b' })).toBe(0);
  });

  it('visibility change failing: the record still fails with its own error; the queue timeout paces the retry', async () => {
    const error = new InfrastructureError('SQS_SEND_FAILED', 'throttled');
    const t = setup(undefined, {
      run: () => Promise.reject(error),
      delayRetry: () => Promise.reject(new Error('ReceiptHandleIsInvalid')),
    });
    await expect(t.handle(sqsRecord(encodeEnvelope(batchFor()), 1))).rejects.toBe(error);
    expect(t.warnings).toContain('could not delay the retry');
  });

  it('step key: a message for this step with an index from before a redeploy runs here', async () => {
    const t = setup();
    await t.handle(sqsRecord(encodeEnvelope(batchFor({ step: 4, stepKey: 'b' }))));
    expect(t.deadLetters).toEqual([]);
    expect(t.transport.take()).toMatchObject({ step: 2, stepKey: 'c' });
  });

  it('step key: a message for another step, or for a step the flow no longer has, is dead-lettered', async () => {
    const t = setup(failing(new Error('must not run')));
    await t.handle(sqsRecord(encodeEnvelope(batchFor({ step: 1, stepKey: 'c' }))));
    await t.handle(sqsRecord(encodeEnvelope(batchFor({ step: 1, stepKey: 'gone' }))));
    expect(t.deadLetters.map((d) => d.reason.code)).toEqual(['WRONG_STEP', 'UNKNOWN_STEP_KEY']);
    expect(t.deadLetters[1]?.reason.message).toMatch(/step 'gone', which flow 'f' no longer has/);
  });

  it('an envelope without a key (an older producer) is addressed by index', async () => {
    const t = setup();
    const { stepKey: _, ...old } = batchFor();
    await t.handle(sqsRecord(encodeEnvelope(old)));
    expect(t.transport.take()).toMatchObject({ step: 2 });
    await t.handle(sqsRecord(encodeEnvelope({ ...old, step: 0 })));
    expect(t.deadLetters.map((d) => d.reason.code)).toEqual(['BATCH_MISMATCH']);
  });

  it('hop limit: a self-jumping function stops at max_hops, its rows dead-lettered with HOP_LIMIT', async () => {
    const t = setup(
      defineFunction((rows, ctx) => {
        for (const r of rows) ctx.commit(r);
        ctx.jumpTo('b');
      }),
      {},
      10,
    );
    let body = encodeEnvelope(batchFor());
    let runs = 0;
    for (; runs < 100; runs++) {
      await t.handle(sqsRecord(body));
      const next = t.transport.take();
      if (next === undefined) break;
      body = encodeEnvelope(next);
    }
    expect(runs + 1).toBe(10);
    expect(t.transport.rejected.map((r) => [r.code, r.fid, r.row])).toEqual([['HOP_LIMIT', 'b', { id: 1 }]]);
    expect(t.transport.rejected[0]?.reason).toMatch(/run through 10 steps.*tuning\.max_hops: 10/);
  });

  it('jumpTo a fid the flow does not have: the rows are rejected with the reason, the message is not retried', async () => {
    const t = setup(
      defineFunction((rows, ctx) => {
        for (const r of rows) ctx.commit(r);
        ctx.jumpTo('nope');
      }),
    );
    await t.handle(sqsRecord(encodeEnvelope(batchFor()), 1));
    expect(t.transport.take()).toBeUndefined();
    expect(t.transport.rejected.map((r) => r.code)).toEqual(['UNKNOWN_JUMP_TARGET']);
    expect(t.transport.rejected[0]?.reason).toMatch(/flow 'f' has no step 'nope'/);
    expect(t.delays).toEqual([]);
    expect(t.deadLetters).toEqual([]);
  });

  it('stream batches: counted per step in their minute of arrival, a redelivery once, other runs never', async () => {
    const ledger = new MemoryRunLedger();
    const keepOdd = defineFunction((rows, ctx) => {
      for (const r of rows) {
        if ((r.id as number) % 2 === 1) ctx.commit(r);
        else ctx.reject(r, 'even ids are refused');
      }
    });
    const t = setup(keepOdd, { countStream: streamCounter(ledger) });
    const arrived = Date.parse('2026-12-03T12:14:31Z');
    const stream = batchFor({
      runId: streamRunId('kinesis', arrived),
      rows: [{ id: 1 }, { id: 2 }, { id: 3 }],
    });
    await t.handle(sqsRecord(encodeEnvelope(stream)));
    await t.handle(sqsRecord(encodeEnvelope(stream), 2));
    await t.handle(sqsRecord(encodeEnvelope({ ...stream, runId: 'r', batchId: 'b2' })));
    const buckets = await ledger.streamBuckets({
      flowId: 'f',
      granularity: 'minute',
      since: arrived - 3_600_000,
      until: arrived + 3_600_000,
    });
    expect(buckets).toEqual([
      expect.objectContaining({
        step: 1,
        start: Date.parse('2026-12-03T12:14:00Z'),
        batches: 1,
        in: 3,
        out: 2,
        rejected: 1,
      }),
    ]);
  });

  it('stream batches dead-lettered: counted once as dead letters', async () => {
    const ledger = new MemoryRunLedger();
    const t = setup(undefined, {
      run: () => Promise.reject(new StepError('ROWS_MUTATED', 'the function changed its input')),
      countStream: streamCounter(ledger),
    });
    const arrived = Date.parse('2026-12-03T12:14:31Z');
    const stream = batchFor({ runId: streamRunId('kafka', arrived), rows: [{ id: 1 }, { id: 2 }] });
    await t.handle(sqsRecord(encodeEnvelope(stream)));
    await t.handle(sqsRecord(encodeEnvelope(stream)));
    expect(t.deadLetters).toHaveLength(2);
    const [bucket] = await ledger.streamBuckets({
      flowId: 'f',
      granularity: 'hour',
      since: 0,
      until: arrived + 1,
    });
    expect(bucket).toMatchObject({ step: 1, batches: 1, in: 2, deadLettered: 2, out: 0 });
  });

  it('a stream count that fails is logged, and the batch is done all the same (a stream never stalls on it)', async () => {
    const t = setup(undefined, {
      countStream: () => Promise.reject(new Error('ItemCollectionSizeLimitExceeded')),
    });
    const stream = batchFor({ runId: streamRunId('kinesis', Date.parse('2026-12-03T12:14:31Z')) });
    await t.handle(sqsRecord(encodeEnvelope(stream)));
    expect(t.transport.take()).toMatchObject({ step: 2, rows: [{ id: 1 }] });
    expect(t.deadLetters).toEqual([]);
    expect(t.warnings).toEqual(['stream batch not counted']);
  });
});
