/**
 * Ordered vs unordered flow under `kisflow dev` on the same embedded emulators, in one run: the
 * same 5 Calculate steps and the same rows (updates to 100 keys), one flow with `tuning.ordering:
 * [key]` (FIFO queues, one message group per key hash, a group's messages one at a time) and one
 * without (standard queues). Rows/s from the first send into step 0 to the last row out of the
 * output queue; the rows that overtook an earlier update of their key are counted at the output of
 * both (the ordered flow must show none). Runs alternate over a few rounds after a warm-up; the
 * best of each is compared, with the median of the per-round ratios beside it.
 *
 * `node bin/run-ts.js bench/ordering.ts [rows] [rounds]`
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createAwsClients, destroyAwsClients } from '../kisflow/aws/clients.ts';
import { SqsTransport } from '../kisflow/aws/sqs-transport.ts';
import { buildProject } from '../kisflow/config/build-project.ts';
import { defineFunction } from '../kisflow/engine/function.ts';
import { Registry } from '../kisflow/engine/registry.ts';
import { startDevStack } from '../kisflow/local/dev-stack.ts';
import type { Row } from '../kisflow/ports.ts';
import { ORDERING_GROUPS } from '../kisflow/wire/message-group.ts';
import { startEmulators } from '../localstack/emulators.ts';

const KEYS = 100;
const MAX_MESSAGE_BYTES = 16_384;
const CONCURRENCY = 4;
const STEPS = ['s1', 's2', 's3', 's4', 's5'];

const flowInput = (flowId: string, ordering?: readonly string[]) => ({
  flow_id: flowId,
  flows: STEPS.map((fid) => ({ fid })),
  tuning: {
    batch_size: 10,
    max_concurrency: CONCURRENCY,
    max_message_bytes: MAX_MESSAGE_BYTES,
    ...(ordering === undefined ? {} : { ordering }),
  },
});
const project = buildProject({
  funcs: STEPS.map((fid) => ({ fid, fmode: 'Calculate' })),
  flows: [flowInput('ordered', ['key']), flowInput('unordered')],
});
const registry = new Registry();
for (const fid of STEPS) {
  registry.addFunction(
    fid,
    defineFunction((rows: Row[], ctx) => {
      for (const r of rows) ctx.commit({ ...r, hops: Number(r.hops ?? 0) + 1 });
    }),
  );
}

/** Drains an output queue in the background, keeping rows in arrival order. */
class Output {
  readonly rows: Row[] = [];
  #stopped = false;
  #waiters: { target: number; resolve: () => void }[] = [];
  readonly #loops: Promise<void>[];

