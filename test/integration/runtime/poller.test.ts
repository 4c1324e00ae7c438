import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../../kisflow/aws/clients.ts';
import { startPoller } from '../../../kisflow/local/poller.ts';
import { type Emulators, startEmulators } from '../../../localstack/emulators.ts';
import { waitFor } from './harness.ts';

let emulators: Emulators;
let sqs: SQSClient;
let queues = 0;

beforeAll(async () => {
  emulators = await startEmulators();
  ({ sqs } = createAwsClients({
    sqsEndpoint: emulators.sqsEndpoint,
    dynamodbEndpoint: emulators.dynamodbEndpoint,
  }));
});

afterAll(async () => {
  sqs?.destroy();
  await emulators?.stop();
});

/** A fresh queue with a DLQ after `maxReceiveCount` receives. */
async function queuePair(maxReceiveCount: number, visibility = 1): Promise<{ url: string; dlq: string }> {
  const n = ++queues;
  const dlq = (await sqs.send(new CreateQueueCommand({ QueueName: `poller-${n}-dlq` }))).QueueUrl as string;
  const dlqArn = (
    await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ['QueueArn'] }))
  ).Attributes?.QueueArn as string;
  const url = (
    await sqs.send(
      new CreateQueueCommand({
        QueueName: `poller-${n}`,
        Attributes: {
          VisibilityTimeout: String(visibility),
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount }),
        },
      }),
    )
  ).QueueUrl as string;
  return { url, dlq };
}

async function sendBodies(url: string, bodies: string[]): Promise<void> {
  for (let i = 0; i < bodies.length; i += 10) {
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: bodies.slice(i, i + 10).map((body, j) => ({
          Id: String(j),
          MessageBody: body,
          MessageAttributes: { origin: { DataType: 'String', StringValue: 'test' } },
        })),
      }),
    );
  }
}

async function depth(url: string): Promise<{ visible: number; inFlight: number }> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return {
    visible: Number(out.Attributes?.ApproximateNumberOfMessages),
    inFlight: Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible),
  };
}

