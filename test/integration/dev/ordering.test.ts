import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsClients, createAwsClients, destroyAwsClients } from '../../../kisflow/aws/clients.ts';
import { SqsTransport } from '../../../kisflow/aws/sqs-transport.ts';
import { isFifoQueue } from '../../../kisflow/config/names.ts';
import { type DevStack, startDevStack } from '../../../kisflow/local/dev-stack.ts';
import type { Row } from '../../../kisflow/ports.ts';
import { type Emulators, startEmulators } from '../../../localstack/emulators.ts';
import { Sink, waitFor } from '../runtime/harness.ts';
import { makeProject } from './dev-process.ts';

// 10,000 updates to 100 keys through 5 steps of an ordered flow, with a fault at three of them:
// a row that throws the first time it is seen (isolated and retried in place), a message that
// fails for an infrastructure reason (redelivered after its backoff), and a worker that exits in
// the middle of a batch (its thread replaced, the batches it held delivered again). Each fault
// writes a line to a file, so the test knows it happened.
const KEYS = 100;
const UPDATES = 10_000;
const PER_SEND = 1000;

const FIDS = ['first', 'flaky', 'throttled', 'exits', 'last'];

const project = makeProject({
  'flows/ordered.yml': `${FIDS.map(
    (fid) => `kistype: func
fid: ${fid}
fmode: Calculate
option: { retry_times: 2, retry_duration: 100 }
`,
  ).join('---\n')}---
kistype: flow
flow_id: ordered
status: 1
flows: [{ fid: first }, { fid: flaky }, { fid: throttled }, { fid: exits }, { fid: last }]
tuning: { ordering: [key], batch_size: 10, max_concurrency: 4, timeout: 10 }
`,
});

// `faults.replace('FAULTS', name)`: a file in the project folder.
const step = (
  fid: string,
  body: string,
) => `import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { defineFunction, InfrastructureError } from 'kisflow';
const faults = ${JSON.stringify(join(project.root, 'FAULTS'))};
export default defineFunction(async (rows, ctx) => {
  ${body}
  for (const row of rows) ctx.commit({ ...row, path: [...row.path, '${fid}'] });
});
`;

const functions: Record<string, string> = {
  'functions/first.ts': step('first', ''),
  // Throws on some rows the first time this thread sees them: the engine isolates and retries them.
  'functions/flaky.ts': step(
    'flaky',
    `const seen = (globalThis.__seen ??= new Set());
  for (const row of rows) {
    if (row.seq % 97 === 7 && !seen.has(row.seq)) {
      seen.add(row.seq);
      appendFileSync(faults.replace('FAULTS', 'flaky'), row.seq + '\\n');
      throw new Error('flaky on ' + row.seq);
    }
  }`,
  ),
  // Fails a whole message once for every 1000th update: SQS delivers it again after the backoff.
  'functions/throttled.ts': step(
    'throttled',
    `for (const row of rows) {
    const marker = faults.replace('FAULTS', 'throttled-' + row.seq);
    if (row.seq % 1000 === 500 && !existsSync(marker)) {
      writeFileSync(marker, '');
      appendFileSync(faults.replace('FAULTS', 'throttled'), row.seq + '\\n');
      throw new InfrastructureError('THROTTLED', 'the downstream system said slow down');
    }
  }`,
  ),
  // Ends its thread once, in the middle of a batch, as a crashed Lambda would.
  'functions/exits.ts': step(
    'exits',
    `const marker = faults.replace('FAULTS', 'exited');
  if (rows.some((row) => row.seq === 5555) && !existsSync(marker)) {
    writeFileSync(marker, '');
    process.exit(1);
  }`,
  ),
  'functions/last.ts': step('last', ''),
};
for (const [file, text] of Object.entries(functions)) project.write(file, text);

let emulators: Emulators;
let stack: DevStack;
let clients: AwsClients;
let sink: Sink;

