import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import {
  deadLetterMessage,
  listDeadLetters,
  RETRIES_EXHAUSTED,
  redrive,
} from '../../../kisflow/aws/dead-letters.ts';
import { SqsTransport } from '../../../kisflow/aws/sqs-transport.ts';
import type { RejectedRow, StepBatch } from '../../../kisflow/ports.ts';
import { childBatchId, redriveBatchId } from '../../../kisflow/wire/batch-id.ts';
import { decodeEnvelope, encodeEnvelope } from '../../../kisflow/wire/envelope.ts';
import { createQueue, drain, useEmulators } from './harness.ts';

const ctx = useEmulators();

const batch: StepBatch = {
  flowId: 'orders',
  step: 2,
  runId: 'run-1',
  batchId: 'batch-1',
  rows: [{ id: 1 }, { id: 2 }, { id: 3 }],
  meta: { tenant: 't' },
};
const rejected: RejectedRow[] = [
  {
    flowId: 'orders',
    step: 2,
    fid: 'price',
    code: 'FUNCTION_ERROR',
    reason: 'price is not a number',
    row: { id: 2 },
  },
  {
    flowId: 'orders',
    step: 2,
    fid: 'price',
    code: 'FUNCTION_ERROR',
    reason: 'price is not a number',
    row: { id: 3 },
  },
];

/** A DLQ holding the three kinds of dead letters, and the step queues they came from. */
async function deadLetterQueue() {
  const dlq = await createQueue(ctx.clients.sqs);
  const steps = [
    await createQueue(ctx.clients.sqs),
    await createQueue(ctx.clients.sqs),
    await createQueue(ctx.clients.sqs),
  ];
  const transport = new SqsTransport({ sqs: ctx.clients.sqs, queueUrl: () => dlq });
  await transport.reject({ kind: 'rejected', flowId: 'orders', step: 2 }, rejected, batch);
  const verbatim = encodeEnvelope({ ...batch, step: 1, batchId: 'batch-0' });
  await deadLetterMessage(ctx.clients.sqs, dlq, verbatim, {
    code: 'STATE_CONFLICT',
    message: 'state changed under the batch',
    flow: 'orders',
    step: 1,
    fid: 'save',
  });
  await deadLetterMessage(ctx.clients.sqs, dlq, 'not json at all', {
    code: 'MALFORMED_JSON',
    message: 'not JSON',
  });
  // What SQS's own redrive moves: the body only, no KisFlow attributes.
  await ctx.clients.sqs.send(
    new SendMessageCommand({ QueueUrl: dlq, MessageBody: encodeEnvelope({ ...batch, step: 0 }) }),
  );
  return { dlq, steps, verbatim };
}

describe('listDeadLetters', () => {
  it('reads every dead letter with its reason, without consuming them', async () => {
    const { dlq } = await deadLetterQueue();
    const listed = await listDeadLetters(ctx.clients.sqs, dlq);
    expect(listed).toHaveLength(4);
    const byCode = Object.fromEntries(listed.map((d) => [d.code, d]));
    expect(byCode.FUNCTION_ERROR).toMatchObject({ step: 2, fid: 'price', rows: 2, receivedCount: 0 });
    expect(byCode.FUNCTION_ERROR?.message).toContain('2 rows rejected');
    expect(byCode.STATE_CONFLICT).toMatchObject({
      step: 1,
      fid: 'save',
      rows: 3,
      message: 'state changed under the batch',
    });
    expect(byCode.MALFORMED_JSON).toMatchObject({ rows: 0, body: 'not json at all' });
    expect(byCode[RETRIES_EXHAUSTED]).toMatchObject({ step: 0, rows: 3 });
    expect(byCode[RETRIES_EXHAUSTED]?.message).toContain('redrive policy');

    // Still there, visible at once; a second listing counts the first one's receive.
    const again = await listDeadLetters(ctx.clients.sqs, dlq);
    expect(again.map((d) => d.messageId).sort()).toEqual(listed.map((d) => d.messageId).sort());
    expect(again.every((d) => d.receivedCount === 1)).toBe(true);
    expect(await listDeadLetters(ctx.clients.sqs, dlq, { max: 2 })).toHaveLength(2);
  });
});

