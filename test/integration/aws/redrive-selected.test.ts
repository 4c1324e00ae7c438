/** `redrive(..., { only })`, what the console's "Redrive selected" sends: the picked move, the rest stay. */
import { describe, expect, it } from 'vitest';
import { deadLetterMessage, listDeadLetters, redrive } from '../../../kisflow/aws/dead-letters.ts';
import { encodeEnvelope } from '../../../kisflow/wire/envelope.ts';
import { createQueue, drain, useEmulators } from './harness.ts';

const ctx = useEmulators();

describe('redrive of selected dead letters', () => {
  it('moves only the dead letters named, and leaves the others in the DLQ, visible and unchanged', async () => {
    const dlq = await createQueue(ctx.clients.sqs);
    const step = await createQueue(ctx.clients.sqs);
    const bodies = [1, 2, 3].map((n) =>
      encodeEnvelope({
        flowId: 'orders',
        step: 0,
        runId: `run-${n}`,
        batchId: `b-${n}`,
        rows: [{ n }],
        meta: {},
      }),
    );
    for (const body of bodies) {
      await deadLetterMessage(ctx.clients.sqs, dlq, body, {
        code: 'TIMEOUT',
        message: 'slow',
        flow: 'orders',
        step: 0,
      });
    }
    const before = await listDeadLetters(ctx.clients.sqs, dlq);
    const picked = before.find((d) => d.body === bodies[1]) as (typeof before)[number];

    const moved = await redrive(ctx.clients.sqs, dlq, step, { only: new Set([picked.messageId]) });

    expect(moved).toBe(1);
    expect((await drain(ctx.clients.sqs, step)).map((m) => m.Body)).toEqual([bodies[1]]);
    const after = await listDeadLetters(ctx.clients.sqs, dlq);
    expect(after.map((d) => d.messageId).sort()).toEqual(
      before
        .filter((d) => d !== picked)
        .map((d) => d.messageId)
        .sort(),
    );
  });
});