describe('local poller (Lambda SQS event source mapping)', () => {
  it('builds a real SQSEvent and deletes what the handler processed', async () => {
    const { url } = await queuePair(3);
    await sendBodies(url, ['a']);
    const events: SQSEvent[] = [];
    const poller = startPoller({
      sqs,
      queueUrl: url,
      batchSize: 10,
      batchingWindowSeconds: 0,
      handler: async (event) => {
        events.push(event);
      },
    });
    await waitFor('one invocation', () => events.length === 1);
    await poller.stop();
    const record = events[0]?.Records[0];
    expect(record).toMatchObject({
      body: 'a',
      eventSource: 'aws:sqs',
      eventSourceARN: expect.stringMatching(/^arn:aws:sqs:[^:]+:\d+:poller-\d+$/),
      attributes: { ApproximateReceiveCount: '1' },
      messageAttributes: { origin: { dataType: 'String', stringValue: 'test' } },
    });
    expect(record?.receiptHandle).toBeTruthy();
    expect(record?.md5OfBody).toMatch(/^[0-9a-f]{32}$/);
    expect(await depth(url)).toEqual({ visible: 0, inFlight: 0 });
  });

  it('gathers up to batchSize messages within the batching window', async () => {
    const { url } = await queuePair(3, 10);
    await sendBodies(
      url,
      Array.from({ length: 25 }, (_, i) => `m${i}`),
    );
    const sizes: number[] = [];
    const poller = startPoller({
      sqs,
      queueUrl: url,
      batchSize: 20,
      batchingWindowSeconds: 1,
      maxConcurrency: 1,
      handler: async (event) => {
        sizes.push(event.Records.length);
      },
    });
    await waitFor('all 25 messages', () => sizes.reduce((a, b) => a + b, 0) >= 25);
    await poller.stop();
    expect(sizes).toEqual([20, 5]);
  });

  it('partial batch failure: only the reported messages come back, and go to the DLQ after maxReceiveCount', async () => {
    const { url, dlq } = await queuePair(2);
    await sendBodies(url, ['ok-1', 'bad', 'ok-2']);
    const seen: { body: string; receive: string }[] = [];
    const poller = startPoller({
      sqs,
      queueUrl: url,
      batchSize: 10,
      batchingWindowSeconds: 0,
      handler: async (event): Promise<SQSBatchResponse> => {
        for (const r of event.Records)
          seen.push({ body: r.body, receive: r.attributes.ApproximateReceiveCount });
        return {
          batchItemFailures: event.Records.filter((r) => r.body === 'bad').map((r) => ({
            itemIdentifier: r.messageId,
          })),
        };
      },
    });
    // Received twice (maxReceiveCount 2), then moved to the DLQ by the queue's redrive policy.
    const deadline = Date.now() + 10_000;
    let dead: string[] = [];
    while (dead.length === 0 && Date.now() < deadline) {
      const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlq, WaitTimeSeconds: 1 }));
      dead = (out.Messages ?? []).map((m) => m.Body ?? '');
    }
    await poller.stop();
    expect(dead).toEqual(['bad']);
    expect(seen.filter((s) => s.body === 'ok-1')).toEqual([{ body: 'ok-1', receive: '1' }]);
    expect(seen.filter((s) => s.body === 'ok-2')).toEqual([{ body: 'ok-2', receive: '1' }]);
    expect(seen.filter((s) => s.body === 'bad').map((s) => s.receive)).toEqual(['1', '2']);
  });

  it('a handler that throws fails every message of its batch; an unknown item id fails the batch too', async () => {
    const { url } = await queuePair(5);
    await sendBodies(url, ['x', 'y']);
    const receives: string[] = [];
    let calls = 0;
    const errors: unknown[] = [];
    const poller = startPoller({
      sqs,
      queueUrl: url,
      batchSize: 10,
      batchingWindowSeconds: 0,
      maxConcurrency: 1,
      onError: (e) => errors.push(e),
      handler: async (event): Promise<SQSBatchResponse> => {
        calls++;
        for (const r of event.Records) receives.push(`${r.body}${r.attributes.ApproximateReceiveCount}`);
        if (calls === 1) throw new Error('boom');
        if (calls === 2) return { batchItemFailures: [{ itemIdentifier: 'not-in-this-batch' }] };
        return { batchItemFailures: [] };
      },
    });
    await waitFor(
      'x and y processed on the third receive',
      () => receives.includes('x3') && receives.includes('y3'),
      15_000,
    );
    await poller.stop();
    expect(errors.map((e) => (e as Error).message)).toContain('boom');
    expect(await depth(url)).toEqual({ visible: 0, inFlight: 0 });
  });

  it('a batch still running at the function timeout fails as a whole and comes back, as in Lambda', async () => {
    const { url } = await queuePair(5, 2);
    await sendBodies(url, ['slow']);
    const receives: string[] = [];
    const errors: unknown[] = [];
    const poller = startPoller({
      sqs,
      queueUrl: url,
      batchSize: 10,
      batchingWindowSeconds: 0,
      maxConcurrency: 1,
      timeoutSeconds: 1,
      functionName: 'slow-step',
      onError: (e) => errors.push(e),
      handler: async (event): Promise<SQSBatchResponse> => {
        const count = event.Records[0]?.attributes.ApproximateReceiveCount ?? '?';
        receives.push(count);
        // The first delivery outlives the 1 s timeout; the redelivery is quick.
        if (count === '1') await new Promise((r) => setTimeout(r, 1_500));
        return { batchItemFailures: [] };
      },
    });
    await waitFor(
      'the message is redelivered after the timeout and then deleted',
      () => receives.includes('2'),
      15_000,
    );
    await waitFor('queue empty', () => receives.length >= 2, 5_000);
    await poller.stop();
    expect(errors.map((e) => (e as Error).message)).toContain('slow-step: task timed out after 1 seconds');
    expect(receives.slice(0, 2)).toEqual(['1', '2']);
    expect(await depth(url)).toEqual({ visible: 0, inFlight: 0 });
  });

  it('respects maxConcurrency and finishes in-flight batches on stop', async () => {
    const { url } = await queuePair(3, 10);
    await sendBodies(
      url,
      Array.from({ length: 6 }, (_, i) => `c${i}`),
    );
    let running = 0;
    let peak = 0;
    let finished = 0;
    const poller = startPoller({
      sqs,
      queueUrl: url,
      batchSize: 1,
      batchingWindowSeconds: 0,
      maxConcurrency: 2,
      handler: async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 400));
        running--;
        finished++;
      },
    });
    await waitFor('two invocations running', () => running === 2);
    const stopped = poller.stop();
    await stopped;
    // Both in-flight invocations completed and their messages were deleted before stop returned.
    expect(running).toBe(0);
    expect(finished).toBe(2);
    expect(peak).toBe(2);
    const left = await depth(url);
    expect(left.visible + left.inFlight).toBe(4);
  });

  it('a message sent while the poller waits is delivered by the long poll', async () => {
    const { url } = await queuePair(3);
    const bodies: string[] = [];
    const poller = startPoller({
      sqs,
      queueUrl: url,
      batchSize: 10,
      batchingWindowSeconds: 0,
      waitTimeSeconds: 5,
      handler: async (event) => {
        for (const r of event.Records) bodies.push(r.body);
      },
    });
    await new Promise((r) => setTimeout(r, 300));
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'late' }));
    await waitFor('the late message', () => bodies.includes('late'), 5_000);
    await poller.stop();
  });
});
