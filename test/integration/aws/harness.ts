import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll } from 'vitest';
import { type AwsClients, createAwsClients, destroyAwsClients } from '../../../kisflow/aws/clients.ts';
import { type Emulators, startEmulators } from '../../../localstack/emulators.ts';

/**
 * True when the tests run on the embedded emulators (fauxqs, dynalite), false when
 * AWS_ENDPOINT_URL points them at another server (LocalStack, MiniStack, moto): a test of an
 * emulator's gap runs only against that emulator.
 */
export const onEmbeddedEmulators = (process.env.AWS_ENDPOINT_URL ?? '') === '';

/** Emulators started once for the test file (port 0), and clients bound to them. */
export function useEmulators(): { readonly emulators: Emulators; readonly clients: AwsClients } {
  const context = {} as { emulators: Emulators; clients: AwsClients };
  beforeAll(async () => {
    context.emulators = await startEmulators();
    context.clients = createAwsClients({
      sqsEndpoint: context.emulators.sqsEndpoint,
      dynamodbEndpoint: context.emulators.dynamodbEndpoint,
    });
  });
  afterAll(async () => {
    if (context.clients) destroyAwsClients(context.clients);
    await context.emulators?.stop();
  });
  return context;
}

let counter = 0;
/** A fresh queue with a unique name. */
export async function createQueue(sqs: SQSClient, attributes: Record<string, string> = {}): Promise<string> {
  const out = await sqs.send(
    new CreateQueueCommand({
      QueueName: `test-${process.pid}-${++counter}-${Date.now()}`,
      Attributes: attributes,
    }),
  );
  return out.QueueUrl as string;
}

/** Receives (and deletes) until the queue returns nothing. */
export async function drain(sqs: SQSClient, queueUrl: string): Promise<Message[]> {
  const all: Message[] = [];
  for (;;) {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
      }),
    );
    const got = out.Messages ?? [];
    if (got.length === 0) return all;
    all.push(...got);
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: got.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle })),
      }),
    );
  }
}
