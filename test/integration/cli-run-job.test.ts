/**
 * `kisflow run --job <job>` as a user runs it: one fire of a job in-process, through the same job
 * control as `kisflow dev` (shards, timeout, retry after its interval, child jobs, alerts), with
 * the run id as the last line of stdout and the exit code of the job's run.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = join(import.meta.dirname, '..', '..');
const bin = join(repo, 'bin', 'kisflow.js');
const api = pathToFileURL(join(repo, 'kisflow', 'index.ts')).href;

const FLOWS = `kistype: func
fid: tag_shard
fmode: Calculate
---
kistype: func
fid: boom
fmode: Calculate
---
kistype: func
fid: note
fmode: Calculate
---
kistype: func
fid: flaky
fmode: Calculate
---
kistype: func
fid: sleepy
fmode: Calculate
---
kistype: flow
flow_id: split
flows: [{ fid: tag_shard }]
---
kistype: flow
flow_id: fragile
flows: [{ fid: boom }]
---
kistype: flow
flow_id: cleanup
flows: [{ fid: note }]
---
kistype: flow
flow_id: flaky
flows: [{ fid: flaky }]
---
kistype: flow
flow_id: slow
flows: [{ fid: sleepy }, { fid: note }]
---
kistype: job
job_id: Sharded
schedule: rate(1 day)
flow_id: split
shards: 4
params: { region: eu }
---
kistype: job
job_id: Breaks
schedule: rate(1 day)
flow_id: fragile
on_failure: [Cleanup]
alerts: { on_failure: true }
---
kistype: job
job_id: Cleanup
schedule: rate(1 day)
flow_id: cleanup
---
kistype: job
job_id: Flaky
schedule: rate(1 day)
flow_id: flaky
retry: { times: 2, interval: 1, backoff: 1 }
---
kistype: job
job_id: Hopeless
schedule: rate(1 day)
flow_id: fragile
retry: { times: 2, interval: 0 }
alerts: { consecutive_failures: 3 }
---
kistype: job
job_id: Slow
schedule: rate(1 day)
flow_id: slow
timeout: 1
on_failure: [Cleanup]
alerts: { on_timeout: true }
`;

const PROJECT: Record<string, string> = {
  'package.json': '{ "name": "run-job", "private": true, "type": "module" }\n',
  'flows/app.yml': FLOWS,
  'functions/tag_shard.ts': `import { defineFunction } from '${api}';
export default defineFunction((rows, ctx) => {
  for (const row of rows) ctx.commit({ job: row.job_id, region: ctx.meta.region, day: ctx.meta.day, shard: ctx.shard });
});
`,
  'functions/boom.ts': `import { defineFunction } from '${api}';
export default defineFunction(() => {
  throw new Error('the fragile flow always fails');
});
`,
  'functions/note.ts': `import { defineFunction } from '${api}';
export default defineFunction((rows, ctx) => {
  for (const row of rows) ctx.commit({ noted: row.job_id ?? row.slept ?? null });
});
`,
  // Fails on its first run only: the marker file says a run was already tried.
  'functions/flaky.ts': `import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { defineFunction } from '${api}';
export default defineFunction((rows, ctx) => {
  if (!existsSync('tried')) {
    writeFileSync('tried', String(Date.now()));
    throw new Error('first try fails');
  }
  const waited = Date.now() - Number(readFileSync('tried', 'utf8'));
  for (const row of rows) ctx.commit({ ok: row.job_id, waited });
});
`,
  'functions/sleepy.ts': `import { defineFunction } from '${api}';
export default defineFunction(async (rows, ctx) => {
  await new Promise((r) => setTimeout(r, 4000));
  for (const row of rows) ctx.commit({ slept: row.job_id });
});
`,
};

let dir: string;

function kisflow(args: string[]) {
  return new Promise<{ code: number; stdout: string; stderr: string; ms: number }>((resolve) => {
    const started = Date.now();
    execFile(
      process.execPath,
      [bin, ...args],
      { cwd: dir, env: { ...process.env, NODE_NO_WARNINGS: '1' } },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr, ms: Date.now() - started }),
    );
  });
}

const stdoutLines = (text: string) => text.split('\n').filter(Boolean);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kisflow-run-job-'));
  for (const [file, text] of Object.entries(PROJECT)) {
    await mkdir(join(dir, file, '..'), { recursive: true });
    await writeFile(join(dir, file), text);
  }
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('kisflow run --job', () => {
  it('shards: 4 makes one run of 4 tick batches, each function sees its ctx.shard; exit 0, run id last', async () => {
    const r = await kisflow(['run', '--job', 'Sharded', '--fresh', '--param', 'day=2026-12-01']);
    expect(r.code, r.stderr).toBe(0);
    const lines = stdoutLines(r.stdout);
    const runId = lines.at(-1) as string;
    expect(runId).toMatch(/^manual-[0-9a-f-]+$/);
    const rows = lines
      .slice(0, -1)
      .map((l) => JSON.parse(l) as { job: string; region: string; day: string; shard: unknown });
    expect(rows.map((row) => row.shard)).toEqual([0, 1, 2, 3].map((index) => ({ index, total: 4 })));
    expect(
      rows.every((row) => row.job === 'Sharded' && row.region === 'eu' && row.day === '2026-12-01'),
    ).toBe(true);
    // One run, as `kisflow run` summarises it.
    expect(r.stderr).toMatch(/^split: 4 rows in, 4 out, 0 rejected, 0 dropped in /m);
    expect(r.stderr).toContain(`  run ${runId}: succeeded (job Sharded, trigger manual, 4 shards)`);
    expect(r.stderr.match(/^ {2}run /gm)).toHaveLength(1);
  });

  it('a failed run starts its on_failure child job in-process after it, alerts on stderr, exits 1', async () => {
    const r = await kisflow(['run', '--job', 'Breaks', '--fresh']);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    const runId = stdoutLines(r.stdout).at(-1) as string;
    expect(r.stderr).toContain(`  run ${runId}: failed (job Breaks, trigger manual)`);
    expect(r.stderr).toMatch(/^rejected .*"code":"FUNCTION_ERROR".*the fragile flow always fails/m);
    // The child ran after the parent, linked to it, and its rows are output.
    const parentAt = r.stderr.indexOf(`  run ${runId}:`);
    const childAt = r.stderr.indexOf(
      `  run ${runId}>Cleanup: succeeded (job Cleanup, trigger child, after ${runId})`,
    );
    expect(childAt).toBeGreaterThan(parentAt);
    expect(
      stdoutLines(r.stdout)
        .slice(0, -1)
        .map((l) => JSON.parse(l)),
    ).toEqual([{ noted: 'Cleanup' }]);
    // One line per alert: the run id and the reason.
    const alerts = r.stderr.split('\n').filter((l) => l.startsWith('ALERT '));
    expect(alerts).toEqual([`ALERT ${runId} on_failure: run ${runId} of job Breaks failed: 1 rejected`]);
  });

  it('retry on failure runs the job again after its interval; the retry succeeding makes the fire exit 0', async () => {
    const r = await kisflow(['run', '--job', 'Flaky', '--fresh']);
    expect(r.code, r.stderr).toBe(0);
    const runId = stdoutLines(r.stdout).at(-1) as string;
    expect(r.stderr).toContain(`  run ${runId}: failed (job Flaky, trigger manual)`);
    expect(r.stderr).toMatch(new RegExp(`^retry ${runId}~retry1 of run ${runId} in 1\\.\\d s$`, 'm'));
    expect(r.stderr).toContain(`  run ${runId}~retry1: succeeded (job Flaky, trigger retry, after ${runId})`);
    expect(r.stderr).toContain(`job Flaky: run ${runId} ended succeeded after its retries (${runId}~retry1)`);
    const rows = stdoutLines(r.stdout)
      .slice(0, -1)
      .map((l) => JSON.parse(l) as { ok: string; waited: number });
    expect(rows).toEqual([{ ok: 'Flaky', waited: expect.any(Number) }]);
    // The interval (1 s) was waited between the failed try and the retry.
    expect(rows[0]?.waited).toBeGreaterThanOrEqual(950);
  });

  it('retries stop after retry.times; the last failed retry decides the exit (1); a streak alerts once', async () => {
    const r = await kisflow(['run', '--job', 'Hopeless', '--fresh']);
    expect(r.code).toBe(1);
    const runId = stdoutLines(r.stdout).at(-1) as string;
    const runs = [...r.stderr.matchAll(/^ {2}run (\S+): (\w+) \(job Hopeless, trigger (\w+)/gm)].map((m) =>
      m.slice(1),
    );
    expect(runs).toEqual([
      [runId, 'failed', 'manual'],
      [`${runId}~retry1`, 'failed', 'retry'],
      [`${runId}~retry2`, 'failed', 'retry'],
    ]);
    expect(r.stderr).toContain(`job Hopeless: run ${runId} ended failed after its retries (${runId}~retry2)`);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('ALERT '))).toEqual([
      `ALERT ${runId}~retry2 consecutive_failures: run ${runId}~retry2 of job Hopeless: 3 failed runs in a row (threshold 3)`,
    ]);
  });

  it('a run with no progress for its timeout is timed_out at once, not when its function returns; on_timeout alerts, on_failure runs; exit 2', async () => {
    const r = await kisflow(['run', '--job', 'Slow', '--fresh']);
    expect(r.code, r.stderr).toBe(2);
    const runId = stdoutLines(r.stdout).at(-1) as string;
    expect(runId).toMatch(/^manual-/);
    expect(r.stderr).toMatch(
      new RegExp(
        `run ${runId}: timed_out \\(job Slow, trigger manual\\): no progress for 1000 ms \\(timeout\\)`,
      ),
    );
    expect(r.stderr).toContain(`ALERT ${runId} on_timeout: run ${runId} of job Slow timed out`);
    // It did not wait for the function still sleeping (4 s) once the run had timed out.
    expect(r.ms).toBeLessThan(3900);
    // A timed-out run is a failure: its on_failure job ran after it.
    expect(r.stderr).toContain(
      `  run ${runId}>Cleanup: succeeded (job Cleanup, trigger child, after ${runId})`,
    );
    expect(stdoutLines(r.stdout)).toEqual([JSON.stringify({ noted: 'Cleanup' }), runId]);
  });

  it("bad input gets a code and no stack: an unknown job, --input with --job, a flow that is not the job's, --param without --job", async () => {
    const unknown = await kisflow(['run', '--job', 'Nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^No job 'Nope' in the flows directory \(jobs: /);
    const input = await kisflow(['run', '--job', 'Sharded', '--input', 'rows.jsonl']);
    expect(input.code).toBe(1);
    expect(input.stderr).toMatch(/--job runs the rows the job fires with/);
    const other = await kisflow(['run', 'fragile', '--job', 'Sharded']);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/Job 'Sharded' runs flow 'split', not 'fragile'/);
    const param = await kisflow(['run', 'split', '--param', 'a=1']);
    expect(param.code).toBe(1);
    expect(param.stderr).toMatch(/^--param is for --job/);
    for (const out of [unknown, input, other, param])
      expect(out.stderr).not.toMatch(/internal error|\n\s+at /);
  });

  it('the help documents the exit codes', async () => {
    const r = await kisflow(['run', '--help']);
    expect(r.stdout).toContain('--job <job>');
    expect(r.stdout).toMatch(/Exit codes with --job[\s\S]*0 {2}succeeded[\s\S]*2 {2}timed out/);
  });
});
