/**
 * The dev stack's oldest-message age, read from a real fauxqs (the emulator `kisflow dev` embeds):
 * waiting and in-flight messages count, delayed ones do not, an empty queue is 0, and a server
 * that is not fauxqs is told apart from a failure.
 */
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../../kisflow/aws/clients.ts';
import { fauxqsOldestMessageAge, NoQueueInspection } from '../../../kisflow/local/fauxqs-queue-ages.ts';
import { type Emulators, startEmulators } from '../../../localstack/emulators.ts';

let emulators: Emulators;
let sqs: SQSClient;

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('fauxqsOldestMessageAge', () => {
  it('is the age of the oldest waiting or in-flight message, 0 once the queue is empty', async () => {
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: 'ages-1' }))).QueueUrl as string;
    expect(await fauxqsOldestMessageAge(emulators.sqsEndpoint, 'ages-1', Date.now())).toBe(0);

    const sentAt = Date.now();
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'first' }));
    await sleep(300);
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'second' }));
    // Delayed: not due, so not waiting yet (as in SQS's metric).
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'later', DelaySeconds: 60 }));
    const now = Date.now();
    const age = await fauxqsOldestMessageAge(emulators.sqsEndpoint, 'ages-1', now);
    expect(age).toBeGreaterThanOrEqual(300);
    expect(age).toBeLessThanOrEqual(now - sentAt + 5);

    // The oldest is received (in flight, not deleted): still the oldest.
    const first = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 1 }));
    expect(first.Messages?.[0]?.Body).toBe('first');
    expect(await fauxqsOldestMessageAge(emulators.sqsEndpoint, 'ages-1', now)).toBe(age);

    // Deleted: the second one is now the oldest, about 300 ms younger.
    await sqs.send(
      new DeleteMessageCommand({
        QueueUrl: url,
        ReceiptHandle: first.Messages?.[0]?.ReceiptHandle as string,
      }),
    );
    const next = await fauxqsOldestMessageAge(emulators.sqsEndpoint, 'ages-1', now);
    expect(next).toBeLessThanOrEqual(age - 250);

    const second = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }));
    expect(second.Messages?.map((m) => m.Body)).toEqual(['second']);
    await sqs.send(
      new DeleteMessageCommand({
        QueueUrl: url,
        ReceiptHandle: second.Messages?.[0]?.ReceiptHandle as string,
      }),
    );
    expect(await fauxqsOldestMessageAge(emulators.sqsEndpoint, 'ages-1', Date.now())).toBe(0);
  });

  it('tells a server without the inspection (here DynamoDB) from a failure', async () => {
    await expect(
      fauxqsOldestMessageAge(emulators.dynamodbEndpoint, 'ages-1', Date.now()),
    ).rejects.toBeInstanceOf(NoQueueInspection);
    // A queue fauxqs does not have: its 404 is no inspection of that queue either.
    await expect(
      fauxqsOldestMessageAge(emulators.sqsEndpoint, 'no-such-queue', Date.now()),
    ).rejects.toBeInstanceOf(NoQueueInspection);
  });
});
