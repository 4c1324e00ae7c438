/**
 * Repair by run under `kisflow dev` (real handlers in worker threads, fauxqs and dynalite): a run
 * whose poison rows are dead-lettered, the function fixed, `runs retry` → a linked run delivering
 * exactly those rows once, with the mover killed between a send and its delete; the dev run log
 * giving one run's lines from every step; per-step timings in `runs show --json`.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsClients, createAwsClients, destroyAwsClients } from '../../../kisflow/aws/clients.ts';
import {
  countRunDeadLetters,
  deadLetterMessage,
  listDeadLetters,
  moveRunDeadLetters,
} from '../../../kisflow/aws/dead-letters.ts';
import { type DevStack, startDevStack } from '../../../kisflow/local/dev-stack.ts';
import { readRunLog, runLogDir } from '../../../kisflow/local/run-log.ts';
import { repairsOf, retryRun } from '../../../kisflow/runs/retry-run.ts';
import type { RunRecord } from '../../../kisflow/runs/run-ledger.ts';
import { encodeEnvelope, parseEnvelope } from '../../../kisflow/wire/envelope.ts';
import { type Emulators, startEmulators } from '../../../localstack/emulators.ts';
import { drain } from '../aws/harness.ts';
import { makeProject, REPO } from '../dev/dev-process.ts';
import { sendRows } from '../runtime/harness.ts';

const YAML = `kistype: func
fid: check
fmode: Calculate
option: { retry_times: 0 }
---
kistype: func
fid: mark
fmode: Calculate
---
kistype: flow
flow_id: repair
status: 1
flows:
  - fid: check
  - fid: mark
`;
const BROKEN = `import { defineFunction } from 'kisflow';
export default defineFunction((rows, ctx) => {
  ctx.log.info('checked', { rows: rows.length });
  for (const row of rows) {
    if (row.poison) throw new Error(\`poison \${row.tx_id}\`);
    ctx.commit(row);
  }
});
`;
const FIXED = `import { defineFunction } from 'kisflow';
export default defineFunction((rows, ctx) => {
  ctx.log.info('checked', { rows: rows.length, fixed: true });
  for (const row of rows) ctx.commit({ ...row, fixed: true });
});
`;
const MARK = `import { defineFunction } from 'kisflow';
export default defineFunction((rows, ctx) => {
  ctx.log.info('marked', { rows: rows.length });
  for (const row of rows) ctx.commit({ ...row, marked: true });
});
`;

const project = makeProject({
  'flows/repair.yml': YAML,
  'functions/check.ts': BROKEN,
  'functions/mark.ts': MARK,
});
let emulators: Emulators;
let stack: DevStack;
let clients: AwsClients;
const endpoints = () => ({
  sqsEndpoint: emulators.sqsEndpoint,
  dynamodbEndpoint: emulators.dynamodbEndpoint,
});

beforeAll(async () => {
  emulators = await startEmulators();
  stack = await startDevStack({
    dir: 'flows',
    root: project.root,
    prefix: 'repair',
    endpoints: endpoints(),
    logLevel: 'SILENT',
    log: () => {},
    lock: false,
  });
  clients = createAwsClients(endpoints());
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  if (clients) destroyAwsClients(clients);
  await emulators?.stop();
  project.remove();
});

async function ended(runId: string, timeoutMs = 30_000): Promise<RunRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await stack.ledger.get(runId);
    if (run !== undefined && run.status !== 'running') return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} still ${run?.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** An SQS client whose first DeleteMessageBatch dies after the sends went out. */
function dyingOnFirstDelete(): { sqs: SQSClient; close(): void } {
  const own = createAwsClients(endpoints());
  let armed = true;
  own.sqs.middlewareStack.add(
    (next, context) => async (args) => {
      if (armed && context.commandName === 'DeleteMessageBatchCommand') {
        armed = false;
        throw new Error('process killed between send and delete');
      }
      return next(args);
    },
    { step: 'initialize' },
  );
  return { sqs: own.sqs, close: () => destroyAwsClients(own) };
}

const exec = promisify(execFile);
async function kisflow(args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_NO_WARNINGS: '1' };
  delete env.AWS_ENDPOINT_URL;
  const { stdout } = await exec(process.execPath, [`${REPO}/bin/kisflow.js`, ...args], {
    cwd: project.root,
    env,
  });
  return stdout;
}