  // CONCURRENCY readers, as many as a step has pollers: a FIFO group's next message is handed out
  // only after its previous one was deleted, so arrival order per key is still the queue's.
  constructor(sqs: SQSClient, url: string) {
    this.#loops = Array.from({ length: CONCURRENCY }, async () => {
      while (!this.#stopped) {
        const out = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
        );
        const messages = out.Messages ?? [];
        if (messages.length === 0) continue;
        for (const m of messages)
          this.rows.push(...((JSON.parse(m.Body ?? '{}') as { rows?: Row[] }).rows ?? []));
        // Deleted after the rows are taken: the next message of a FIFO group comes only then.
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: url,
            Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
        const due = this.#waiters.filter((w) => this.rows.length >= w.target);
        this.#waiters = this.#waiters.filter((w) => this.rows.length < w.target);
        for (const w of due) w.resolve();
      }
    });
  }

  /** Resolves once `n` more rows than now have arrived; gives the index the new ones start at. */
  more(n: number): { from: number; arrived: Promise<void> } {
    const from = this.rows.length;
    return { from, arrived: new Promise((resolve) => this.#waiters.push({ target: from + n, resolve })) };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#loops);
  }
}

/** Rows that came out after a later update of their key. */
function overtaken(rows: readonly Row[]): number {
  const last = new Map<string, number>();
  let count = 0;
  for (const row of rows) {
    const key = String(row.key);
    if (Number(row.seq) < (last.get(key) ?? -1)) count++;
    else last.set(key, Number(row.seq));
  }
  return count;
}

const rate = (rows: number, ms: number) => `${Math.round((rows / ms) * 1000).toLocaleString('en-US')} rows/s`;

export async function run(
  print: (line: string) => void,
  options: { rows?: number; rounds?: number } = {},
): Promise<void> {
  const n = options.rows ?? 10_000;
  const rounds = options.rounds ?? 3;
  const emulators = await startEmulators();
  const endpoints = { sqsEndpoint: emulators.sqsEndpoint, dynamodbEndpoint: emulators.dynamodbEndpoint };
  const clients = createAwsClients(endpoints);
  const stack = await startDevStack({
    dir: '.',
    root: process.cwd(),
    prefix: 'benchord',
    project,
    registry,
    endpoints,
    logLevel: 'SILENT',
    waitTimeSeconds: 1,
    watch: false,
  });
  const outputs: Output[] = [];
  try {
    const flowRun = (flowId: 'ordered' | 'unordered') => {
      const queues = stack.resources.flows[flowId];
      if (!queues) throw new Error(`flow ${flowId} was not provisioned`);
      const output = new Output(clients.sqs, queues.outputQueue);
      outputs.push(output);
      const transport = new SqsTransport({
        sqs: clients.sqs,
        queueUrl: () => queues.stepQueues[0] as string,
        maxMessageBytes: MAX_MESSAGE_BYTES,
        orderingOf: (id) => project.flows.get(id)?.tuning.ordering,
      });
      let runs = 0;
      return async (): Promise<{ ms: number; overtaken: number }> => {
        const id = `${flowId}-${runs++}`;
        const rows = Array.from({ length: n }, (_, seq) => ({ key: `k${seq % KEYS}`, seq, hops: 0 }));
        const started = performance.now();
        const { from, arrived } = output.more(n);
        // Sent in slices of 1000 updates, one after another, as a CDC feed arrives.
        for (let at = 0; at < n; at += 1000) {
          await transport.send(
            { kind: 'step', flowId, step: 0 },
            { flowId, step: 0, runId: id, batchId: `${id}-${at}`, rows: rows.slice(at, at + 1000), meta: {} },
          );
        }
        await arrived;
        const ms = performance.now() - started;
        return { ms, overtaken: overtaken(output.rows.slice(from)) };
      };
    };
    const ordered = flowRun('ordered');
    const unordered = flowRun('unordered');
    print(
      `  ${n.toLocaleString('en-US')} updates to ${KEYS} keys, 5 steps, ${CONCURRENCY} pollers per step, messages ≤ ${MAX_MESSAGE_BYTES} bytes; ordered: FIFO, ${ORDERING_GROUPS} message groups`,
    );
    await unordered();
    await ordered();
    const o: { ms: number; overtaken: number }[] = [];
    const u: { ms: number; overtaken: number }[] = [];
    for (let i = 0; i < rounds; i++) {
      if (i % 2 === 0) {
        u.push(await unordered());
        o.push(await ordered());
      } else {
        o.push(await ordered());
        u.push(await unordered());
      }
      const [oi, ui] = [o[i], u[i]] as [(typeof o)[0], (typeof o)[0]];
      print(
        `  round ${i + 1}: unordered ${rate(n, ui.ms)} (${ui.overtaken} rows overtook their key), ordered ${rate(n, oi.ms)} (${oi.overtaken} overtook)`,
      );
    }
    const best = (xs: { ms: number }[]) => Math.min(...xs.map((x) => x.ms));
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;
    print(`  unordered flow, standard queues (best): ${rate(n, best(u))}`);
    print(`  ordered flow, FIFO queues (best):       ${rate(n, best(o))}`);
    print(
      `  ratio ordered/unordered: ${(best(u) / best(o)).toFixed(2)} best-of-${rounds}, ${median(u.map((x, i) => x.ms / (o[i] as { ms: number }).ms)).toFixed(2)} median per round`,
    );
    print(
      `  rows that overtook their key: ordered ${o.reduce((s, x) => s + x.overtaken, 0)}, unordered ${u.reduce((s, x) => s + x.overtaken, 0)} (over all timed rounds)`,
    );
  } finally {
    await Promise.all(outputs.map((out) => out.stop()));
    await stack.stop();
    destroyAwsClients(clients);
    await emulators.stop();
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [rows, rounds] = process.argv.slice(2).map(Number);
  await run((line) => console.log(line), { ...(rows ? { rows } : {}), ...(rounds ? { rounds } : {}) });
}
