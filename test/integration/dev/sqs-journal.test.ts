import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateQueueCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { createAwsClients, destroyAwsClients } from '../../../kisflow/aws/clients.ts';
import { KisFlowError } from '../../../kisflow/errors.ts';
import { startEmulators } from '../../../localstack/emulators.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function withEmulators<T>(
  dataDir: string,
  work: (sqs: ReturnType<typeof createAwsClients>['sqs']) => Promise<T>,
) {
  const emulators = await startEmulators({ dataDir });
  const clients = createAwsClients({
    sqsEndpoint: emulators.sqsEndpoint,
    dynamodbEndpoint: emulators.dynamodbEndpoint,
  });
  try {
    return await work(clients.sqs);
  } finally {
    destroyAwsClients(clients);
    await emulators.stop();
  }
}

describe('the SQS journal', () => {
  it('restores what it holds when its last line was torn by a crash mid-write', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kisflow-journal-'));
    dirs.push(dataDir);
    await withEmulators(dataDir, async (sqs) => {
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'j' }));
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'kept' }));
    });
    appendFileSync(join(dataDir, 'sqs.jsonl'), '{"t":"put","q":"j","m":{"messageId":"torn","bo');
    await withEmulators(dataDir, async (sqs) => {
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'j' }));
      const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
      expect((out.Messages ?? []).map((m) => m.Body)).toEqual(['kept']);
    });
    // The start rewrote the journal without the torn line.
    expect(readFileSync(join(dataDir, 'sqs.jsonl'), 'utf8')).not.toContain('"torn"');
  });

  it('refuses a journal damaged in the middle with a code, the file and what to do', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kisflow-journal-'));
    dirs.push(dataDir);
    writeFileSync(join(dataDir, 'sqs.jsonl'), 'not json\n{"t":"purged","q":"x"}\n{"t":"purged","q":"x"}\n');
    const failure = await startEmulators({ dataDir }).then(
      (e) => e.stop().then(() => undefined),
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(KisFlowError);
    expect(failure).toMatchObject({ code: 'JOURNAL_CORRUPT', context: { line: 1 } });
    expect((failure as Error).message).toMatch(/sqs\.jsonl is not JSON.*kisflow dev --fresh/);
  });
});
