/**
 * The cost of run accounting under `kisflow dev`: the same 5-step flow (Verify, Calculate ×3,
 * Expand) twice on the same embedded emulators, in this one run: once with the run ledger wired
 * into every step (each batch's completion recorded in the runs table, the run started before its
 * first message, as `kisflow send` does), once without (no runs table in the steps' wiring). Real
 * step handlers behind the local pollers, as `kisflow dev` runs them in process. Printed: rows/s
 * best-of-N for both and their ratio (target ≥ 0.90), and the DynamoDB requests accounting adds,
 * counted at the client, per message a step handled and per run.
 *
 * `node bin/run-ts.js bench/accounting.ts [rows] [rounds]`
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { type AwsClients, createAwsClients, destroyAwsClients } from '../kisflow/aws/clients.ts';
import { DynamoRunLedger } from '../kisflow/aws/dynamodb-run-ledger.ts';
import { SqsTransport } from '../kisflow/aws/sqs-transport.ts';
import { buildProject } from '../kisflow/config/build-project.ts';
import { defineFunction } from '../kisflow/engine/function.ts';
import { Registry } from '../kisflow/engine/registry.ts';
import { createStepHandler } from '../kisflow/lambda/step-handler.ts';
import { devWiring, startDevStack } from '../kisflow/local/dev-stack.ts';
import { type Poller, type SqsEventHandler, startPoller } from '../kisflow/local/poller.ts';
import { provisionProject } from '../kisflow/local/provision.ts';
import { MemoryMetrics } from '../kisflow/memory/index.ts';
import type { Row } from '../kisflow/ports.ts';
import type { RunStatus } from '../kisflow/runs/run-ledger.ts';
import { packBatch } from '../kisflow/wire/pack.ts';
import { startEmulators } from '../localstack/emulators.ts';
import { writeFunctionModules } from './function-modules.ts';

const FLOW = 'acct';
const MAX_MESSAGE_BYTES = 16_384;
const CONCURRENCY = 2;
const TARGET = 0.9;

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
const project = buildProject(projectInput(FLOW));

/** The same functions as modules, for `kisflow dev`'s worker thread. */
const MODULES: Record<string, string> = {
  verify: '(_rows, ctx) => ctx.reuse()',
  add: '(rows, ctx) => { for (const r of rows) ctx.commit({ ...r, c: r.a + r.b }); }',
  check: '(_rows, ctx) => ctx.reuse()',
  scale: '(rows, ctx) => { for (const r of rows) ctx.commit({ ...r, d: r.c * 3 }); }',
  emit: '(rows, ctx) => { for (const r of rows) ctx.commit({ id: r.id, total: r.d + 1 }); }',
};

type R = Row & { a: number; b: number; c: number; d: number };
const registry = new Registry()
  .addFunction(
    'verify',
    defineFunction((_rows, ctx) => ctx.reuse()),
  )
  .addFunction(
    'add',
    defineFunction((rows: R[], ctx) => {
      for (const r of rows) ctx.commit({ ...r, c: r.a + r.b });
    }),
  )
  .addFunction(
    'check',
    defineFunction((_rows, ctx) => ctx.reuse()),
  )
  .addFunction(
    'scale',
    defineFunction((rows: R[], ctx) => {
      for (const r of rows) ctx.commit({ ...r, d: r.c * 3 });
    }),
  )
  .addFunction(
    'emit',
    defineFunction((rows: R[], ctx) => {
      for (const r of rows) ctx.commit({ id: r.id, total: r.d + 1 });
    }),
  );

/** The client, counting the requests sent through it by command name. */
function counting(client: DynamoDBClient): { client: DynamoDBClient; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  const wrapped = {
    send: (command: { constructor: { name: string } }) => {
      const name = command.constructor.name.replace(/Command$/, '');
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return client.send(command as never);
    },
  } as unknown as DynamoDBClient;
  return { client: wrapped, counts };
}

