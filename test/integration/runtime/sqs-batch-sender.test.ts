import { CreateQueueCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../../kisflow/aws/clients.ts';
import { SqsBatchSender } from '../../../kisflow/aws/sqs-batch-send.ts';
import { InfrastructureError } from '../../../kisflow/errors.ts';
import { type Emulators, startEmulators } from '../../../localstack/emulators.ts';

let emulators: Emulators;
let sqs: SQSClient;
/** SendMessageBatch requests that reached the wire (an SDK middleware counts them; nothing is mocked). */
let requests = 0;

beforeAll(async () => {
  emulators = await startEmulators();
  ({ sqs } = createAwsClients({
    sqsEndpoint: emulators.sqsEndpoint,
    dynamodbEndpoint: emulators.dynamodbEndpoint,
  }));
  sqs.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'SendMessageBatchCommand') requests++;
      return next(args);
    },
    { step: 'initialize', name: 'countBatchSends' },
  );
});

afterAll(async () => {
  sqs?.destroy();
  await emulators?.stop();
});

async function queue(name: string): Promise<string> {
  return (await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl as string;
}

async function receiveAll(url: string): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }));
    if (!out.Messages?.length) return bodies.sort();
    bodies.push(...out.Messages.map((m) => m.Body ?? ''));
  }
}

const msg = (id: string, body = id) => ({ id, body });

describe('SqsBatchSender: the sends of parallel records share requests', () => {
  it('merges the sends made in one turn into as few requests as SQS allows, per queue', async () => {
    const a = await queue('coalesce-a');
    const b = await queue('coalesce-b');
    const sender = new SqsBatchSender(sqs);
    requests = 0;
    await Promise.all(Array.from({ length: 12 }, (_, i) => sender.send(i % 4 === 3 ? b : a, [msg(`m${i}`)])));
    // 9 messages for a (one request), 3 for b (one request), instead of 12 requests.
    expect(requests).toBe(2);
    expect(sender.requests).toBe(2);
    expect(await receiveAll(a)).toEqual(['m0', 'm1', 'm10', 'm2', 'm4', 'm5', 'm6', 'm8', 'm9']);
    expect(await receiveAll(b)).toEqual(['m11', 'm3', 'm7']);
  });

  it('keeps the 10-entry limit and fails only the caller whose message SQS refused', async () => {
    const url = await queue('coalesce-c');
    const sender = new SqsBatchSender(sqs, { retry: { sleep: async () => {} } });
    requests = 0;
    const firstStats = { requests: 0, messages: 0, bytes: 0 };
    const first = sender.send(
      url,
      Array.from({ length: 7 }, (_, i) => msg(`x${i}`)),
      firstStats,
    );
    // SQS refuses U+FFFF in a body: this message fails alone, and is not retried.
    const second = sender.send(url, [
      ...Array.from({ length: 5 }, (_, i) => msg(`y${i}`)),
      msg('bad', 'bad \uFFFF'),
    ]);
    const [one, two] = await Promise.allSettled([first, second]);
    expect(requests).toBe(2);
    expect(one.status).toBe('fulfilled');
    expect(firstStats.messages).toBe(7);
    expect(two.status).toBe('rejected');
    const error = (two as PromiseRejectedResult).reason as InfrastructureError;
    expect(error).toBeInstanceOf(InfrastructureError);
    expect(error.message).toMatch(/SQS refused 1 of 6 message\(s\).*bad:/);
    expect(error.retryable).toBe(false);
    expect((await receiveAll(url)).length).toBe(12);
  });
});