describe('repair by run under kisflow dev', () => {
  const R = 'send-repair';
  const OTHER = 'send-other';
  const rows = Array.from({ length: 8 }, (_, i) => ({ tx_id: `t${i}`, poison: i % 3 === 0 }));
  const poison = rows.filter((r) => r.poison).map((r) => r.tx_id);

  it('a run with poison rows ends partial, its dead letters carry its run id, its steps their timings', async () => {
    await stack.ledger.start({ runId: R, flowId: 'repair', trigger: 'api', roots: 1 });
    await sendRows(clients.sqs, stack.resources, 'repair', R, rows);
    await stack.ledger.start({ runId: OTHER, flowId: 'repair', trigger: 'api', roots: 1 });
    await sendRows(clients.sqs, stack.resources, 'repair', OTHER, [{ tx_id: 'o1' }]);
    const run = await ended(R);
    expect(run.status).toBe('partial');
    expect(run.steps[0]).toMatchObject({ in: 8, out: 5, rejected: 3 });
    expect(run.steps[0]?.timings).toMatchObject({ batches: 1 });
    expect(run.steps[0]?.timings?.p95Ms).toBeGreaterThan(0);
    expect(run.steps[1]?.timings?.lastAt).toBeGreaterThanOrEqual(run.steps[1]?.timings?.firstAt ?? Infinity);
    await ended(OTHER);
    const queues = stack.resources.flows.repair as NonNullable<typeof stack.resources.flows.repair>;
    const letters = await listDeadLetters(clients.sqs, queues.stepDeadLetterQueues[0] as string);
    expect(letters.map((l) => [l.runId, l.code, l.rows])).toEqual([[R, 'FUNCTION_ERROR', 3]]);
  });

  it('runs retry, after the fix, delivers exactly the failed rows once as a linked run, its mover killed between send and delete', async () => {
    const queues = stack.resources.flows.repair as NonNullable<typeof stack.resources.flows.repair>;
    // A batch of the run dead-lettered whole at step 1 (a timeout, say), and one of another run.
    const kept = (run: string, ids: string[]) =>
      encodeEnvelope({
        flowId: 'repair',
        step: 1,
        runId: run,
        batchId: `kept-${run}`,
        rows: ids.map((tx_id) => ({ tx_id })),
        meta: {},
      });
    await deadLetterMessage(clients.sqs, queues.stepDeadLetterQueues[1] as string, kept(R, ['k1', 'k2']), {
      code: 'TIMEOUT',
      message: 'slow',
      step: 1,
      run: R,
    });
    await deadLetterMessage(clients.sqs, queues.stepDeadLetterQueues[1] as string, kept(OTHER, ['x1']), {
      code: 'TIMEOUT',
      message: 'slow',
      step: 1,
      run: OTHER,
    });
    project.write('functions/check.ts', FIXED);
    await stack.reload();

    const dying = dyingOnFirstDelete();
    const attempt = (sqs: SQSClient) =>
      retryRun({
        ledger: stack.ledger,
        parentRunId: R,
        waiting: () => countRunDeadLetters(sqs, queues, R),
        move: (into) => moveRunDeadLetters(sqs, queues, R, into),
      });
    await expect(attempt(dying.sqs)).rejects.toThrow(/could not delete/);
    dying.close();
    const second = await attempt(clients.sqs);
    expect(second.resumed).toBe(true);
    const retry = await ended(second.run.id);

    expect(retry).toMatchObject({
      id: `retry-1-${R}`,
      trigger: 'retry',
      parentRunId: R,
      status: 'succeeded',
    });
    // Counted once although the poison rows' message was sent twice.
    expect(retry.steps.map((s) => [s.index, s.in, s.out])).toEqual([
      [0, 3, 3],
      [1, 5, 5],
    ]);
    const out = (await drain(clients.sqs, queues.outputQueue))
      .map((m) => parseEnvelope(m.Body as string))
      .filter((e) => e.run === retry.id);
    const once = new Map(out.map((e) => [e.batch, e.rows.map((r) => String(r.tx_id))]));
    expect([...once.values()].flat().sort()).toEqual([...poison, 'k1', 'k2'].sort());
    // The other run's dead letter is still there, untouched; none of R's is.
    const left = await listDeadLetters(clients.sqs, queues.stepDeadLetterQueues[1] as string);
    expect(left.map((l) => l.runId)).toEqual([OTHER]);
    expect(await countRunDeadLetters(clients.sqs, queues, R)).toBe(0);
    expect((await repairsOf(stack.ledger, R)).map((r) => r.id)).toEqual([retry.id]);
  }, 90_000);

  it('the dev run log has the run’s lines from every step and none of another run; the CLI reads it', async () => {
    await new Promise((r) => setTimeout(r, 300));
    const dir = runLogDir(project.root);
    const lines = readRunLog(dir, R);
    // The functions' own lines and the engine's (the rejected rows), from both steps.
    expect(new Set(lines.map((l) => l.message))).toEqual(
      new Set(['checked', 'marked', 'row rejected after the function failed on it']),
    );
    expect(new Set(lines.map((l) => l.fid))).toEqual(new Set(['check', 'mark']));
    expect(lines.every((l) => l.runId === R)).toBe(true);
    expect(readRunLog(dir, OTHER).map((l) => l.message)).toEqual(['checked', 'marked']);
    const retried = readRunLog(dir, `retry-1-${R}`);
    expect(retried.filter((l) => l.message === 'checked').every((l) => l.fixed === true)).toBe(true);

    const printed = (await kisflow(['runs', 'logs', R, '--json']))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(printed).toEqual(lines);
    const table = ['--table', 'repair-runs', '--endpoint', emulators.dynamodbEndpoint];
    const shown = JSON.parse(await kisflow(['runs', 'show', `retry-1-${R}`, '--json', ...table]));
    expect(shown.trigger).toBe('retry');
    expect(shown.steps[1]).toMatchObject({ index: 1, fid: 'mark', in: 5, out: 5, dead_lettered: 0 });
    expect(shown.steps[1].timings).toMatchObject({ batches: expect.any(Number), p95_ms: expect.any(Number) });
    expect(await kisflow(['runs', 'show', R, ...table])).toMatch(new RegExp(`repaired  by retry-1-${R}`));
    expect(await kisflow(['runs', 'show', `retry-1-${R}`, ...table])).toMatch(new RegExp(`repairs   ${R}`));
  }, 60_000);

  it('the CLI: runs retry prints the new run id last, and exits 1 when nothing is left to retry', async () => {
    // The dev stack wrote .kisflow/dev.json: the CLI finds its queues and runs table by itself.
    const printed = (await kisflow(['runs', 'retry', OTHER])).trim().split('\n');
    expect(printed.at(-1)).toBe(`retry-1-${OTHER}`);
    const retry = await ended(`retry-1-${OTHER}`);
    expect(retry).toMatchObject({ status: 'succeeded', parentRunId: OTHER });
    expect(retry.steps.map((s) => [s.index, s.in, s.out])).toEqual([[1, 1, 1]]);
    const again = await kisflow(['runs', 'retry', R]).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('no dead letters waiting');
    expect(again.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});