const total = (counts: Map<string, number>) => [...counts.values()].reduce((a, b) => a + b, 0);
const breakdown = (counts: Map<string, number>, per: number) =>
  [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${(v / per).toFixed(2)}`)
    .join(', ');

/** Rows reaching the output queue: a running count, and a wait for it to grow by `n`. */
function outputCounter(sqs: SQSClient, url: string) {
  let seen = 0;
  let stopped = false;
  let waiters: { target: number; resolve: () => void }[] = [];
  const loops = Array.from({ length: CONCURRENCY }, async () => {
    while (!stopped) {
      const out = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      const messages = out.Messages ?? [];
      if (messages.length === 0) continue;
      for (const m of messages)
        seen += (JSON.parse(m.Body ?? '{}') as { rows?: unknown[] }).rows?.length ?? 0;
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: url,
          Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
      const due = waiters.filter((w) => seen >= w.target);
      waiters = waiters.filter((w) => seen < w.target);
      for (const w of due) w.resolve();
    }
  });
  return {
    more: (n: number) => new Promise<void>((resolve) => waiters.push({ target: seen + n, resolve })),
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

interface Pipeline {
  /** Sends `rows` as one run and resolves when every row is out; returns the wall-clock ms. */
  run(runId: string, rows: readonly Row[]): Promise<number>;
  /** DynamoDB requests of the steps, by command. */
  readonly stepRequests: Map<string, number>;
  /** DynamoDB requests of starting runs, by command. */
  readonly startRequests: Map<string, number>;
  /** Messages the steps handled. */
  messages(): number;
  finalStatus(runId: string): Promise<RunStatus | undefined>;
  stop(): Promise<void>;
}

async function pipeline(clients: AwsClients, prefix: string, accounting: boolean): Promise<Pipeline> {
  const flow = project.flows.get(FLOW);
  if (!flow) throw new Error('no bench flow');
  const resources = await provisionProject(project, clients, { prefix });
  const queues = resources.flows[FLOW];
  if (!queues) throw new Error('the bench flow was not provisioned');
  const steps = counting(clients.dynamodb);
  const starts = counting(clients.dynamodb);
  let messages = 0;
  const pollers: Poller[] = flow.steps.map((spec, step) => {
    const { runsTable, ...unaccounted } = devWiring(project, flow, step, resources);
    const handler = createStepHandler({
      project,
      flowId: FLOW,
      step,
      fn: registry.getFunction(spec.fid),
      wiring: accounting ? { ...unaccounted, runsTable } : unaccounted,
      clients: { sqs: clients.sqs, dynamodb: steps.client },
      metrics: new MemoryMetrics(),
      logLevel: 'SILENT',
    });
    const counted: SqsEventHandler = (event, context) => {
      messages += event.Records.length;
      return handler(event, context);
    };
    return startPoller({
      sqs: clients.sqs,
      queueUrl: queues.stepQueues[step] as string,
      handler: counted,
      batchSize: flow.tuning.batchSize,
      batchingWindowSeconds: flow.tuning.batchingWindowSeconds,
      maxConcurrency: CONCURRENCY,
      waitTimeSeconds: 1,
      functionName: `${prefix}-${step}-${spec.fid}`,
    });
  });
  const out = outputCounter(clients.sqs, queues.outputQueue);
  const transport = new SqsTransport({
    sqs: clients.sqs,
    queueUrl: () => queues.stepQueues[0] as string,
    maxMessageBytes: MAX_MESSAGE_BYTES,
  });
  const ledger = new DynamoRunLedger({ dynamodb: starts.client, tableName: resources.runsTable });
  const reader = new DynamoRunLedger({ dynamodb: clients.dynamodb, tableName: resources.runsTable });
  return {
    async run(runId, rows) {
      const started = performance.now();
      const arrived = out.more(rows.length);
      const batch = { flowId: FLOW, step: 0, runId, batchId: runId, rows, meta: {} };
      if (accounting) {
        const roots = packBatch(batch, MAX_MESSAGE_BYTES).messages.length;
        await ledger.start({ runId, flowId: FLOW, trigger: 'api', roots });
      }
      await transport.send({ kind: 'step', flowId: FLOW, step: 0 }, batch);
      await arrived;
      return performance.now() - started;
    },
    stepRequests: steps.counts,
    startRequests: starts.counts,
    messages: () => messages,
    async finalStatus(runId) {
      // The last completion is recorded before the output message leaves; allow for the poller's lag.
      for (let i = 0; i < 50; i++) {
        const status = await reader.status(runId);
        if (status !== 'running') return status;
        await new Promise((r) => setTimeout(r, 100));
      }
      return 'running';
    },
    async stop() {
      await Promise.all(pollers.map((p) => p.stop()));
      await out.stop();
    },
  };
}

/**
 * `kisflow dev` itself: the flow's functions in its worker thread, the pollers and emulators in
 * this one. One flow for both sides: a run started in the ledger first (as `kisflow send` does) is
 * accounted; one that is not is only looked up (delivery records runs the ledger knows).
 */
async function devPipeline(emulators: { sqsEndpoint: string; dynamodbEndpoint: string }, root: string) {
  const flowId = 'acctw';
  const stack = await startDevStack({
    dir: '.',
    root,
    prefix: 'acctw',
    project: buildProject(projectInput(flowId), { root }),
    endpoints: { sqsEndpoint: emulators.sqsEndpoint, dynamodbEndpoint: emulators.dynamodbEndpoint },
    logLevel: 'SILENT',
    waitTimeSeconds: 1,
  });
  const clients = createAwsClients(emulators);
  const queues = stack.resources.flows[flowId];
  if (!queues) throw new Error('the bench flow was not provisioned');
  const out = outputCounter(clients.sqs, queues.outputQueue);
  const transport = new SqsTransport({
    sqs: clients.sqs,
    queueUrl: () => queues.stepQueues[0] as string,
    maxMessageBytes: MAX_MESSAGE_BYTES,
  });
  const ledger = new DynamoRunLedger({ dynamodb: clients.dynamodb, tableName: stack.resources.runsTable });
  return {
    async run(runId: string, rows: readonly Row[], accounted: boolean): Promise<number> {
      const started = performance.now();
      const arrived = out.more(rows.length);
      const batch = { flowId, step: 0, runId, batchId: runId, rows, meta: {} };
      if (accounted) {
        const roots = packBatch(batch, MAX_MESSAGE_BYTES).messages.length;
        await ledger.start({ runId, flowId, trigger: 'api', roots });
      }
      await transport.send({ kind: 'step', flowId, step: 0 }, batch);
      await arrived;
      return performance.now() - started;
    },
    async status(runId: string) {
      // The last completion is written while the output message leaves; allow for that.
      for (let i = 0; i < 50; i++) {
        const status = await ledger.status(runId);
        if (status !== 'running') return status;
        await new Promise((r) => setTimeout(r, 100));
      }
      return 'running';
    },
    async stop() {
      await out.stop();
      await stack.stop();
      destroyAwsClients(clients);
    },
  };
}

const rate = (rows: number, ms: number) => `${Math.round((rows / ms) * 1000).toLocaleString('en-US')} rows/s`;

export async function run(
  print: (line: string) => void,
  options: { rows?: number; rounds?: number } = {},
): Promise<void> {
  const n = options.rows ?? 20_000;
  const rounds = options.rounds ?? 5;
  const dataDir = mkdtempSync(join(tmpdir(), 'kisflow-bench-acct-'));
  // Durable, as `kisflow dev` runs them: journaled queues, tables on LevelDB.
  const emulators = await startEmulators({ dataDir });
  const clients = createAwsClients({
    sqsEndpoint: emulators.sqsEndpoint,
    dynamodbEndpoint: emulators.dynamodbEndpoint,
  });
  const modulesRoot = writeFunctionModules(MODULES);
  const dev = await devPipeline(emulators, modulesRoot);
  const on = await pipeline(clients, 'acct-on', true);
  const off = await pipeline(clients, 'acct-off', false);
  try {
    const rows = Array.from({ length: n }, (_, id) => ({
      id,
      a: id % 97,
      b: id % 13,
      pad: 'kisflow-bench-0123456789',
    }));
    const messages = packBatch(
      { flowId: FLOW, step: 0, runId: 'x', batchId: 'x', rows, meta: {} },
      MAX_MESSAGE_BYTES,
    ).messages.length;
    print(
      `  ${n.toLocaleString('en-US')} rows in ${messages} messages of ≤ ${MAX_MESSAGE_BYTES} bytes, 5 steps, ${CONCURRENCY} pollers per step, on ${emulators.external ? emulators.dynamodbEndpoint : 'fauxqs + dynalite'}`,
    );
    let runs = 0;
    const best = (xs: number[]) => Math.min(...xs);
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;
    const verdict = (r: number) => (r >= TARGET ? 'met' : 'NOT met');

    // 1. As `kisflow dev` runs a project: the functions in the flow's worker thread.
    print('  kisflow dev (the flow in its worker thread, as `kisflow dev` runs a project):');
    const devIds: string[] = [];
    const devOn = () => {
      const id = `acctw-${runs++}`;
      devIds.push(id);
      return dev.run(id, rows, true);
    };
    const devOff = () => dev.run(`acctw-${runs++}`, rows, false);
    await devOff();
    await devOn();
    devIds.length = 0;
    const devOnMs: number[] = [];
    const devOffMs: number[] = [];
    for (let i = 0; i < rounds; i++) {
      if (i % 2 === 0) {
        devOffMs.push(await devOff());
        devOnMs.push(await devOn());
      } else {
        devOnMs.push(await devOn());
        devOffMs.push(await devOff());
      }
      print(
        `    round ${i + 1}: ledger off ${rate(n, devOffMs[i] as number)}, ledger on ${rate(n, devOnMs[i] as number)}`,
      );
    }
    const devRatio = best(devOffMs) / best(devOnMs);
    const devPaired = median(devOnMs.map((ms, i) => (devOffMs[i] as number) / ms));
    const devStatuses = await Promise.all(devIds.map((id) => dev.status(id)));
    print(
      `    ratio on/off: ${devRatio.toFixed(2)} best-of-${rounds}, ${devPaired.toFixed(2)} median per round (target ≥ ${TARGET.toFixed(2)}): ${verdict(devRatio)}; runs recorded: ${devStatuses.filter((s) => s === 'succeeded').length} of ${devStatuses.length} succeeded`,
    );

    // 2. The steps' handlers in this thread, their DynamoDB client counting each request.
    print('  the same steps in this thread, DynamoDB requests counted at the client:');
    const runIds: string[] = [];
    const timedOn = async () => {
      const id = `acct-${runs++}`;
      runIds.push(id);
      return on.run(id, rows);
    };
    const timedOff = () => off.run(`acct-${runs++}`, rows);
    // Warm-up at full size: the JIT, connection pools and the emulators' queues settle first.
    await timedOff();
    await timedOn();
    on.stepRequests.clear();
    on.startRequests.clear();
    off.stepRequests.clear();
    const warmMessages = on.messages();
    const onMs: number[] = [];
    const offMs: number[] = [];
    for (let i = 0; i < rounds; i++) {
      // Alternate the order so that drift favours neither.
      if (i % 2 === 0) {
        offMs.push(await timedOff());
        onMs.push(await timedOn());
      } else {
        onMs.push(await timedOn());
        offMs.push(await timedOff());
      }
      print(
        `    round ${i + 1}: ledger off ${rate(n, offMs[i] as number)}, ledger on ${rate(n, onMs[i] as number)}`,
      );
    }
    const statuses = await Promise.all(runIds.map((id) => on.finalStatus(id)));
    const ratio = best(offMs) / best(onMs);
    const paired = median(onMs.map((ms, i) => (offMs[i] as number) / ms));
    const handled = on.messages() - warmMessages;
    const stepRequests = total(on.stepRequests);
    const startRequests = total(on.startRequests);
    print(`    ledger off (best): ${rate(n, best(offMs))}`);
    print(`    ledger on (best):  ${rate(n, best(onMs))}`);
    print(
      `    ratio on/off: ${ratio.toFixed(2)} best-of-${rounds}, ${paired.toFixed(2)} median per round (target ≥ ${TARGET.toFixed(2)}): ${ratio >= TARGET ? 'met' : 'NOT met'}`,
    );
    print(
      `    DynamoDB requests added: ${(stepRequests / handled).toFixed(2)} per message a step handled (${handled} messages over ${rounds} runs: ${breakdown(on.stepRequests, handled)}), plus ${(startRequests / rounds).toFixed(1)} per run to start it (${breakdown(on.startRequests, rounds)})`,
    );
    print(
      `    DynamoDB requests with the ledger off: ${total(off.stepRequests)}; runs recorded: ${statuses.filter((s) => s === 'succeeded').length} of ${statuses.length} succeeded exactly`,
    );
  } finally {
    await dev.stop();
    rmSync(modulesRoot, { recursive: true, force: true });
    await on.stop();
    await off.stop();
    destroyAwsClients(clients);
    await emulators.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [rows, rounds] = process.argv.slice(2).map(Number);
  await run((line) => console.log(line), { ...(rows ? { rows } : {}), ...(rounds ? { rounds } : {}) });
}
