import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsClients, createAwsClients, destroyAwsClients } from '../../../kisflow/aws/clients.ts';
import { DynamoRunLedger } from '../../../kisflow/aws/dynamodb-run-ledger.ts';
import { DynamoStateStore } from '../../../kisflow/aws/dynamodb-state-store.ts';
import { loadProject } from '../../../kisflow/config/index.ts';
import { type ProvisionedResources, provisionProject } from '../../../kisflow/local/provision.ts';
import type { Row } from '../../../kisflow/ports.ts';
import type { RunRecord } from '../../../kisflow/runs/run-ledger.ts';
import { type Emulators, startEmulators } from '../../../localstack/emulators.ts';
import { FIXTURE_ROOT, Sink, sendRows, totalsByUser, waitFor } from './harness.ts';

const REPO = join(import.meta.dirname, '..', '..', '..');
const PREFIX = 'rt-crash';

let emulators: Emulators;
let clients: AwsClients;
let resources: ProvisionedResources;
let sink: Sink;
const children: ChildProcess[] = [];

/** Starts a dev stack process on the test's emulators; resolves once it polls. */
async function startChild(log: string[]): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      'bin/run-ts.js',
      'test/integration/runtime/dev-child.ts',
      emulators.sqsEndpoint,
      emulators.dynamodbEndpoint,
      PREFIX,
    ],
    { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  child.stderr?.on('data', (chunk: Buffer) => log.push(chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('ready')) resolve();
    });
    child.once('exit', (code) =>
      reject(new Error(`dev child exited (${code}) before ready:\n${log.join('')}`)),
    );
  });
  return child;
}

async function inFlight(queueUrl: string): Promise<number> {
  const out = await clients.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}

beforeAll(async () => {
  emulators = await startEmulators();
  clients = createAwsClients({
    sqsEndpoint: emulators.sqsEndpoint,
    dynamodbEndpoint: emulators.dynamodbEndpoint,
  });
  const project = await loadProject(join(FIXTURE_ROOT, 'flows'), { root: FIXTURE_ROOT });
  // The same resources the child provisions (provisioning is idempotent): the test needs the URLs.
  resources = await provisionProject(project, clients, { prefix: PREFIX, visibilityTimeoutSeconds: 2 });
  sink = new Sink(clients.sqs, resources, ['slow']);
});

afterAll(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await sink?.stop();
  if (clients) destroyAwsClients(clients);
  await emulators?.stop();
});

describe('a dev stack process killed with SIGKILL mid-batch', () => {
  it('loses no row and applies no state twice once restarted', async () => {
    const log: string[] = [];
    const first = await startChild(log);
    const rows: Row[] = Array.from({ length: 60 }, (_, i) => ({
      tx_id: `crash-${String(i).padStart(3, '0')}`,
      user_id: `crash-u${i % 5}`,
      amount: i + 1,
    }));
    // Each part is a run in the runs table, as `kisflow send` starts it: it must end exactly.
    const ledger = new DynamoRunLedger({ dynamodb: clients.dynamodb, tableName: resources.runsTable });
    for (let part = 0; part < 3; part++) {
      await ledger.start({ runId: `crash-${part}`, flowId: 'slow', trigger: 'api', roots: 1 });
    }
    // Several messages (2 KiB each at most), so several batches are in the slow step at once.
    for (let part = 0; part < 3; part++) {
      await sendRows(clients.sqs, resources, 'slow', `crash-${part}`, rows.slice(part * 20, part * 20 + 20));
    }
    const slowQueue = resources.flows.slow?.stepQueues[1] as string;
    let inFlightSeen = false;
    const deadline = Date.now() + 15_000;
    while (!inFlightSeen && Date.now() < deadline) {
      inFlightSeen = (await inFlight(slowQueue)) > 0;
      if (!inFlightSeen) await new Promise((r) => setTimeout(r, 50));
    }
    expect(inFlightSeen).toBe(true);
    // Mid-sleep (the slow step takes 1.5 s per batch): the batch has been received, not finished.
    await new Promise((r) => setTimeout(r, 400));
    const killedWithInFlight = await inFlight(slowQueue);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    expect(first.signalCode).toBe('SIGKILL');
    expect(killedWithInFlight).toBeGreaterThan(0);
    const outputAtKill = new Set(sink.outputRows('slow', 'crash-').map((r) => r.tx_id)).size;
    expect(outputAtKill).toBeLessThan(rows.length);

    const second = await startChild(log);
    const accounted = () => {
      const ids = new Set([
        ...sink.outputRows('slow', 'crash-').map((r) => String(r.tx_id)),
        ...sink.deadRows('slow', 'crash-').map((d) => String(d.row.tx_id)),
      ]);
      return ids.size;
    };
    await waitFor('every row at the output or in a DLQ', () => accounted() >= rows.length, 30_000);

    // A redelivered batch may reach the output twice: count rows by id.
    const output = new Map(sink.outputRows('slow', 'crash-').map((r) => [String(r.tx_id), r]));
    const dead = new Map(sink.deadRows('slow', 'crash-').map((d) => [String(d.row.tx_id), d]));
    expect(output.size + dead.size).toBe(rows.length);
    expect([...output.keys()].filter((id) => dead.has(id))).toEqual([]);
    expect(new Set([...output.keys(), ...dead.keys()])).toEqual(new Set(rows.map((r) => String(r.tx_id))));
    expect(output.size).toBeGreaterThan(outputAtKill);

    // State: each user's running total is the sum of exactly the rows that passed it, once each.
    const passed = [...output.values()];
    const expected = totalsByUser(passed);
    const state = new DynamoStateStore({ dynamodb: clients.dynamodb, tableName: resources.stateTable });
    const totals = await state.read('slow/running_total', Object.keys(totalsByUser(rows)), 'crash-check');
    for (const user of Object.keys(totalsByUser(rows))) {
      expect(totals.get(user)?.value ?? 0).toBe(expected[user] ?? 0);
    }

    // The runs: each finished (never left running by the kill), every batch counted once.
    const runs: (RunRecord | undefined)[] = [];
    for (let part = 0; part < 3; part++) {
      let run = await ledger.get(`crash-${part}`);
      const until = Date.now() + 15_000;
      while (run?.status === 'running' && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 100));
        run = await ledger.get(`crash-${part}`);
      }
      runs.push(run);
    }
    for (const run of runs) {
      expect(run?.status).not.toBe('running');
      expect(run?.batches.done).toBe((run?.batches.roots ?? 0) + (run?.batches.spawned ?? 0));
      expect(run?.steps[0]?.in).toBe(20);
    }
    const last = Math.max(...runs.map((r) => r?.steps.length ?? 0)) - 1;
    expect(runs.reduce((n, r) => n + (r?.steps[last]?.out ?? 0), 0)).toBe(output.size);
    const lost = (r: RunRecord | undefined) =>
      (r?.steps ?? []).reduce((n, s) => n + s.rejected + s.deadLettered + s.dropped, 0);
    expect(runs.reduce((n, r) => n + lost(r), 0)).toBe(dead.size);

    second.kill('SIGTERM');
    await new Promise((r) => second.once('exit', r));
    expect(second.exitCode).toBe(0);
  }, 90_000);
});
