/**
 * `kisflow dev` end to end on the embedded emulators (fauxqs + dynalite, in this process), durable
 * as `kisflow dev` runs them (queues journaled, tables on LevelDB, in a temporary directory):
 * 1. rows/s through a 5-step flow (Verify, Calculate ×3, Expand): the real Lambda handlers behind
 *    the local pollers, from the first send into step 0 to the last row out of the output queue,
 *    with the functions in this thread (registered in code) and, as `kisflow dev` runs a project's
 *    modules, in a worker thread per flow (the cost of isolation);
 * 2. the same rows, packed the same way, moved through 5 queue hops by a raw SDK loop
 *    (ReceiveMessage → SendMessageBatch to the next queue → DeleteMessageBatch, same
 *    concurrency per hop): what SQS alone costs on this emulator. Target: flow ≥ 0.5× raw;
 * 3. the flow again with 1% poison rows (the middle step throws for them: the engine isolates
 *    them and the handler dead-letters them with the reason). Target: ≥ 0.95× the clean run.
 * Runs alternate over a few rounds after a warm-up; the best of each is compared, and the median
 * of the per-round ratios is printed beside it (the machines these run on are noisy).
 *
 * `node bin/run-ts.js bench/dev-throughput.ts [rows] [rounds]`
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { createAwsClients, destroyAwsClients } from '../kisflow/aws/clients.ts';
import { SqsTransport } from '../kisflow/aws/sqs-transport.ts';
import { buildProject } from '../kisflow/config/build-project.ts';
import { stepMetricLabel } from '../kisflow/config/names.ts';
import { defineFunction } from '../kisflow/engine/function.ts';
import { Registry } from '../kisflow/engine/registry.ts';
import { startDevStack } from '../kisflow/local/dev-stack.ts';
import type { Row, StepBatch } from '../kisflow/ports.ts';
import { packBatch } from '../kisflow/wire/pack.ts';
import { startEmulators } from '../localstack/emulators.ts';
import { writeFunctionModules } from './function-modules.ts';

const MAX_MESSAGE_BYTES = 16_384;
const CONCURRENCY = 2;
const HOPS = 5;

interface BenchRow extends Row {
  id: number;
  a: number;
  b: number;
  pad: string;
  poison?: boolean;
}

function makeRows(n: number, poisonEvery: number): BenchRow[] {
  return Array.from({ length: n }, (_, id) => ({
    id,
    a: id % 97,
    b: id % 13,
    pad: 'kisflow-bench-row-padding-0123456789',
    ...(poisonEvery > 0 && id % poisonEvery === poisonEvery >> 1 ? { poison: true } : {}),
  }));
}

const projectInput = (flowId: string) => ({
  funcs: [
    { fid: 'verify', fmode: 'Verify', source: { must: ['id', 'a', 'b'] } },
    { fid: 'add', fmode: 'Calculate' },
    { fid: 'check', fmode: 'Calculate' },
    { fid: 'scale', fmode: 'Calculate' },
    { fid: 'emit', fmode: 'Expand' },
  ],
  flows: [
    {
      flow_id: flowId,
      flows: ['verify', 'add', 'check', 'scale', 'emit'].map((fid) => ({ fid })),
      tuning: { batch_size: 10, max_concurrency: CONCURRENCY, max_message_bytes: MAX_MESSAGE_BYTES },
    },
  ],
});
const project = buildProject(projectInput('bench'));

/** The same functions as modules, for the flow that runs them in a worker thread. */
const MODULES: Record<string, string> = {
  verify: '(_rows, ctx) => ctx.reuse()',
  add: '(rows, ctx) => { for (const r of rows) ctx.commit({ ...r, c: r.a + r.b }); }',
  check:
    '(rows, ctx) => { for (const r of rows) if (r.poison) throw new Error("poison row " + r.id); ctx.reuse(); }',
  scale: '(rows, ctx) => { for (const r of rows) ctx.commit({ ...r, d: r.c * 3 }); }',
  emit: '(rows, ctx) => { for (const r of rows) ctx.commit({ id: r.id, total: r.d + 1 }); }',
};

