import {
  CreateQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAwsClients } from '../../../kisflow/aws/clients.ts';
import { coalescingSqsClient } from '../../../kisflow/lambda/send-coalescer.ts';
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

describe('coalescing SQS client', () => {
  it('merges the sends made in one turn into as few requests as SQS allows, per queue', async () => {
    const a = await queue('coalesce-a');
    const b = await queue('coalesce-b');
    const client = coalescingSqsClient(sqs);
    requests = 0;
    const sends = Array.from({ length: 12 }, (_, i) =>
      client.send(
        new SendMessageBatchCommand({
          QueueUrl: i % 4 === 3 ? b : a,
          Entries: [{ Id: `caller${i}`, MessageBody: `m${i}` }],
        }),
      ),
    );
    const outputs = await Promise.all(sends);
    // 9 entries for a (one request), 3 for b (one request), instead of 12 requests.
    expect(requests).toBe(2);
    outputs.forEach((out, i) => {
      expect(out.Successful?.map((s) => s.Id)).toEqual([`caller${i}`]);
      expect(out.Failed).toEqual([]);
    });
    expect(await receiveAll(a)).toEqual(['m0', 'm1', 'm10', 'm2', 'm4', 'm5', 'm6', 'm8', 'm9']);
    expect(await receiveAll(b)).toEqual(['m11', 'm3', 'm7']);
  });

  it('keeps the 10-entry limit and gives each caller the outcome of its own entries', async () => {
    const url = await queue('coalesce-c');
    const client = coalescingSqsClient(sqs);
    requests = 0;
    const first = client.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: Array.from({ length: 7 }, (_, i) => ({ Id: `x${i}`, MessageBody: `x${i}` })),
      }),
    );
    const second = client.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        Entries: [
          ...Array.from({ length: 5 }, (_, i) => ({ Id: `y${i}`, MessageBody: `y${i}` })),
          // SQS refuses U+FFFF in a body: this entry fails alone.
          { Id: 'bad', MessageBody: 'bad \uFFFF' },
        ],
      }),
    );
    const [one, two] = await Promise.all([first, second]);
    expect(requests).toBe(2);
    expect(one.Successful).toHaveLength(7);
    expect(two.Successful?.map((s) => s.Id)).toEqual(['y0', 'y1', 'y2', 'y3', 'y4']);
    expect(two.Failed?.map((f) => f.Id)).toEqual(['bad']);
    expect((await receiveAll(url)).length).toBe(12);
  });

  it('passes every other call through', async () => {
    const client = coalescingSqsClient(sqs);
    const url = await queue('coalesce-d');
    const out = await client.send(new ReceiveMessageCommand({ QueueUrl: url }));
    expect(out.Messages ?? []).toEqual([]);
    expect(client.config).toBe(sqs.config);
  });
});
