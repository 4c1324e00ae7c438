import { DescribeTableCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import {
  GetQueueAttributesCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { createAwsClients } from '../../../kisflow/aws/clients.ts';
import { resourceNames } from '../../../kisflow/config/names.ts';
import { UsageError } from '../../../kisflow/errors.ts';
import { locateResources, provisionProject } from '../../../kisflow/local/provision.ts';
import { drain, useEmulators } from './harness.ts';
import { testProject } from './project.ts';

const ctx = useEmulators();

async function attributes(queueUrl: string) {
  const out = await ctx.clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['All'] }),
  );
  return out.Attributes ?? {};
}

describe('provisionProject', () => {
  it('creates queues, DLQs with redrive, output queues and tables for enabled flows, idempotently', async () => {
    const project = testProject();
    const first = await provisionProject(project, ctx.clients, { prefix: 'p1' });
    const again = await provisionProject(project, ctx.clients, { prefix: 'p1' });
    expect(again).toEqual(first);
    expect(Object.keys(first.flows).sort()).toEqual(['orders', '订单']);
    const orders = first.flows.orders;
    expect(orders?.stepQueues).toHaveLength(3);
    // max_receives defaults to 5, whatever the functions' retry_times (row retries, in the engine).
    expect(orders?.maxReceiveCounts).toEqual([5, 5, 5]);
    expect(first.flows.订单?.maxReceiveCounts).toEqual([5, 5]);

    const names = resourceNames('p1');
    const step1 = await attributes(orders?.stepQueues[1] as string);
    expect(step1.VisibilityTimeout).toBe('180');
    expect(step1.MaximumMessageSize).toBe('1048576');
    const dlq1 = await attributes(orders?.stepDeadLetterQueues[1] as string);
    expect(JSON.parse(step1.RedrivePolicy as string)).toEqual({
      deadLetterTargetArn: dlq1.QueueArn,
      maxReceiveCount: 5,
    });
    expect(dlq1.MessageRetentionPeriod).toBe('1209600');
    expect(orders?.outputQueue).toContain(names.outputQueue('orders'));

    const queues = await ctx.clients.sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'p1-' }));
    // 3 + 2 steps, each with a DLQ, plus 2 outputs, plus job control's queue and DLQ; the
    // disabled flow has none.
    expect(queues.QueueUrls).toHaveLength(14);
    expect(first.control?.queue).toContain(names.controlQueue());
    expect(queues.QueueUrls?.some((u) => u.includes('-off-'))).toBe(false);

    expect(first.connectorTables).toEqual({ orders: 'p1-conn-orders', expiring: 'p1-conn-expiring' });
    expect(first.stateTable).toBe('p1-state');
    const tables = await ctx.clients.dynamodb.send(new ListTablesCommand({}));
    expect(tables.TableNames).toEqual(
      expect.arrayContaining(['p1-conn-orders', 'p1-conn-expiring', 'p1-state']),
    );
    const described = await ctx.clients.dynamodb.send(new DescribeTableCommand({ TableName: 'p1-state' }));
    expect(described.Table?.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
  });

  it('updates queue attributes the config changed (max_receives, timeout)', async () => {
    const project = testProject();
    await provisionProject(project, ctx.clients, { prefix: 'p2' });
    const save = project.funcs.get('save');
    (project.funcs as Map<string, typeof save>).set('save', {
      ...(save as NonNullable<typeof save>),
      maxReceives: 8,
    });
    const updated = await provisionProject(project, ctx.clients, {
      prefix: 'p2',
      visibilityTimeoutSeconds: 45,
    });
    expect(updated.flows.orders?.maxReceiveCounts).toEqual([5, 8, 5]);
    const step1 = await attributes(updated.flows.orders?.stepQueues[1] as string);
    expect(JSON.parse(step1.RedrivePolicy as string).maxReceiveCount).toBe(8);
    expect(step1.VisibilityTimeout).toBe('45');
  });

  it('enforces maxReceiveCount: a message never deleted moves to the step DLQ after max_receives receives', async () => {
    const resources = await provisionProject(testProject(), ctx.clients, { prefix: 'p3' });
    const queue = resources.flows.orders?.stepQueues[1] as string;
    const dlq = resources.flows.orders?.stepDeadLetterQueues[1] as string;
    await ctx.clients.sqs.send(new SendMessageCommand({ QueueUrl: queue, MessageBody: '{"poison":true}' }));
    let receives = 0;
    for (let i = 0; i < 10; i++) {
      const out = await ctx.clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queue, VisibilityTimeout: 0 }),
      );
      receives += out.Messages?.length ?? 0;
    }
    expect(receives).toBe(5);
    expect((await drain(ctx.clients.sqs, dlq)).map((m) => m.Body)).toEqual(['{"poison":true}']);
  });
});

describe('locateResources', () => {
  it('finds the URLs and receive counts of an existing deployment by name', async () => {
    const project = testProject();
    const provisioned = await provisionProject(project, ctx.clients, { prefix: 'p4' });
    expect(await locateResources(project, ctx.clients.sqs, { prefix: 'p4' })).toEqual(provisioned);
  });

  it('says what is missing and how to fix it when nothing is deployed under the prefix', async () => {
    const error = await locateResources(testProject(), ctx.clients.sqs, { prefix: 'nothing' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).code).toBe('NOT_DEPLOYED');
    expect((error as Error).message).toContain('nothing-orders--verify');
    expect((error as Error).message).toContain('--prefix');
  });

  it('reports the first missing queue in flow order, whatever the timing of the lookups', async () => {
    const { sqs } = createAwsClients({
      sqsEndpoint: ctx.emulators.sqsEndpoint,
      dynamodbEndpoint: ctx.emulators.dynamodbEndpoint,
    });
    // Step 0's lookup answers last: the old parallel lookup then reported step 1 or 2 (queues are named by step key: verify, save, price).
    sqs.middlewareStack.add(
      (next, context) => async (args) => {
        const name = (args.input as { QueueName?: string }).QueueName ?? '';
        if (context.commandName === 'GetQueueUrlCommand' && name.endsWith('--verify'))
          await new Promise((r) => setTimeout(r, 100));
        return next(args);
      },
      { step: 'initialize', name: 'slowStepZero' },
    );
    try {
      const error = await locateResources(testProject(), sqs, { prefix: 'late' }).catch((e: unknown) => e);
      expect((error as Error).message).toContain('late-orders--verify');
      expect((error as Error).message).not.toContain('late-orders--save');
    } finally {
      sqs.destroy();
    }
  });
});
