/**
 * A flow fed by an existing SQS queue (`source.sqs`) under `kisflow dev`: dev makes a local queue
 * named as the ARN names it and plays Lambda's SQS mapping on it (batch size, filter criteria,
 * partial batch responses, the queue's redrive policy). A message that fails once comes back and
 * goes on; one the filter rejects is deleted unread; one that is not JSON is dead-lettered alone;
 * one that fails every time is moved to the first step's DLQ by the redrive policy. The stream's
 * minutes count what the flow handled, and `runs stats` shows the queue's oldest message as lag.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeleteMessageCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../../kisflow/aws/clients.ts';
import { runsStats } from '../../../kisflow/cli/commands/runs.ts';
import { resolveEndpoints } from '../../../kisflow/cli/endpoints.ts';
import { sourceLagReader } from '../../../kisflow/cli/source-lag.ts';
import { loadProject } from '../../../kisflow/config/index.ts';
import type { FlowSpec, ProjectConfig } from '../../../kisflow/config/model.ts';
import { startDevStack } from '../../../kisflow/local/dev-stack.ts';
import { SQS_FILTERED } from '../../../kisflow/local/sqs-sources.ts';
import { decodeEnvelope } from '../../../kisflow/wire/envelope.ts';
import { FIXTURE_ROOT } from '../runtime/harness.ts';

const QUEUE_ARN = 'arn:aws:sqs:us-east-1:123456789012:orders-in';
const roots: string[] = [];

afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

async function fedProject(): Promise<ProjectConfig> {
  const base = await loadProject(join(FIXTURE_ROOT, 'flows'), { root: FIXTURE_ROOT });
  const flaky = base.flows.get('flaky') as FlowSpec;
  // flaky_step fails each batch's first attempt; `always_down` rows fail every attempt.
  const fed: FlowSpec = {
    ...flaky,
    source: {
      sqs: {
        queueArn: QUEUE_ARN,
        batchSize: 5,
        filters: [
          { body: { kind: [{ 'anything-but': ['noise'] }] } },
          { body: { kind: [{ exists: false }] } },
        ],
      },
    },
  };
  return { ...base, flows: new Map([['flaky', fed]]), jobs: new Map() };
}

/** Rows taken from `queue` until `n` arrived. */
async function taken(sqs: SQSClient, queue: string, n: number): Promise<number[]> {
  const rows: number[] = [];
  const deadline = Date.now() + 30_000;
  while (rows.length < n) {
    if (Date.now() > deadline) throw new Error(`timed out with ${rows.length} of ${n} rows`);
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

describe('an existing SQS queue as a source under kisflow dev', () => {
  it.each(['in-process', 'worker'] as const)(
    'plays the mapping on a local stand-in (%s): retries, filters, dead letters, redrive, buckets and lag',
    async (isolation) => {
      const root = mkdtempSync(join(tmpdir(), 'kisflow-dev-sqs-source-'));
      roots.push(root);
      const project = await fedProject();
      const stack = await startDevStack({
        dir: 'flows',
        root,
        project,
        isolation,
        logLevel: 'SILENT',
        runLogDir: false,
        // A failed message is visible again after 1 s (the queues' own timeout is 6 × the function's).
        visibilityTimeoutSeconds: 1,
        waitTimeSeconds: 1,
      });
      const { sqs } = createAwsClients({ sqsEndpoint: stack.sqsEndpoint });
      try {
        const local = stack.resources.flows.flaky?.sourceQueue as string;
        // The stand-in is the queue the ARN names: a producer finds it by name, as in AWS.
        const byName = await sqs.send(new GetQueueUrlCommand({ QueueName: 'orders-in' }));
        expect(byName.QueueUrl).toBe(local);
        await sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: local,
            Entries: [
              { Id: 'a', MessageBody: JSON.stringify({ i: 1 }) },
              { Id: 'b', MessageBody: JSON.stringify({ i: 2, kind: 'order' }) },
              { Id: 'c', MessageBody: JSON.stringify({ i: 3, kind: 'noise' }) },
              { Id: 'd', MessageBody: 'not json {' },
              { Id: 'e', MessageBody: JSON.stringify({ i: 5, always_down: true }) },
            ],
          }),
        );
        const output = stack.resources.flows.flaky?.outputQueue as string;
        expect((await taken(sqs, output, 2)).sort()).toEqual([1, 2]);

        const dlq = stack.resources.flows.flaky?.stepDeadLetterQueues[0] as string;
        const dead: { body: string; code: string | undefined }[] = [];
        const deadline = Date.now() + 30_000;
        while (dead.length < 2 && Date.now() < deadline) {
          const got = await sqs.send(
            new ReceiveMessageCommand({
              QueueUrl: dlq,
              MaxNumberOfMessages: 10,
              WaitTimeSeconds: 1,
              MessageAttributeNames: ['All'],
            }),
          );
          for (const m of got.Messages ?? []) {
            dead.push({
              body: m.Body as string,
              code: m.MessageAttributes?.['kisflow.error.code']?.StringValue,
            });
            await sqs.send(new DeleteMessageCommand({ QueueUrl: dlq, ReceiptHandle: m.ReceiptHandle }));
          }
        }
        // The bad body by the source handler, with its reason; the always-failing message by the
        // queue's redrive policy (max_receives 3), as it arrived.
        expect(dead.sort((x, y) => x.body.localeCompare(y.body))).toEqual([
          { body: JSON.stringify({ i: 5, always_down: true }), code: undefined },
          { body: 'not json {', code: 'SOURCE_NOT_JSON' },
        ]);
        expect(stack.metrics.counter(SQS_FILTERED)).toBe(1);

        const stats = await runsStats(stack.ledger, {
          days: 1,
          now: Date.now(),
          flows: [project.flows.get('flaky') as FlowSpec],
          lagOf: sourceLagReader(resolveEndpoints({ root })),
        });
        expect(stats.streams).toEqual([
          expect.objectContaining({
            flowId: 'flaky',
            source: 'sqs',
            steps: [
              { step: 0, batches: 3, in: 3, out: 2, rejected: 0, deadLettered: 1 },
              { step: 1, batches: 2, in: 2, out: 2, rejected: 0, deadLettered: 0 },
            ],
            // Every message is handled: the source queue is empty.
            lag: { metric: 'oldest_message_age_ms', value: 0, from: 'dev' },
          }),
        ]);
      } finally {
        sqs.destroy();
        await stack.stop();
      }
    },
  );
});
