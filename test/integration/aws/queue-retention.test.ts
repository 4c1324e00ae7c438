import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { provisionProject } from '../../../kisflow/local/provision.ts';
import { SQS_MAX_RETENTION_SECONDS } from '../../../kisflow/wire/limits.ts';
import { useEmulators } from './harness.ts';
import { testProject } from './project.ts';

const ctx = useEmulators();

async function retention(queueUrl: string): Promise<string | undefined> {
  const out = await ctx.clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['MessageRetentionPeriod'] }),
  );
  return out.Attributes?.MessageRetentionPeriod;
}

// Like the deployed queues: a dev step that stalls keeps its backlog 14 days, not SQS's 4-day default.
describe('dev queue retention', () => {
  it('retains step, output and dead-letter queues 14 days', async () => {
    const { flows } = await provisionProject(testProject(), ctx.clients, { prefix: 'keep' });
    const orders = flows.orders;
    if (orders === undefined) throw new Error('no flow orders');
    const queues = [...orders.stepQueues, ...orders.stepDeadLetterQueues, orders.outputQueue];
    expect(SQS_MAX_RETENTION_SECONDS).toBe(14 * 24 * 3600);
    for (const queue of queues) expect(await retention(queue), queue).toBe(String(SQS_MAX_RETENTION_SECONDS));
  });
});