const registry = new Registry()
  .addFunction(
    'verify',
    defineFunction((_rows, ctx) => ctx.reuse()),
  )
  .addFunction(
    'add',
    defineFunction((rows: BenchRow[], ctx) => {
      for (const r of rows) ctx.commit({ ...r, c: r.a + r.b });
    }),
  )
  .addFunction(
    'check',
    defineFunction((rows: BenchRow[], ctx) => {
      for (const r of rows) if (r.poison) throw new Error(`poison row ${r.id}`);
      ctx.reuse();
    }),
  )
  .addFunction(
    'scale',
    defineFunction((rows: (BenchRow & { c: number })[], ctx) => {
      for (const r of rows) ctx.commit({ ...r, d: r.c * 3 });
    }),
  )
  .addFunction(
    'emit',
    defineFunction((rows: (BenchRow & { d: number })[], ctx) => {
      for (const r of rows) ctx.commit({ id: r.id, total: r.d + 1 });
    }),
  );

async function receive(sqs: SQSClient, url: string): Promise<Message[]> {
  const out = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
  );
  return out.Messages ?? [];
}

async function remove(sqs: SQSClient, url: string, messages: readonly Message[]): Promise<void> {
  await sqs.send(
    new DeleteMessageBatchCommand({
      QueueUrl: url,
      Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
    }),
  );
}

/**
 * CONCURRENCY loops per queue for the whole benchmark. They are never aborted mid-receive: a long
 * poll cut off by the client can still take messages, which then stay invisible for the queue's
 * visibility timeout and would stall the next run.
 */
function consume(
  sqs: SQSClient,
  urls: readonly string[],
  handle: (url: string, messages: Message[]) => Promise<void>,
) {
  let stopped = false;
  const loops = urls.flatMap((url) =>
    Array.from({ length: CONCURRENCY }, async () => {
      while (!stopped) {
        const messages = await receive(sqs, url);
        if (messages.length > 0) await handle(url, messages);
      }
    }),
  );
  return {
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

/** Rows arriving on some queues: a running count, and a wait for it to grow by `n`. */
class RowCounter {
  #seen = 0;
  #waiters: { target: number; resolve: () => void }[] = [];
  readonly #consumer: { stop: () => Promise<void> };

  constructor(sqs: SQSClient, urls: readonly string[]) {
    this.#consumer = consume(sqs, urls, async (url, messages) => {
      for (const m of messages)
        this.#seen += (JSON.parse(m.Body ?? '{}') as { rows?: unknown[] }).rows?.length ?? 0;
      await remove(sqs, url, messages);
      const due = this.#waiters.filter((w) => this.#seen >= w.target);
      this.#waiters = this.#waiters.filter((w) => this.#seen < w.target);
      for (const w of due) w.resolve();
    });
  }

  /** Resolves once `n` more rows than now have arrived. */
  more(n: number): Promise<void> {
    const target = this.#seen + n;
    return new Promise((resolve) => this.#waiters.push({ target, resolve }));
  }

  stop(): Promise<void> {
    return this.#consumer.stop();
  }
}

/** The raw loop: bodies forwarded unchanged through HOPS queues, CONCURRENCY workers per hop. */
function startForwarders(sqs: SQSClient, queues: readonly string[]) {
  return consume(sqs, queues.slice(0, HOPS), async (from, messages) => {
    const to = queues[queues.indexOf(from) + 1] as string;
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: to,
        Entries: messages.map((m, i) => ({ Id: String(i), MessageBody: m.Body ?? '' })),
      }),
    );
    await remove(sqs, from, messages);
  });
}

async function rawRun(
  sqs: SQSClient,
  first: string,
  counter: RowCounter,
  rows: readonly Row[],
): Promise<number> {
  const started = performance.now();
  const arrived = counter.more(rows.length);
  // The same packing as the flow's input.
  const batch: StepBatch = { flowId: 'raw', step: 0, runId: 'raw', batchId: 'raw', rows, meta: {} };
  const { messages } = packBatch(batch, MAX_MESSAGE_BYTES);
  for (let i = 0; i < messages.length; i += 10) {
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: first,
        Entries: messages.slice(i, i + 10).map((m, j) => ({ Id: String(j), MessageBody: m.body })),
      }),
    );
  }
  await arrived;
  return performance.now() - started;
}

const rate = (rows: number, ms: number) => `${Math.round((rows / ms) * 1000).toLocaleString('en-US')} rows/s`;

