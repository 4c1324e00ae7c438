import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsClients, createAwsClients, destroyAwsClients } from '../../../kisflow/aws/clients.ts';
import { DynamoConnectorStore } from '../../../kisflow/aws/dynamodb-connector-store.ts';
import { DynamoStateStore } from '../../../kisflow/aws/dynamodb-state-store.ts';
import { buildProject, loadProject } from '../../../kisflow/config/index.ts';
import { stepMetricLabel } from '../../../kisflow/config/names.ts';
import { defineFunction, FlowPlan, loadFunctions, Registry, runFlow } from '../../../kisflow/engine/index.ts';
import { type DevStack, startDevStack } from '../../../kisflow/local/dev-stack.ts';
import { MemoryConnectorStore, MemoryStateStore } from '../../../kisflow/memory/index.ts';
import type { Row } from '../../../kisflow/ports.ts';
import { encodeEnvelope } from '../../../kisflow/wire/envelope.ts';
import { type Emulators, startEmulators } from '../../../localstack/emulators.ts';
import { byTxId, FIXTURE_ROOT, Sink, sendRaw, sendRows, totalsByUser, waitFor } from './harness.ts';

// Longer than any retry delay below (retry_duration 1 s, doubling), so a retry that arrives early
// proves the handler's ChangeMessageVisibility backoff, not the queue's timeout.
const VISIBILITY_SECONDS = 5;

let emulators: Emulators;
let stack: DevStack;
let clients: AwsClients;
let sink: Sink;
const lines: string[] = [];

beforeAll(async () => {
  emulators = await startEmulators();
  stack = await startDevStack({
    dir: 'flows',
    root: FIXTURE_ROOT,
    prefix: 'rt-dev',
    endpoints: { sqsEndpoint: emulators.sqsEndpoint, dynamodbEndpoint: emulators.dynamodbEndpoint },
    visibilityTimeoutSeconds: VISIBILITY_SECONDS,
    logLevel: 'SILENT',
    log: (line) => lines.push(line),
  });
  clients = createAwsClients({
    sqsEndpoint: emulators.sqsEndpoint,
    dynamodbEndpoint: emulators.dynamodbEndpoint,
  });
  sink = new Sink(clients.sqs, stack.resources, ['ledger', 'flaky']);
});

afterAll(async () => {
  await sink?.stop();
  await stack?.stop();
  if (clients) destroyAwsClients(clients);
  await emulators?.stop();
});

const counter = (name: string, step?: string) =>
  stack.metrics.counter(name, step === undefined ? undefined : { step });

/** The `step` label of a ledger/flaky step's metrics. */
const label = (flow: 'ledger' | 'flaky', fid: string) => {
  const steps = {
    ledger: ['verify_tx', 'save_tx', 'load_tx', 'running_total', 'publish_tx'],
    flaky: ['flaky_step', 'publish_tx'],
  };
  return stepMetricLabel(steps[flow].indexOf(fid), fid);
};

function ledgerRows(prefix: string, n: number, extra: (i: number) => Row = () => ({})): Row[] {
  return Array.from({ length: n }, (_, i) => ({
    tx_id: `${prefix}-${String(i).padStart(3, '0')}`,
    user_id: `${prefix}-u${i % 4}`,
    amount: i + 1,
    ...extra(i),
  }));
}

