/**
 * What the embedded emulators do and do not do, as KisFlow relies on it. Each gap listed in
 * localstack/README.md has its test here; the workaround is exercised by the other test files.
 * They run only on those emulators: with AWS_ENDPOINT_URL set, the suite runs against another server.
 */
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  CreateTableCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { ensureTable } from '../../../kisflow/aws/tables.ts';
import { decodeEnvelope, encodeEnvelope } from '../../../kisflow/wire/envelope.ts';
import { createQueue, drain, onEmbeddedEmulators, useEmulators } from './harness.ts';

const ctx = useEmulators();
const MiB = 1_048_576;

async function errorOf(promise: Promise<unknown>): Promise<Error & { name: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail');
}

async function receiveOne(queueUrl: string, visibility?: number) {
  const out = await ctx.clients.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      ...(visibility === undefined ? {} : { VisibilityTimeout: visibility }),
      MessageSystemAttributeNames: ['ApproximateReceiveCount'],
    }),
  );
  return out.Messages ?? [];
}

describe.skipIf(!onEmbeddedEmulators)('startEmulators', () => {
  it('listens on loopback only (fauxqs alone would listen on every interface)', async () => {
    expect(new URL(ctx.emulators.sqsEndpoint).hostname).toBe('127.0.0.1');
    expect(new URL(ctx.emulators.dynamodbEndpoint).hostname).toBe('127.0.0.1');
    expect(ctx.emulators.external).toBe(false);
    const lan = Object.values(networkInterfaces())
      .flat()
      .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal);
    const port = Number(new URL(ctx.emulators.sqsEndpoint).port);
    const reachable = (host: string) =>
      new Promise<boolean>((resolve) => {
        const socket = connect({ host, port }, () => {
          socket.destroy();
          resolve(true);
        });
        socket.on('error', () => resolve(false));
      });
    expect(await reachable('127.0.0.1')).toBe(true);
    // On a machine with a LAN address, the emulator must not answer on it.
    expect(lan === undefined ? false : await reachable(lan.address)).toBe(false);
  });

  it('stops promptly with SDK keep-alive sockets still open', async () => {
    const { startEmulators } = await import('../../../localstack/emulators.ts');
    const { createAwsClients, destroyAwsClients } = await import('../../../kisflow/aws/clients.ts');
    const own = await startEmulators();
    const clients = createAwsClients({
      sqsEndpoint: own.sqsEndpoint,
      dynamodbEndpoint: own.dynamodbEndpoint,
    });
    await ensureTable(clients.dynamodb, 'keep-alive');
    await createQueue(clients.sqs);
    const started = performance.now();
    await own.stop();
    expect(performance.now() - started).toBeLessThan(2_000);
    destroyAwsClients(clients);
  });

  it('starts nothing when AWS_ENDPOINT_URL names an external stack', async () => {
    const { startEmulators } = await import('../../../localstack/emulators.ts');
    const saved = process.env.AWS_ENDPOINT_URL;
    process.env.AWS_ENDPOINT_URL = 'http://localhost:4566';
    try {
      const external = await startEmulators();
      expect(external).toMatchObject({
        sqsEndpoint: 'http://localhost:4566',
        dynamodbEndpoint: 'http://localhost:4566',
        external: true,
      });
      await external.stop();
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL;
      else process.env.AWS_ENDPOINT_URL = saved;
    }
  });
});