describe('redrive', () => {
  it('moves dead letters back: rejected rows as a new envelope to the rejecting step, others verbatim', async () => {
    const { dlq, steps, verbatim } = await deadLetterQueue();
    const [deadRejected] = (await listDeadLetters(ctx.clients.sqs, dlq)).filter(
      (d) => d.code === 'FUNCTION_ERROR',
    );
    const moved = await redrive(ctx.clients.sqs, dlq, (m) => steps[m.step ?? 0] as string);
    expect(moved).toBe(4);
    expect(await drain(ctx.clients.sqs, dlq)).toHaveLength(0);

    const [toStep2] = await drain(ctx.clients.sqs, steps[2] as string);
    const redriven = decodeEnvelope(toStep2?.Body as string);
    expect(redriven).toMatchObject({ flowId: 'orders', step: 2, runId: 'run-1', meta: { tenant: 't' } });
    expect(redriven.rows).toEqual([{ id: 2 }, { id: 3 }]);
    // A new batch id: the original batch's other rows are applied already, these must not be no-ops.
    expect(redriven.batchId).not.toBe('batch-1');
    expect(redriven.batchId).toHaveLength(32);
    // Derived from the dead letter's message id: redriving it twice (a crash before delete) repeats the id.
    expect(redriven.batchId).toBe(
      childBatchId(redriveBatchId('batch-1', deadRejected?.messageId as string), 2, 0),
    );

    expect((await drain(ctx.clients.sqs, steps[1] as string)).map((m) => m.Body)).toEqual([verbatim]);
    const toStep0 = (await drain(ctx.clients.sqs, steps[0] as string)).map((m) => m.Body).sort();
    expect(toStep0).toEqual([encodeEnvelope({ ...batch, step: 0 }), 'not json at all'].sort());
  });

  it('moves at most max, to a single target URL', async () => {
    const { dlq } = await deadLetterQueue();
    const target = await createQueue(ctx.clients.sqs);
    expect(await redrive(ctx.clients.sqs, dlq, target, { max: 3 })).toBe(3);
    expect(await drain(ctx.clients.sqs, target)).toHaveLength(3);
    const left = await ctx.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: dlq, MaxNumberOfMessages: 10 }),
    );
    expect(left.Messages).toHaveLength(1);
  });

  it('leaves dead letters that arrive while it runs (rows failing again), instead of cycling', async () => {
    const { dlq } = await deadLetterQueue();
    const target = await createQueue(ctx.clients.sqs);
    await new Promise((resolve) => setTimeout(resolve, 5));
    let sentBack = 0;
    // A step that rejects everything again at once: each redriven message makes a new dead letter.
    const moved = await redrive(ctx.clients.sqs, dlq, () => {
      sentBack++;
      void deadLetterMessage(ctx.clients.sqs, dlq, 'failed again', { code: 'AGAIN', message: 'still bad' });
      return target;
    });
    expect(moved).toBe(4);
    expect(sentBack).toBe(4);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const left = await listDeadLetters(ctx.clients.sqs, dlq);
    expect(left.map((d) => d.code)).toEqual(['AGAIN', 'AGAIN', 'AGAIN', 'AGAIN']);
  });

  it('starts the hop count of a redriven envelope again, so a batch stopped by the hop limit can go on', async () => {
    const dlq = await createQueue(ctx.clients.sqs);
    const target = await createQueue(ctx.clients.sqs);
    const looped = encodeEnvelope({ ...batch, step: 1, stepKey: 'price', hops: 1000 });
    await deadLetterMessage(ctx.clients.sqs, dlq, looped, { code: 'HOP_LIMIT', message: 'too many hops' });
    expect(await redrive(ctx.clients.sqs, dlq, target)).toBe(1);
    const [back] = await drain(ctx.clients.sqs, target);
    const again = decodeEnvelope(back?.Body as string);
    expect(again).toMatchObject({ batchId: batch.batchId, step: 1, stepKey: 'price', rows: batch.rows });
    expect(again.hops ?? 0).toBe(0);
  });
});
