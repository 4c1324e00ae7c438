// Two `kisflow runs retry <run>` at once: the run ledger's claim lets one move the dead letters
// (on dynalite, a conditional write on `claim#retry#<run>`), the other is told a retry is in
// progress, and every dead-lettered row reaches the flow once. A crashed holder's lease runs out.
import { DeleteMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { DynamoRunLedger } from '../../../kisflow/aws/dynamodb-run-ledger.ts';
import { ensureTable } from '../../../kisflow/aws/tables.ts';
import { KisFlowError } from '../../../kisflow/errors.ts';
import { RETRY_CLAIM_LEASE_MS, retryRun } from '../../../kisflow/runs/retry-run.ts';
import { createQueue, drain, useEmulators } from '../aws/harness.ts';

const ctx = useEmulators();
let tables = 0;

async function ledgerWithFailedRun(now: () => number = Date.now) {
  const tableName = `retry-claim-${++tables}`;
  await ensureTable(ctx.clients.dynamodb, tableName, { ttlAttribute: 'ttl' });
  const ledger = new DynamoRunLedger({ dynamodb: ctx.clients.dynamodb, tableName, now });
  await ledger.start({ runId: 'failed', flowId: 'Orders', trigger: 'manual', roots: 1 });
  await ledger.complete({
    runId: 'failed',
    batchId: 'b',
    step: 0,
    counters: { in: 5 },
    outcome: 'dead_lettered',
  });
  return ledger;
}

describe('runs retry: one mover per run', () => {
  it('two retries at once: one moves every dead letter once, the other gets RETRY_IN_PROGRESS', async () => {
    const ledger = await ledgerWithFailedRun();
    expect((await ledger.get('failed'))?.status).not.toBe('running');
    const { sqs } = ctx.clients;
    const dlq = await createQueue(sqs);
    const flow = await createQueue(sqs);
    for (let i = 0; i < 5; i++)
      await sqs.send(new SendMessageCommand({ QueueUrl: dlq, MessageBody: `row-${i}` }));
    let waitingAt: () => void = () => {};
    const bothIn = new Promise<void>((r) => {
      waitingAt = r;
    });
    let peeks = 0;
    const options = {
      ledger,
      parentRunId: 'failed',
      // Both callers peek the DLQ (5 waiting) before either moves: the window the claim closes.
      waiting: async () => {
        if (++peeks === 1) await Promise.race([bothIn, new Promise((r) => setTimeout(r, 500))]);
        else waitingAt();
        return 5;
      },
      move: async () => {
        let moved = 0;
        for (const m of await drain(sqs, dlq)) {
          await sqs.send(new SendMessageCommand({ QueueUrl: flow, MessageBody: m.Body as string }));
          await sqs.send(
            new DeleteMessageCommand({ QueueUrl: dlq, ReceiptHandle: m.ReceiptHandle as string }),
          );
          moved++;
        }
        return moved;
      },
    };
    const results = await Promise.allSettled([retryRun(options), retryRun(options)]);
    const done = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r) => r.status === 'rejected');
    expect(done).toHaveLength(1);
    expect(refused).toHaveLength(1);
    const error = (refused[0] as PromiseRejectedResult).reason;
    expect(error).toBeInstanceOf(KisFlowError);
    expect(error.code).toBe('RETRY_IN_PROGRESS');
    expect(error.message).toContain('failed');
    const bodies = (await drain(sqs, flow)).map((m) => m.Body).sort();
    expect(bodies).toEqual(['row-0', 'row-1', 'row-2', 'row-3', 'row-4']);
    // Released: the next retry is free to look, and finds nothing left.
    await expect(retryRun({ ...options, waiting: async () => 0 })).rejects.toMatchObject({
      code: 'NOTHING_TO_RETRY',
    });
  });

  it('a holder that crashed frees the run once its lease runs out, not before', async () => {
    let now = 1_000_000;
    const ledger = await ledgerWithFailedRun(() => now);
    expect(await ledger.claim('retry#failed', 'crashed', RETRY_CLAIM_LEASE_MS)).toBe(true);
    expect(await ledger.claim('retry#failed', 'other', RETRY_CLAIM_LEASE_MS)).toBe(false);
    // The holder itself may renew; release by a non-holder changes nothing.
    expect(await ledger.claim('retry#failed', 'crashed', RETRY_CLAIM_LEASE_MS)).toBe(true);
    await ledger.release('retry#failed', 'other');
    expect(await ledger.claim('retry#failed', 'other', RETRY_CLAIM_LEASE_MS)).toBe(false);
    now += RETRY_CLAIM_LEASE_MS + 1;
    expect(await ledger.claim('retry#failed', 'other', RETRY_CLAIM_LEASE_MS)).toBe(true);
    await ledger.release('retry#failed', 'other');
    expect(await ledger.claim('retry#failed', 'third', 1000)).toBe(true);
  });
});