describe.skipIf(!onEmbeddedEmulators)('fauxqs (SQS)', () => {
  it('accepts a 1 MiB message and refuses one byte more', async () => {
    const queueUrl = await createQueue(ctx.clients.sqs);
    await ctx.clients.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'x'.repeat(MiB) }));
    const error = await errorOf(
      ctx.clients.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'x'.repeat(MiB + 1) })),
    );
    expect(error.message).toMatch(/shorter than|too long|1048576/i);
    expect((await drain(ctx.clients.sqs, queueUrl))[0]?.Body).toHaveLength(MiB);
  });

  it('limits a SendMessageBatch request to 1 MiB in total (BatchRequestTooLong), like SQS', async () => {
    const queueUrl = await createQueue(ctx.clients.sqs);
    const entries = (sizes: number[]) => sizes.map((s, i) => ({ Id: `e${i}`, MessageBody: 'x'.repeat(s) }));
    const ok = await ctx.clients.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: entries([MiB / 4, MiB / 4, MiB / 4, MiB / 4]),
      }),
    );
    expect(ok.Successful).toHaveLength(4);
    const error = await errorOf(
      ctx.clients.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: entries([MiB / 4, MiB / 4, MiB / 4, MiB / 4 + 1]),
        }),
      ),
    );
    expect(error.name).toMatch(/BatchRequestTooLong/);
    const tooMany = await errorOf(
      ctx.clients.sqs.send(
        new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries(Array(11).fill(1)) }),
      ),
    );
    expect(tooMany.name).toMatch(/TooManyEntriesInBatchRequest/);
  });

  it('GAP: refuses characters above U+FFFF that SQS accepts; escaped envelopes pass', async () => {
    const queueUrl = await createQueue(ctx.clients.sqs);
    const error = await errorOf(
      ctx.clients.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: '{"emoji":"😀"}' })),
    );
    expect(error.name).toMatch(/InvalidMessageContents/);
    const batch = {
      flowId: 'f',
      step: 0,
      runId: 'r',
      batchId: 'b',
      rows: [{ emoji: '😀', bad: '\uFFFF' }],
      meta: {},
    };
    await ctx.clients.sqs.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: encodeEnvelope(batch) }),
    );
    const [message] = await drain(ctx.clients.sqs, queueUrl);
    expect(decodeEnvelope(message?.Body ?? '')).toEqual(batch);
  });

  it('GAP: returns message attributes even when none are asked for (SQS returns only those named)', async () => {
    const queueUrl = await createQueue(ctx.clients.sqs);
    await ctx.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: 'm',
        MessageAttributes: { 'kisflow.error.code': { DataType: 'String', StringValue: 'X' } },
      }),
    );
    const [message] = await receiveOne(queueUrl);
    expect(message?.MessageAttributes?.['kisflow.error.code']?.StringValue).toBe('X');
  });

  it('honours VisibilityTimeout on receive and ChangeMessageVisibility to 0', async () => {
    const queueUrl = await createQueue(ctx.clients.sqs);
    await ctx.clients.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'v' }));
    const [first] = await receiveOne(queueUrl, 300);
    expect(first?.Body).toBe('v');
    expect(await receiveOne(queueUrl)).toHaveLength(0);
    await ctx.clients.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queueUrl,
        ReceiptHandle: first?.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );
    const [again] = await receiveOne(queueUrl);
    expect(again?.Attributes?.ApproximateReceiveCount).toBe('2');
  });

  it('honours DelaySeconds per message', async () => {
    const queueUrl = await createQueue(ctx.clients.sqs);
    await ctx.clients.sqs.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'd', DelaySeconds: 1 }),
    );
    expect(await receiveOne(queueUrl)).toHaveLength(0);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await receiveOne(queueUrl))[0]?.Body).toBe('d');
  });

  it('moves a message to the DLQ on the receive after maxReceiveCount, keeping body and attributes', async () => {
    const dlq = await createQueue(ctx.clients.sqs);
    const { Attributes } = await ctx.clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ['QueueArn'] }),
    );
    const queueUrl = await createQueue(ctx.clients.sqs, {
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: Attributes?.QueueArn, maxReceiveCount: 2 }),
    });
    await ctx.clients.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'poison' }));
    expect(await receiveOne(queueUrl, 0)).toHaveLength(1);
    expect(await receiveOne(queueUrl, 0)).toHaveLength(1);
    expect(await receiveOne(queueUrl, 0)).toHaveLength(0);
    const [dead] = await drain(ctx.clients.sqs, dlq);
    expect(dead?.Body).toBe('poison');
    // The receive count travels with the message into the DLQ: two receives, the move, this receive.
    expect(dead?.Attributes?.ApproximateReceiveCount).toBe('4');
  });

  it('GAP: has no StartMessageMoveTask (KisFlow redrives with receive → send → delete)', async () => {
    const error = await errorOf(
      ctx.clients.sqs.send(
        new StartMessageMoveTaskCommand({ SourceArn: 'arn:aws:sqs:us-east-1:000000000000:x' }),
      ),
    );
    expect(error.name).not.toBe('');
  });

  it('GAP: hands out queue URLs whose host does not resolve, so the endpoint must be set on the client', async () => {
    const out = await ctx.clients.sqs.send(new CreateQueueCommand({ QueueName: 'url-shape' }));
    expect(new URL(out.QueueUrl as string).hostname).toBe('sqs.us-east-1.localhost');
    // With `endpoint` configured (createAwsClients always sets it) the SDK ignores the URL's host.
    await ctx.clients.sqs.send(new SendMessageCommand({ QueueUrl: out.QueueUrl, MessageBody: 'ok' }));
    expect(await drain(ctx.clients.sqs, out.QueueUrl as string)).toHaveLength(1);
  });

  it('GAP: serves no EventBridge (kisflow send --via eventbridge needs LocalStack or AWS)', async () => {
    const error = await errorOf(
      ctx.clients.eventbridge.send(
        new PutEventsCommand({ Entries: [{ Source: 's', DetailType: 'd', Detail: '{}' }] }),
      ),
    );
    expect((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(400);
  });
});

