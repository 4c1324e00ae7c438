/**
 * `kisflow dev` records runs in its runs table: the real step handlers (in worker threads) on
 * fauxqs and dynalite, a 5-step flow with an Expand fan-out, a poison row, and a cancelled run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsClients, createAwsClients, destroyAwsClients } from '../../../kisflow/aws/clients.ts';
import { type DevStack, startDevStack } from '../../../kisflow/local/dev-stack.ts';
import type { Row } from '../../../kisflow/ports.ts';
import type { RunRecord } from '../../../kisflow/runs/run-ledger.ts';
import { type Emulators, startEmulators } from '../../../localstack/emulators.ts';
import { FIXTURE_ROOT, sendRows } from '../runtime/harness.ts';

let emulators: Emulators;
let stack: DevStack;
let clients: AwsClients;

beforeAll(async () => {
  emulators = await startEmulators();
  const endpoints = { sqsEndpoint: emulators.sqsEndpoint, dynamodbEndpoint: emulators.dynamodbEndpoint };
  stack = await startDevStack({
    dir: 'flows',
    root: FIXTURE_ROOT,
    prefix: 'runs-dev',
    endpoints,
    logLevel: 'SILENT',
    log: () => {},
    lock: false,
    sweepMs: 200,
  });
  clients = createAwsClients(endpoints);
});

afterAll(async () => {
  await stack?.stop();
  if (clients) destroyAwsClients(clients);
  await emulators?.stop();
});

function rows(prefix: string, n: number, extra: (i: number) => Row = () => ({})): Row[] {
  return Array.from({ length: n }, (_, i) => ({
    tx_id: `${prefix}-${String(i).padStart(3, '0')}`,
    user_id: `${prefix}-u${i % 4}`,
    amount: i + 1,
    ...extra(i),
  }));
}

async function finished(runId: string, timeoutMs = 30_000): Promise<RunRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await stack.ledger.get(runId);
    if (run !== undefined && run.status !== 'running') return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} still ${run?.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('runs under kisflow dev', () => {
  it('provisions the runs table and names it in every step wiring', () => {
    expect(stack.resources.runsTable).toBe('runs-dev-runs');
  });

  it('a run through 5 steps (Expand fan-out included) finishes exactly, counted per step', async () => {
    await stack.ledger.start({ runId: 'dev-ok', flowId: 'ledger', trigger: 'api', roots: 1 });
    await sendRows(clients.sqs, stack.resources, 'ledger', 'dev-ok', rows('ok', 12));
    const run = await finished('dev-ok');
    expect(run.status).toBe('succeeded');
    expect(run.steps.map((s) => s.index)).toEqual([0, 1, 2, 3, 4]);
    expect(run.steps[0]).toMatchObject({ in: 12, out: 12, rejected: 0 });
    expect(run.batches.done).toBe(run.batches.roots + run.batches.spawned);
  });

  it('a row missing a field Verify requires makes the run partial, the row counted as rejected', async () => {
    await stack.ledger.start({ runId: 'dev-bad', flowId: 'ledger', trigger: 'api', roots: 1 });
    await sendRows(
      clients.sqs,
      stack.resources,
      'ledger',
      'dev-bad',
      rows('bad', 6).map((r, i) => (i === 3 ? { tx_id: r.tx_id, user_id: r.user_id } : r)),
    );
    const run = await finished('dev-bad');
    expect(run.status).toBe('partial');
    expect(run.steps[0]).toMatchObject({ in: 6, out: 5, rejected: 1 });
  });

  it('a run with no progress past its timeout is swept to timed_out, and its late batches are dropped', async () => {
    await stack.ledger.start({
      runId: 'dev-late',
      flowId: 'ledger',
      trigger: 'api',
      roots: 1,
      timeoutMs: 100,
    });
    const run = await finished('dev-late', 10_000);
    expect(run.status).toBe('timed_out');
    await sendRows(clients.sqs, stack.resources, 'ledger', 'dev-late', rows('late', 3));
    const deadline = Date.now() + 20_000;
    let dropped = 0;
    while (dropped < 3 && Date.now() < deadline) {
      dropped = (await stack.ledger.get('dev-late'))?.steps[0]?.dropped ?? 0;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(dropped).toBe(3);
    expect((await stack.ledger.get('dev-late'))?.steps[1]).toBeUndefined();
  });
});
