import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateTableCommand,
  GetItemCommand,
  PutItemCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
} from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { type AwsClients, createAwsClients, destroyAwsClients } from '../../../kisflow/aws/clients.ts';

const REPO = join(import.meta.dirname, '..', '..', '..');
const dataDir = mkdtempSync(join(tmpdir(), 'kisflow-durable-'));
const children: ChildProcess[] = [];
const clients: AwsClients[] = [];

afterAll(() => {
  for (const c of clients) destroyAwsClients(c);
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

async function start(): Promise<{ child: ChildProcess; clients: AwsClients }> {
  const child = spawn(
    process.execPath,
    ['bin/run-ts.js', 'test/integration/dev/emulator-child.ts', dataDir],
    {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('exit', (code) => reject(new Error(`emulators exited (${code}): ${stderr}`)));
  });
  const [, sqsEndpoint, dynamodbEndpoint] = line.split(' ') as [string, string, string];
  const c = createAwsClients({ sqsEndpoint, dynamodbEndpoint });
  clients.push(c);
  return { child, clients: c };
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

const depth = async (c: AwsClients, url: string) => {
  const out = await c.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(out.Attributes?.ApproximateNumberOfMessages) +
    Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible)
  );
};

describe('the embedded emulators with a data directory', () => {
  it('keep queues, messages, receive counts, dead letters, tables and items through a SIGKILL', async () => {
    const first = await start();
    const { sqs, dynamodb } = first.clients;
    const dlq = (await sqs.send(new CreateQueueCommand({ QueueName: 'durable-dlq' }))).QueueUrl as string;
    const dlqArn = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ['QueueArn'] }))
    ).Attributes?.QueueArn as string;
    const queue = (
      await sqs.send(
        new CreateQueueCommand({
          QueueName: 'durable-q',
          Attributes: {
            VisibilityTimeout: '1',
            RedrivePolicy: JSON.stringify({ maxReceiveCount: 1, deadLetterTargetArn: dlqArn }),
          },
        }),
      )
    ).QueueUrl as string;
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queue,
        Entries: Array.from({ length: 5 }, (_, i) => ({ Id: String(i), MessageBody: `m${i}` })),
      }),
    );
    // Two received: one deleted (done); the other's receive times out (a failed attempt), so the
    // next receive moves it to the DLQ (maxReceiveCount 1); the last three are left in flight.
    const got =
      (await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue, MaxNumberOfMessages: 2 }))).Messages ?? [];
    expect(got).toHaveLength(2);
    await sqs.send(new DeleteMessageCommand({ QueueUrl: queue, ReceiptHandle: got[0]?.ReceiptHandle }));
    await new Promise((r) => setTimeout(r, 1100));
    const inFlight =
      (
        await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queue, MaxNumberOfMessages: 10, VisibilityTimeout: 30 }),
        )
      ).Messages ?? [];
    expect(inFlight.map((m) => m.Body).sort()).toEqual(['m2', 'm3', 'm4']);
    await dynamodb.send(
      new CreateTableCommand({
        TableName: 'durable-table',
        KeySchema: [{ AttributeName: 'k', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'k', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    // As with DynamoDB itself, a new table takes writes once ACTIVE (dynalite on disk, under load, lags).
    await waitUntilTableExists(
      { client: dynamodb, maxWaitTime: 30, minDelay: 1 },
      { TableName: 'durable-table' },
    );
    await dynamodb.send(
      new PutItemCommand({ TableName: 'durable-table', Item: { k: { S: 'a' }, v: { N: '7' } } }),
    );
    await kill(first.child);

    const second = await start();
    const url = (await second.clients.sqs.send(new GetQueueUrlCommand({ QueueName: 'durable-q' })))
      .QueueUrl as string;
    const dlqUrl = (await second.clients.sqs.send(new GetQueueUrlCommand({ QueueName: 'durable-dlq' })))
      .QueueUrl as string;
    expect(await depth(second.clients, url)).toBe(3);
    // In flight when the process died: handed out again at once (not after the 30 s visibility
    // timeout), and that receive is not counted against maxReceiveCount, so none of them is
    // dead-lettered by the restart.
    const again = await second.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: 30,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
    );
    expect((again.Messages ?? []).map((m) => m.Body).sort()).toEqual(['m2', 'm3', 'm4']);
    expect((again.Messages ?? []).map((m) => m.Attributes?.ApproximateReceiveCount)).toEqual(['1', '1', '1']);
    const dead =
      (await second.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl }))).Messages ?? [];
    expect(dead.map((m) => m.Body)).toEqual([got[1]?.Body]);
    const item = await second.clients.dynamodb.send(
      new GetItemCommand({ TableName: 'durable-table', Key: { k: { S: 'a' } } }),
    );
    expect(item.Item?.v).toEqual({ N: '7' });
    await kill(second.child);

    // A third start reads the journal the second one compacted and appended to.
    const third = await start();
    const thirdUrl = (await third.clients.sqs.send(new GetQueueUrlCommand({ QueueName: 'durable-q' })))
      .QueueUrl as string;
    expect(await depth(third.clients, thirdUrl)).toBe(3);
    third.child.kill('SIGTERM');
    await new Promise((r) => third.child.once('exit', r));
    expect(third.child.exitCode).toBe(0);
  }, 60_000);
});