describe.skipIf(!onEmbeddedEmulators)('dynalite (DynamoDB)', () => {
  const table = 'probe-table';
  const key = (pk: string, sk = 's') => ({ pk: { S: pk }, sk: { S: sk } });

  it('GAP: CreateTable answers CREATING even with createTableMs 0; ensureTable waits for ACTIVE', async () => {
    const out = await ctx.clients.dynamodb.send(
      new CreateTableCommand({
        TableName: 'probe-creating',
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      }),
    );
    expect(out.TableDescription?.TableStatus).toBe('CREATING');
    expect(await ensureTable(ctx.clients.dynamodb, table)).toMatchObject({ created: true, ttl: 'off' });
  });

  it('GAP: has no UpdateTimeToLive; ensureTable reports TTL unsupported and carries on', async () => {
    const error = await errorOf(
      ctx.clients.dynamodb.send(
        new UpdateTimeToLiveCommand({
          TableName: table,
          TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
        }),
      ),
    );
    expect(error.name).toBe('UnknownOperationException');
    expect(await ensureTable(ctx.clients.dynamodb, 'probe-ttl', { ttlAttribute: 'ttl' })).toMatchObject({
      ttl: 'unsupported',
    });
  });

  it('GAP: has no TransactWriteItems (the state store uses conditional UpdateItem per key)', async () => {
    const error = await errorOf(
      ctx.clients.dynamodb.send(
        new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: table, Item: key('t') } }] }),
      ),
    );
    expect(error.name).toBe('UnknownOperationException');
  });

  it('limits BatchWriteItem to 25 items and refuses duplicate keys in one request, like DynamoDB', async () => {
    const puts = (pks: string[]) => pks.map((pk) => ({ PutRequest: { Item: key(pk) } }));
    const many = Array.from({ length: 26 }, (_, i) => `k${i}`);
    expect(
      (
        await errorOf(
          ctx.clients.dynamodb.send(new BatchWriteItemCommand({ RequestItems: { [table]: puts(many) } })),
        )
      ).name,
    ).toBe('ValidationException');
    const duplicate = await errorOf(
      ctx.clients.dynamodb.send(new BatchWriteItemCommand({ RequestItems: { [table]: puts(['a', 'a']) } })),
    );
    expect(duplicate.message).toContain('duplicates');
    const ok = await ctx.clients.dynamodb.send(
      new BatchWriteItemCommand({ RequestItems: { [table]: puts(many.slice(0, 25)) } }),
    );
    // GAP: dynalite never throttles, so UnprocessedItems is always empty (tested with a fake client).
    expect(ok.UnprocessedItems).toEqual({});
  });

  it('limits BatchGetItem to 100 keys', async () => {
    const keys = Array.from({ length: 101 }, (_, i) => key(`g${i}`));
    const error = await errorOf(
      ctx.clients.dynamodb.send(new BatchGetItemCommand({ RequestItems: { [table]: { Keys: keys } } })),
    );
    expect(error.name).toBe('ValidationException');
    const ok = await ctx.clients.dynamodb.send(
      new BatchGetItemCommand({
        RequestItems: { [table]: { Keys: keys.slice(0, 100), ConsistentRead: true } },
      }),
    );
    expect(ok.UnprocessedKeys).toEqual({});
  });

  it('paginates Query with LastEvaluatedKey', async () => {
    for (let i = 0; i < 5; i++) {
      await ctx.clients.dynamodb.send(new PutItemCommand({ TableName: table, Item: key('page', `s${i}`) }));
    }
    const query = (start?: Record<string, { S: string }>) =>
      ctx.clients.dynamodb.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: 'page' } },
          Limit: 2,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
    const first = await query();
    expect(first.Items).toHaveLength(2);
    expect(first.LastEvaluatedKey).toBeDefined();
    const second = await query(first.LastEvaluatedKey as Record<string, { S: string }>);
    expect(second.Items?.map((i) => i.sk?.S)).toEqual(['s2', 's3']);
  });

  it('evaluates ConditionExpression and UpdateItem SET with list index, path copy, list_append, ADD and DELETE', async () => {
    const k = key('update');
    await ctx.clients.dynamodb.send(
      new UpdateItemCommand({
        TableName: table,
        Key: k,
        UpdateExpression: 'SET v = :one, l = :l, prev = :none ADD n :one, tags :tags',
        ConditionExpression: 'attribute_not_exists(pk)',
        ExpressionAttributeValues: {
          ':one': { N: '1' },
          ':l': { L: [{ S: 'a' }] },
          ':none': { NULL: true },
          ':tags': { SS: ['x', 'y'] },
        },
      }),
    );
    const again = await errorOf(
      ctx.clients.dynamodb.send(
        new UpdateItemCommand({
          TableName: table,
          Key: k,
          UpdateExpression: 'SET v = :one',
          ConditionExpression: 'attribute_not_exists(pk)',
          ExpressionAttributeValues: { ':one': { N: '1' } },
          // GAP: ignored by dynalite (no Item on the error); the state store re-reads instead.
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      ),
    );
    expect(again.name).toBe('ConditionalCheckFailedException');
    expect((again as { Item?: unknown }).Item).toBeUndefined();
    await ctx.clients.dynamodb.send(
      new UpdateItemCommand({
        TableName: table,
        Key: k,
        UpdateExpression:
          'SET prev = v, v = :two, l[5] = :b, m = list_append(l, :c) ADD n :one DELETE tags :x',
        ConditionExpression: 'v = :one AND NOT contains(l, :b)',
        ExpressionAttributeValues: {
          ':one': { N: '1' },
          ':two': { N: '2' },
          ':b': { S: 'b' },
          ':c': { L: [{ S: 'c' }] },
          ':x': { SS: ['x'] },
        },
      }),
    );
    const { Item } = await ctx.clients.dynamodb.send(
      new GetItemCommand({ TableName: table, Key: k, ConsistentRead: true }),
    );
    expect(Item).toMatchObject({
      v: { N: '2' },
      prev: { N: '1' },
      n: { N: '2' },
      l: { L: [{ S: 'a' }, { S: 'b' }] },
      m: { L: [{ S: 'a' }, { S: 'c' }] },
      tags: { SS: ['y'] },
    });
  });

  it('enforces the 400 KB item limit', async () => {
    const error = await errorOf(
      ctx.clients.dynamodb.send(
        new PutItemCommand({ TableName: table, Item: { ...key('big'), row: { S: 'x'.repeat(410 * 1024) } } }),
      ),
    );
    expect(error.name).toBe('ValidationException');
  });
});