describe('kisflow dev stack on the emulators', () => {
  it('serves every enabled flow and none that is off', () => {
    expect([...stack.flowIds].sort()).toEqual(['flaky', 'ledger', 'slow']);
    expect(Object.keys(stack.resources.flows).sort()).toEqual(['flaky', 'ledger', 'slow']);
  });

  it('a 5-step flow (Verify, Save, Load, stateful Calculate, Expand) gives what runFlow gives in memory', async () => {
    const rows = ledgerRows('eq', 40);
    // The same input in memory: one batch, as one message carries it.
    const project = await loadProject(join(FIXTURE_ROOT, 'flows'), { root: FIXTURE_ROOT });
    const registry = await loadFunctions(project, { flowIds: ['ledger'] });
    const memoryStore = new MemoryConnectorStore();
    const memoryState = new MemoryStateStore();
    const expected = await runFlow(FlowPlan.build(project, 'ledger'), rows, registry, {
      store: memoryStore,
      state: memoryState,
    });
    expect(expected.output).toHaveLength(40);

    await sendRows(clients.sqs, stack.resources, 'ledger', 'eq-batch', rows);
    await waitFor('40 output rows', () => sink.outputRows('ledger', 'eq-').length >= 40);
    const got = [...byTxId(sink.outputRows('ledger', 'eq-')).values()];
    const sort = (list: Row[]) => [...list].sort((a, b) => String(a.tx_id).localeCompare(String(b.tx_id)));
    expect(sort(got)).toEqual(sort(expected.output));
    expect(got.every((r) => r.stored === 1 && r.topic === 'ledger.out')).toBe(true);

    // Keyed state and connector items equal the in-memory run's.
    const users = Object.keys(totalsByUser(rows));
    const dynamoState = new DynamoStateStore({
      dynamodb: clients.dynamodb,
      tableName: stack.resources.stateTable,
    });
    const memoryTotals = await memoryState.read('ledger/running_total', users, 'check');
    const dynamoTotals = await dynamoState.read('ledger/running_total', users, 'check');
    for (const user of users) {
      expect(dynamoTotals.get(user)?.value).toBe(memoryTotals.get(user)?.value);
      expect(dynamoTotals.get(user)?.value).toBe(totalsByUser(rows)[user]);
    }
    const connector = new DynamoConnectorStore({
      dynamodb: clients.dynamodb,
      tableName: (cid) => stack.resources.connectorTables[cid] as string,
    });
    const keys = rows.map((r) => String(r.tx_id));
    const stored = await connector.get('ledger_txs', keys);
    const memoryStored = await memoryStore.get('ledger_txs', keys);
    for (const key of keys) expect(stored.get(key)).toEqual(memoryStored.get(key));
  });

  it('rows a function throws on go to that step’s DLQ with the error; the others reach the output', async () => {
    const rows = ledgerRows('poison', 30, (i) => ({ poison: i % 10 === 3 }));
    await sendRows(clients.sqs, stack.resources, 'ledger', 'poison-batch', rows);
    await waitFor('27 output rows and 3 dead rows', () => {
      return (
        sink.outputRows('ledger', 'poison-').length >= 27 && sink.deadRows('ledger', 'poison-').length >= 3
      );
    });
    const dead = sink.deadRows('ledger', 'poison-');
    expect(dead.map((d) => d.row.tx_id).sort()).toEqual(['poison-003', 'poison-013', 'poison-023']);
    for (const d of dead) {
      expect(d.step).toBe(3);
      expect(d.code).toBe('FUNCTION_ERROR');
      expect(d.reason).toBe(`poison row ${String(d.row.tx_id)}`);
      expect(d.letter.code).toBe('FUNCTION_ERROR');
    }
    const out = byTxId(sink.outputRows('ledger', 'poison-'));
    expect(out.size).toBe(27);
    expect([...out.keys()].some((id) => dead.some((d) => d.row.tx_id === id))).toBe(false);
  });

  it('a malformed message is dead-lettered at once with its reason, never retried', async () => {
    const before = {
      dead: counter('messages_dead_lettered', label('ledger', 'verify_tx')),
      retried: counter('messages_retried'),
    };
    const started = Date.now();
    await sendRaw(clients.sqs, stack.resources, 'ledger', 0, 'this is not JSON');
    const v2 = encodeEnvelope({
      flowId: 'ledger',
      step: 0,
      runId: 'r',
      batchId: 'b',
      rows: [],
      meta: {},
    }).replace('{"v":1,', '{"v":2,');
    await sendRaw(clients.sqs, stack.resources, 'ledger', 0, v2);
    await sendRaw(clients.sqs, stack.resources, 'ledger', 0, '{"v":1,"flow":"ledger"}');
    const malformed = () =>
      sink.deadLetters.filter((d) => d.flow === 'ledger' && d.step === 0 && d.kind !== 'rejected');
    await waitFor('3 malformed dead letters', () => malformed().length >= 3);
    // Within one visibility timeout: no receive was left to time out and come back.
    expect(Date.now() - started).toBeLessThan(VISIBILITY_SECONDS * 1000);
    const byBody = new Map(malformed().map((d) => [d.body, d]));
    expect(byBody.get('this is not JSON')).toMatchObject({ code: 'MALFORMED_JSON', kind: 'unreadable' });
    expect(byBody.get(v2)?.code).toBe('UNSUPPORTED_VERSION');
    expect(byBody.get(v2)?.message).toMatch(/version 2 envelope; this KisFlow reads version 1/);
    expect(byBody.get('{"v":1,"flow":"ledger"}')?.code).toBe('INVALID_ENVELOPE');
    // The handler counts a dead letter once its send returned: the sink may see the message first.
    await waitFor(
      '3 dead letters counted',
      () => counter('messages_dead_lettered', label('ledger', 'verify_tx')) - before.dead >= 3,
    );
    expect(counter('messages_dead_lettered', label('ledger', 'verify_tx')) - before.dead).toBe(3);
    expect(counter('messages_retried') - before.retried).toBe(0);
  });

  it('a row too large for any message goes to the DLQ as ROW_TOO_LARGE; its neighbours go on', async () => {
    const rows = ledgerRows('big', 6, (i) => ({ blow_up: i === 2 }));
    await sendRows(clients.sqs, stack.resources, 'ledger', 'big-batch', rows);
    await waitFor('5 output rows and 1 dead row', () => {
      return sink.outputRows('ledger', 'big-').length >= 5 && sink.deadRows('ledger', 'big-').length >= 1;
    });
    const [dead] = sink.deadRows('ledger', 'big-');
    expect(dead?.code).toBe('ROW_TOO_LARGE');
    expect(dead?.reason).toMatch(/more than fits a message of 262144 bytes/);
    expect(dead?.row.tx_id).toBe('big-002');
    expect(String(dead?.row.blob).length).toBe(300_000);
    // Kept by the step that produced it: publish_tx (step 4), the only DLQ it may write.
    expect(dead?.letter.step).toBe(4);
    expect(byTxId(sink.outputRows('ledger', 'big-')).has('big-002')).toBe(false);
  });

  it('the same message delivered twice applies its state and connector writes once, with the same downstream ids', async () => {
    const rows = ledgerRows('dup', 12);
    const body = encodeEnvelope({
      flowId: 'ledger',
      step: 0,
      runId: 'dup-run',
      batchId: 'dup-batch',
      rows,
      meta: {},
    });
    await sendRaw(clients.sqs, stack.resources, 'ledger', 0, body);
    await sendRaw(clients.sqs, stack.resources, 'ledger', 0, body);
    await waitFor('both deliveries at the output', () => sink.outputRows('ledger', 'dup-').length >= 24);
    const outputs = sink.outputs.filter((o) => o.rows.some((r) => String(r.tx_id).startsWith('dup-')));
    // Two deliveries → two output messages with one batch id and the same rows.
    expect(outputs).toHaveLength(2);
    expect(outputs[0]?.batch).toBe(outputs[1]?.batch);
    expect(outputs[0]?.rows).toEqual(outputs[1]?.rows);

    const expected = totalsByUser(rows);
    const state = new DynamoStateStore({ dynamodb: clients.dynamodb, tableName: stack.resources.stateTable });
    const totals = await state.read('ledger/running_total', Object.keys(expected), 'check');
    for (const [user, total] of Object.entries(expected)) {
      expect(totals.get(user)).toMatchObject({ value: total, version: 1 });
    }
    // Each output row's running total counts every earlier row of its user once.
    for (const row of outputs[0]?.rows ?? []) {
      const earlier = rows.filter((r) => r.user_id === row.user_id && String(r.tx_id) <= String(row.tx_id));
      expect(row.user_total).toBe(earlier.reduce((s, r) => s + Number(r.amount), 0));
    }
    const connector = new DynamoConnectorStore({
      dynamodb: clients.dynamodb,
      tableName: (cid) => stack.resources.connectorTables[cid] as string,
    });
    const stored = await connector.get(
      'ledger_txs',
      rows.map((r) => String(r.tx_id)),
    );
    for (const row of rows) expect(stored.get(String(row.tx_id))).toEqual([row]);
  });

  it('an infrastructure failure is retried after retry_duration; retries exhausted → DLQ with the reason', async () => {
    const before = counter('messages_retried', label('flaky', 'flaky_step'));
    const started = Date.now();
    await sendRows(clients.sqs, stack.resources, 'flaky', 'flaky-once', [
      { tx_id: 'flaky-once-1', user_id: 'f', amount: 1 },
    ]);
    await sendRows(clients.sqs, stack.resources, 'flaky', 'flaky-down', [
      { tx_id: 'flaky-down-1', user_id: 'f', amount: 1, always_down: true },
    ]);
    await waitFor('the retried row at the output', () => sink.outputRows('flaky', 'flaky-once-').length >= 1);
    // The first attempt failed, the message came back after ~1 s (retry_duration), well before
    // the queue's 5 s visibility timeout.
    expect(Date.now() - started).toBeLessThan(VISIBILITY_SECONDS * 1000 - 500);
    await waitFor(
      'the always-failing message in the DLQ',
      () => sink.deadRows('flaky', 'flaky-down-').length >= 1,
    );
    const [dead] = sink.deadRows('flaky', 'flaky-down-');
    expect(dead?.letter).toMatchObject({ step: 0, code: 'STORE_DOWN', kind: 'envelope' });
    expect(dead?.letter.message).toMatch(/the store is down \(attempt 3\)/);
    // max_receives 3: received 3 times, dead-lettered by the handler on the 3rd (1 s + 2 s of backoff).
    expect(Date.now() - started).toBeLessThan(2 * VISIBILITY_SECONDS * 1000);
    expect(counter('messages_retried', label('flaky', 'flaky_step')) - before).toBe(3);
    expect(sink.deadRows('flaky', 'flaky-down-')).toHaveLength(1);
    expect(lines.filter((l) => /error/i.test(l))).toEqual([]);
  });
});