export async function run(
  print: (line: string) => void,
  options: { rows?: number; rounds?: number } = {},
): Promise<void> {
  const n = options.rows ?? 20_000;
  const rounds = options.rounds ?? 5;
  const dataDir = mkdtempSync(join(tmpdir(), 'kisflow-bench-'));
  const modulesRoot = writeFunctionModules(MODULES);
  const emulators = await startEmulators({ dataDir });
  const clients = createAwsClients({
    sqsEndpoint: emulators.sqsEndpoint,
    dynamodbEndpoint: emulators.dynamodbEndpoint,
  });
  const stack = await startDevStack({
    dir: '.',
    root: process.cwd(),
    prefix: 'bench',
    project,
    registry,
    endpoints: { sqsEndpoint: emulators.sqsEndpoint, dynamodbEndpoint: emulators.dynamodbEndpoint },
    logLevel: 'SILENT',
    waitTimeSeconds: 1,
  });
  const isolated = await startDevStack({
    dir: '.',
    root: modulesRoot,
    prefix: 'benchw',
    project: buildProject(projectInput('benchw'), { root: modulesRoot }),
    endpoints: { sqsEndpoint: emulators.sqsEndpoint, dynamodbEndpoint: emulators.dynamodbEndpoint },
    logLevel: 'SILENT',
    waitTimeSeconds: 1,
  });
  const stoppers: (() => Promise<void>)[] = [];
  try {
    const flow = stack.resources.flows.bench;
    const flowW = isolated.resources.flows.benchw;
    if (!flow || !flowW) throw new Error('the bench flows were not provisioned');
    const raw: string[] = [];
    for (let i = 0; i <= HOPS; i++) {
      const out = await clients.sqs.send(new CreateQueueCommand({ QueueName: `bench-raw-${i}` }));
      raw.push(out.QueueUrl as string);
    }
    const forwarders = startForwarders(clients.sqs, raw);
    const rawOut = new RowCounter(clients.sqs, [raw[HOPS] as string]);
    // Only the output is drained while timing: the poison step sends a row's rejection in the same
    // record as its other rows, so once every clean row is out, every rejection has been sent too.
    // (Draining the DLQ as well would bill the benchmark's own SQS calls to the poison run.)
    const flowOut = new RowCounter(clients.sqs, [flow.outputQueue]);
    const flowWOut = new RowCounter(clients.sqs, [flowW.outputQueue]);
    stoppers.push(
      () => forwarders.stop(),
      () => rawOut.stop(),
      () => flowOut.stop(),
      () => flowWOut.stop(),
    );
    const transport = new SqsTransport({ sqs: clients.sqs, queueUrl: () => flow.stepQueues[0] as string });
    const transportW = new SqsTransport({ sqs: clients.sqs, queueUrl: () => flowW.stepQueues[0] as string });
    let runs = 0;
    const runOf =
      (flowId: string, via: SqsTransport, out: RowCounter) =>
      async (rows: readonly BenchRow[]): Promise<number> => {
        const id = `bench-${runs++}`;
        const started = performance.now();
        const arrived = out.more(rows.filter((r) => r.poison !== true).length);
        await via.send(
          { kind: 'step', flowId, step: 0 },
          { flowId, step: 0, runId: id, batchId: id, rows, meta: {} },
        );
        await arrived;
        return performance.now() - started;
      };
    const flowRun = runOf('bench', transport, flowOut);
    const workerRun = runOf('benchw', transportW, flowWOut);
    const rawRunOf = (rows: readonly Row[]) => rawRun(clients.sqs, raw[0] as string, rawOut, rows);

    const clean = makeRows(n, 0);
    const poisoned = makeRows(n, 100);
    const messages = packBatch(
      { flowId: 'bench', step: 0, runId: 'x', batchId: 'x', rows: clean, meta: {} },
      MAX_MESSAGE_BYTES,
    ).messages.length;
    print(
      `  ${n.toLocaleString('en-US')} rows of ~${Math.round(JSON.stringify(clean[0]).length)} bytes in ${messages} messages of ≤ ${MAX_MESSAGE_BYTES} bytes, ${HOPS} hops, ${CONCURRENCY} pollers per step`,
    );
    // Warm-up at full size: the JIT, connection pools and the emulator's queues settle in the first
    // runs, which would otherwise count against whichever scenario went first.
    await rawRunOf(clean);
    await flowRun(clean);
    await workerRun(clean);
    await flowRun(poisoned);

    // Wall-clock time is what the targets are about; CPU time of this process (emulators included)
    // is printed beside it because it barely moves when other processes load the machine.
    const timed = async (work: () => Promise<number>): Promise<{ ms: number; cpu: number }> => {
      const before = process.cpuUsage();
      const ms = await work();
      const used = process.cpuUsage(before);
      return { ms, cpu: (used.user + used.system) / 1000 };
    };
    const raws: { ms: number; cpu: number }[] = [];
    const cleans: { ms: number; cpu: number }[] = [];
    const poisons: { ms: number; cpu: number }[] = [];
    const workers: { ms: number; cpu: number }[] = [];
    for (let i = 0; i < rounds; i++) {
      // Alternate the order so that drift (heap growth, a busy neighbour) favours no one.
      const order =
        i % 2 === 0
          ? (['raw', 'clean', 'worker', 'poison'] as const)
          : (['poison', 'worker', 'clean', 'raw'] as const);
      for (const which of order) {
        if (which === 'raw') raws.push(await timed(() => rawRunOf(clean)));
        else if (which === 'clean') cleans.push(await timed(() => flowRun(clean)));
        else if (which === 'worker') workers.push(await timed(() => workerRun(clean)));
        else poisons.push(await timed(() => flowRun(poisoned)));
      }
      const [r, c, w, p] = [raws[i], cleans[i], workers[i], poisons[i]] as [
        (typeof raws)[0],
        (typeof raws)[0],
        (typeof raws)[0],
        (typeof raws)[0],
      ];
      // CPU time is this process's: a worker thread's CPU counts, being in the same process.
      print(
        `  round ${i + 1}: raw ${rate(n, r.ms)}, flow ${rate(n, c.ms)}, flow in a worker ${rate(n, w.ms)}, flow with 1% poison ${rate(n, p.ms)} (CPU ms: ${r.cpu.toFixed(0)}, ${c.cpu.toFixed(0)}, ${w.cpu.toFixed(0)}, ${p.cpu.toFixed(0)})`,
      );
    }
    const best = (xs: number[]) => Math.min(...xs);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;
    const ms = (xs: { ms: number }[]) => xs.map((x) => x.ms);
    const cpu = (xs: { cpu: number }[]) => xs.map((x) => x.cpu);
    // Runs of one round are seconds apart and share the machine's load: their ratios are fairer.
    const paired = (num: number[], den: number[]) => median(num.map((x, i) => x / (den[i] as number)));
    const vsRaw = best(ms(raws)) / best(ms(cleans));
    const vsClean = best(ms(cleans)) / best(ms(poisons));
    const verdict = (r: number, target: number) => `${r >= target ? 'met' : 'NOT met'}`;
    print(`  raw SDK loop (best):        ${rate(n, best(ms(raws)))}`);
    print(`  dev flow, 5 steps (best):   ${rate(n, best(ms(cleans)))}`);
    print(`  dev flow in a worker (best): ${rate(n, best(ms(workers)))}`);
    print(`  dev flow, 1% poison (best): ${rate(n, best(ms(poisons)))}`);
    print(
      `  ratio flow/raw: ${vsRaw.toFixed(2)} best-of-${rounds}, ${paired(ms(raws), ms(cleans)).toFixed(2)} median per round, ${paired(cpu(raws), cpu(cleans)).toFixed(2)} by CPU time (target ≥ 0.50): ${verdict(vsRaw, 0.5)}`,
    );
    const workerVsRaw = best(ms(raws)) / best(ms(workers));
    print(
      `  ratio flow in a worker/raw: ${workerVsRaw.toFixed(2)} best-of-${rounds}, ${paired(ms(raws), ms(workers)).toFixed(2)} median per round (target ≥ 0.50): ${verdict(workerVsRaw, 0.5)}`,
    );
    print(
      `  ratio flow in a worker/in this thread: ${(best(ms(cleans)) / best(ms(workers))).toFixed(2)} best-of-${rounds}, ${paired(ms(cleans), ms(workers)).toFixed(2)} median per round (the cost of isolation)`,
    );
    print(
      `  ratio poison/clean: ${vsClean.toFixed(2)} best-of-${rounds}, ${paired(ms(cleans), ms(poisons)).toFixed(2)} median per round, ${paired(cpu(cleans), cpu(poisons)).toFixed(2)} by CPU time (target ≥ 0.95): ${verdict(vsClean, 0.95)}`,
    );
    const rejected = stack.metrics.counter('rows_rejected', { step: stepMetricLabel(2, 'check') });
    print(`  rows dead-lettered by the poison step over all runs: ${rejected.toLocaleString('en-US')}`);
  } finally {
    await Promise.all(stoppers.map((stop) => stop()));
    await stack.stop();
    await isolated.stop();
    destroyAwsClients(clients);
    await emulators.stop();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(modulesRoot, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [rows, rounds] = process.argv.slice(2).map(Number);
  await run((line) => console.log(line), { ...(rows ? { rows } : {}), ...(rounds ? { rounds } : {}) });
}