beforeAll(async () => {
  emulators = await startEmulators();
  stack = await startDevStack({
    dir: 'flows',
    root: project.root,
    prefix: 'ord',
    endpoints: { sqsEndpoint: emulators.sqsEndpoint, dynamodbEndpoint: emulators.dynamodbEndpoint },
    waitTimeSeconds: 1,
    logLevel: 'SILENT',
    watch: false,
    log: () => {},
  });
  clients = createAwsClients({
    sqsEndpoint: emulators.sqsEndpoint,
    dynamodbEndpoint: emulators.dynamodbEndpoint,
  });
  sink = new Sink(clients.sqs, stack.resources, ['ordered']);
});

afterAll(async () => {
  await sink?.stop();
  await stack?.stop();
  if (clients) destroyAwsClients(clients);
  await emulators?.stop();
  project.remove();
});

const lines = (name: string): string[] => {
  try {
    return readFileSync(join(project.root, name), 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
};

describe('an ordered flow under kisflow dev', () => {
  it('runs on FIFO queues and their FIFO DLQs', () => {
    const queues = stack.resources.flows.ordered;
    expect(queues?.stepQueues).toHaveLength(5);
    for (const url of [...(queues?.stepQueues ?? []), ...(queues?.stepDeadLetterQueues ?? [])]) {
      expect(isFifoQueue(url), url).toBe(true);
    }
    expect(isFifoQueue(queues?.outputQueue ?? '')).toBe(true);
  });

  it('delivers 10,000 updates to 100 keys in per-key order through 5 steps, with faults, none lost or twice', async () => {
    const queues = stack.resources.flows.ordered;
    const transport = new SqsTransport({
      sqs: clients.sqs,
      queueUrl: () => queues?.stepQueues[0] as string,
      orderingOf: () => ['key'],
    });
    const updates: Row[] = Array.from({ length: UPDATES }, (_, seq) => ({
      key: `k${seq % KEYS}`,
      seq,
      path: [],
    }));
    for (let from = 0; from < UPDATES; from += PER_SEND) {
      const batch = {
        flowId: 'ordered',
        step: 0,
        runId: 'ordered-run',
        batchId: `send-${from}`,
        rows: updates.slice(from, from + PER_SEND),
        meta: {},
      };
      await transport.send({ kind: 'step', flowId: 'ordered', step: 0 }, batch);
      // The same batch sent again (a sender retrying after a lost response): deduplicated.
      if (from === 3000) await transport.send({ kind: 'step', flowId: 'ordered', step: 0 }, batch);
    }
    const out = () => sink.outputs.flatMap((o) => o.rows);
    await waitFor(`${UPDATES} rows out`, () => out().length >= UPDATES, 240_000);
    // A duplicate would arrive soon after the last row: give it the time to show.
    await new Promise((r) => setTimeout(r, 2000));

    const rows = out();
    expect(sink.deadLetters).toEqual([]);
    expect(rows).toHaveLength(UPDATES);
    expect(new Set(rows.map((r) => r.seq)).size).toBe(UPDATES);
    for (const row of rows) expect(row.path).toEqual(['first', 'flaky', 'throttled', 'exits', 'last']);
    const lastSeq = new Map<string, number>();
    const overtaken: string[] = [];
    for (const row of rows) {
      const before = lastSeq.get(String(row.key)) ?? -1;
      if (Number(row.seq) <= before) overtaken.push(`${row.key}: ${row.seq} after ${before}`);
      lastSeq.set(String(row.key), Number(row.seq));
    }
    expect(overtaken).toEqual([]);
    // The faults did happen.
    expect(lines('flaky').length).toBeGreaterThan(50);
    expect(lines('throttled')).toHaveLength(10);
    expect(lines('exited')).toEqual([]);
    expect(() => readFileSync(join(project.root, 'exited'))).not.toThrow();
  }, 300_000);
});