describe('jobs under kisflow dev', () => {
  it('a job fires on time and its tick runs through the flow with the job params as metadata', async () => {
    const at = new Date(Date.now() + 2500);
    at.setUTCMilliseconds(0);
    const project = buildProject(
      {
        funcs: [{ fid: 'stamp', fmode: 'Expand' }],
        flows: [{ flow_id: 'ticks', flows: [{ fid: 'stamp' }] }],
        jobs: [
          {
            job_id: 'soon',
            schedule: `at(${at.toISOString().slice(0, 19)})`,
            timezone: 'UTC',
            flow_id: 'ticks',
            params: { region: 'eu' },
          },
        ],
      },
      { root: FIXTURE_ROOT },
    );
    const registry = new Registry().addFunction(
      'stamp',
      defineFunction((rows, ctx) => {
        for (const row of rows)
          ctx.commit({ ...row, tx_id: `tick-${String(row.job_id)}`, region: ctx.meta.region });
      }),
    );
    const fired: string[] = [];
    const ticks = await startDevStack({
      dir: 'unused',
      root: FIXTURE_ROOT,
      prefix: 'rt-jobs',
      project,
      registry,
      endpoints: { sqsEndpoint: emulators.sqsEndpoint, dynamodbEndpoint: emulators.dynamodbEndpoint },
      logLevel: 'SILENT',
      log: (line) => fired.push(line),
    });
    const tickSink = new Sink(clients.sqs, ticks.resources, ['ticks']);
    try {
      expect(ticks.scheduler.nextRuns('soon', 3)).toEqual([at]);
      await waitFor(
        'the tick at the output',
        () => tickSink.outputRows('ticks', 'tick-').length >= 1,
        10_000,
      );
      expect(Date.now()).toBeGreaterThanOrEqual(at.getTime());
      expect(tickSink.outputRows('ticks', 'tick-')).toEqual([
        {
          job_id: 'soon',
          scheduled_at: at.toISOString().replace('.000Z', 'Z'),
          tx_id: 'tick-soon',
          region: 'eu',
        },
      ]);
      expect(fired.some((l) => /job soon: run job-soon-\d+ started in flow ticks/.test(l))).toBe(true);
    } finally {
      await tickSink.stop();
      await ticks.stop();
    }
  });
});
