/**
 * `kisflow jobs` and `kisflow runs` as scripts use them: subprocesses, against a runs table on
 * the dynalite this file starts. The three shapes scripts rely on are asserted exactly.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoRunLedger } from '../../../kisflow/aws/dynamodb-run-ledger.ts';
import { ensureTable } from '../../../kisflow/aws/tables.ts';
import { useEmulators } from '../aws/harness.ts';

const exec = promisify(execFile);
const bin = join(import.meta.dirname, '..', '..', '..', 'bin', 'kisflow.js');
const ctx = useEmulators();
const TABLE = 'cli-runs';

const YAML = `kistype: func
fid: A
fmode: Calculate
---
kistype: flow
flow_id: F
flows:
  - fid: A
---
kistype: job
job_id: Nightly
schedule: cron(0 2 * * ? *)
timezone: Asia/Shanghai
flow_id: F
scene: billing
---
kistype: job
job_id: Hourly
schedule: rate(1 hour)
flow_id: F
`;

let dir: string;
async function kisflow(args: string[]) {
  try {
    // The SDK warns on stderr that Node 20 support ends; that warning is not what is tested.
    const env = { ...process.env, NODE_NO_WARNINGS: '1' };
    const { stdout, stderr } = await exec(process.execPath, [bin, ...args], { cwd: dir, env });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}
const table = () => ['--table', TABLE, '--endpoint', ctx.emulators.dynamodbEndpoint];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kisflow-runs-cli-'));
  await mkdir(join(dir, 'flows'));
  await mkdir(join(dir, 'functions'));
  await writeFile(join(dir, 'flows', 'app.yml'), YAML);
  await writeFile(join(dir, 'functions', 'A.ts'), 'export default 1;\n');
  await ensureTable(ctx.clients.dynamodb, TABLE, { ttlAttribute: 'ttl' });
  const ledger = new DynamoRunLedger({ dynamodb: ctx.clients.dynamodb, tableName: TABLE });
  await ledger.start({
    runId: 'r-ok',
    flowId: 'F',
    jobId: 'Nightly',
    trigger: 'schedule',
    params: { day: '2026-12-01' },
    roots: 1,
  });
  await ledger.complete({
    runId: 'r-ok',
    batchId: 'b0',
    step: 0,
    fid: 'A',
    counters: { in: 5, out: 4, rejected: 1 },
    usage: { sqsRequests: 2, lambdaInvocations: 1, lambdaGbSeconds: 0.1 },
  });
  await ledger.start({ runId: 'r-live', flowId: 'F', trigger: 'manual', roots: 2 });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('kisflow jobs next', () => {
  it("prints one ISO-8601 time per line with the job's UTC offset", async () => {
    const { code, stdout, stderr } = await kisflow(['jobs', 'next', 'Nightly', '-n', '5']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.split('\n').filter(Boolean);
    expect(lines).toHaveLength(5);
    for (const line of lines) expect(line).toMatch(/^\d{4}-\d{2}-\d{2}T02:00:00\+08:00$/);
    const times = lines.map((l) => Date.parse(l));
    for (let i = 1; i < times.length; i++)
      expect((times[i] as number) - (times[i - 1] as number)).toBe(86_400_000);
    expect(times[0]).toBeGreaterThan(Date.now());
  });

  it('an unknown job exits 1 with the known ones named, no stack', async () => {
    const { code, stdout, stderr } = await kisflow(['jobs', 'next', 'Nighty']);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toBe("No job 'Nighty' in the flows directory (jobs: Nightly, Hourly).\n");
  });
});

describe('kisflow jobs list', () => {
  it('lists each job with its next fire and, from the runs table, its last run and success ratio', async () => {
    const { code, stdout } = await kisflow(['jobs', 'list', '--json', ...table()]);
    expect(code).toBe(0);
    const rows = stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(rows.map((r) => r.job)).toEqual(['Hourly', 'Nightly']);
    expect(rows[1]).toMatchObject({
      flow: 'F',
      timezone: 'Asia/Shanghai',
      state: 'enabled',
      scene: 'billing',
      lastRun: { id: 'r-ok', status: 'partial' },
      successRatio: 0,
    });
    expect(rows[1].next).toMatch(/T02:00:00\+08:00$/);
    const text = await kisflow(['jobs', 'list']);
    expect(text.stdout.split('\n')[0]).toMatch(
      /^JOB\s+FLOW\s+SCHEDULE\s+TIMEZONE\s+STATE\s+SCENE\s+NEXT FIRE/,
    );
  });
});

describe('kisflow runs', () => {
  it('show --json prints exactly { id, flow, job, trigger, status, started, finished, params, steps }', async () => {
    const { code, stdout } = await kisflow(['runs', 'show', 'r-ok', '--json', ...table()]);
    expect(code).toBe(0);
    const run = JSON.parse(stdout);
    expect(Object.keys(run)).toEqual([
      'id',
      'flow',
      'job',
      'trigger',
      'status',
      'started',
      'finished',
      'params',
      'steps',
    ]);
    expect(run).toEqual({
      id: 'r-ok',
      flow: 'F',
      job: 'Nightly',
      trigger: 'schedule',
      status: 'partial',
      started: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
      finished: expect.stringMatching(/Z$/),
      params: { day: '2026-12-01' },
      steps: [
        {
          index: 0,
          fid: 'A',
          in: 5,
          out: 4,
          rejected: 1,
          dropped: 0,
          dead_lettered: 0,
          errors: 0,
          timings: null,
        },
      ],
    });
  });

  it('show as a table gives the counters and the cost; an unknown run exits 1', async () => {
    const shown = await kisflow(['runs', 'show', 'r-ok', ...table()]);
    expect(shown.stdout).toMatch(/status\s+partial/);
    expect(shown.stdout).toMatch(/cost\s+\$\S+ \(us-east-1 list prices of/);
    expect(shown.stdout).toMatch(/STEP\s+FID\s+IN\s+OUT\s+REJECTED/);
    const missing = await kisflow(['runs', 'show', 'nope', ...table()]);
    expect(missing).toMatchObject({ code: 1, stdout: '', stderr: "No run 'nope' in the runs table.\n" });
  });

  it('list filters by status, job and time; a bad status exits 1', async () => {
    const all = await kisflow(['runs', 'list', '--json', ...table()]);
    expect(
      all.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).id),
    ).toEqual(['r-live', 'r-ok']);
    const running = await kisflow(['runs', 'list', '--status', 'running', '--json', ...table()]);
    expect(
      running.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).id),
    ).toEqual(['r-live']);
    const byJob = await kisflow(['runs', 'list', '--job', 'Nightly', ...table()]);
    expect(byJob.stdout).toMatch(/^RUN\s+FLOW\s+JOB/);
    expect(byJob.stdout).toMatch(/r-ok\s+F\s+Nightly\s+schedule\s+partial/);
    const bad = await kisflow(['runs', 'list', '--status', 'done', ...table()]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^--status must be one of running, succeeded/);
    const noTable = await kisflow(['runs', 'list']);
    expect(noTable.code).toBe(1);
    expect(noTable.stderr).toMatch(/--table/);
  });

  it('stats: runs, success ratio and durations per day, cost per million rows per flow', async () => {
    const { code, stdout } = await kisflow(['runs', 'stats', '--days', '2', '--json', ...table()]);
    expect(code).toBe(0);
    const stats = JSON.parse(stdout);
    expect(stats.days).toHaveLength(2);
    expect(stats.days[1]).toMatchObject({ runs: 2, succeeded: 0, failed: 1, successRatio: 0 });
    expect(stats.flows).toEqual([
      expect.objectContaining({ flowId: 'F', runs: 2, rows: 5, usdPerMillionRows: expect.any(Number) }),
    ]);
  });

  it('cancel: a running run once; again exits 1 saying it is cancelled', async () => {
    const first = await kisflow(['runs', 'cancel', 'r-live', ...table()]);
    expect(first).toMatchObject({ code: 0, stdout: 'cancelled r-live\n' });
    const again = await kisflow(['runs', 'cancel', 'r-live', ...table()]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe("Run 'r-live' is cancelled, not running: nothing to cancel.\n");
  });
});
