/**
 * SQS packing: how many SendMessageBatch requests (and messages) one hop of 100,000 small rows
 * takes with SqsTransport, against the minimum SQS's size limits allow and against one message
 * per row. Runs on fauxqs in-process (or AWS_ENDPOINT_URL). Standalone:
 * `node bin/run-ts.js bench/sqs-packing.ts`.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CreateQueueCommand, DeleteQueueCommand } from '@aws-sdk/client-sqs';
import { createAwsClients, destroyAwsClients } from '../kisflow/aws/clients.ts';
import { tailQueue } from '../kisflow/aws/queue-tail.ts';
import { SqsTransport } from '../kisflow/aws/sqs-transport.ts';
import type { Row } from '../kisflow/ports.ts';
import { SQS_MAX_BATCH_BYTES, SQS_MAX_BATCH_ENTRIES } from '../kisflow/wire/limits.ts';
import { rowBytes } from '../kisflow/wire/pack.ts';
import { startEmulators } from '../localstack/emulators.ts';

const ROWS = 100_000;
const CITIES = ['Zürich', 'Lyon', 'München', '上海', 'São Paulo', 'Kraków', 'Oslo'];

/** An order line as a shop would emit it: ids, a SKU, amounts, a timestamp, some Unicode. */
function orderRow(i: number): Row {
  return {
    order_id: `ord-${String(i).padStart(7, '0')}`,
    user_id: `u-${(i * 7919) % 50_000}`,
    sku: `SKU-${(i * 31) % 9_973}`,
    qty: (i % 5) + 1,
    price: Math.round(((i * 37) % 20_000) + 99) / 100,
    currency: 'EUR',
    city: CITIES[i % CITIES.length],
    ts: new Date(Date.UTC(2026, 10, 25, 8, 0, 0) + i * 1_000).toISOString(),
  };
}

const fmt = (n: number) => n.toLocaleString('en-US');
const ratio = (a: number, b: number) => `${(a / b).toFixed(3)}×`;

export async function run(print: (line: string) => void): Promise<void> {
  const emulators = await startEmulators();
  const { sqs, dynamodb, eventbridge } = createAwsClients({
    sqsEndpoint: emulators.sqsEndpoint,
    dynamodbEndpoint: emulators.dynamodbEndpoint,
  });
  try {
    const rows = Array.from({ length: ROWS }, (_, i) => orderRow(i));
    const rowTotal = rows.reduce((sum, r) => sum + rowBytes(r), 0);
    print(
      `${fmt(ROWS)} rows, ${fmt(rowTotal)} bytes as JSON (${(rowTotal / ROWS).toFixed(0)} B/row) on ${emulators.external ? emulators.sqsEndpoint : 'fauxqs'}`,
    );
    for (const maxMessageBytes of [262_144, 1_048_576]) {
      const { QueueUrl } = await sqs.send(
        new CreateQueueCommand({ QueueName: `bench-packing-${process.pid}-${maxMessageBytes}` }),
      );
      const queueUrl = QueueUrl as string;
      const transport = new SqsTransport({ sqs, queueUrl: () => queueUrl, maxMessageBytes });
      const started = performance.now();
      await transport.send(
        { kind: 'step', flowId: 'bench', step: 1 },
        { flowId: 'bench', step: 1, runId: 'bench-run', batchId: 'bench-batch', rows, meta: {} },
      );
      const ms = performance.now() - started;
      const { requests, messages, bytes } = transport.stats;
      const minMessages = Math.ceil(bytes / maxMessageBytes);
      const minRequests = Math.ceil(bytes / SQS_MAX_BATCH_BYTES);
      const perRowRequests = Math.ceil(ROWS / SQS_MAX_BATCH_ENTRIES);
      print(`max_message_bytes ${fmt(maxMessageBytes)}: ${fmt(bytes)} bytes sent in ${ms.toFixed(0)} ms`);
      print(
        `  messages ${fmt(messages)} vs minimum ceil(bytes/${fmt(maxMessageBytes)}) = ${fmt(minMessages)}: ${ratio(messages, minMessages)} (target ≤ 1.1×)`,
      );
      print(
        `  SendMessageBatch requests per hop ${fmt(requests)} vs minimum ceil(bytes/${fmt(SQS_MAX_BATCH_BYTES)}) = ${fmt(minRequests)}: ${ratio(requests, minRequests)} (target ≤ 1.1×)`,
      );
      print(
        `  one message per row: ${fmt(ROWS)} messages in ${fmt(perRowRequests)} requests: ${(perRowRequests / requests).toFixed(0)}× the requests, ${(ROWS / messages).toFixed(0)}× the messages`,
      );
      let back = 0;
      await tailQueue(sqs, queueUrl, {
        waitTimeSeconds: 0,
        onBatch: (b) => {
          back += b.rows.length;
        },
      });
      print(
        `  received back: ${fmt(back)} rows${back === ROWS ? ', all intact' : ` (EXPECTED ${fmt(ROWS)})`}`,
      );
      await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
    }
  } finally {
    destroyAwsClients({ sqs, dynamodb, eventbridge });
    await emulators.stop();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await run((line) => process.stdout.write(`${line}\n`));
}
