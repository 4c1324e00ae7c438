/**
 * `kisflow jobs trigger` as a script uses it, against the queues and runs table of a provisioned
 * stack on the emulators, found through `.kisflow/dev.json` as under a running `kisflow dev`.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoRunLedger } from '../../../kisflow/aws/dynamodb-run-ledger.ts';
import { loadProject } from '../../../kisflow/config/index.ts';
import { writeDevEndpoints } from '../../../kisflow/local/dev-endpoints.ts';
import type { Poller } from '../../../kisflow/local/poller.ts';
import { type ProvisionedResources, provisionProject } from '../../../kisflow/local/provision.ts';
import { decodeEnvelope } from '../../../kisflow/wire/envelope.ts';
import { drain, useEmulators } from '../aws/harness.ts';
import { startJobControlPoller } from './job-control-poller.ts';

const exec = promisify(execFile);
const bin = join(import.meta.dirname, '..', '..', '..', 'bin', 'kisflow.js');
const ctx = useEmulators();

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
job_id: Split
schedule: rate(1 day)
flow_id: F
shards: 2
params:
  region: eu
`;

let dir: string;
let resources: ProvisionedResources;
let control: Poller | undefined;
async function kisflow(args: string[]) {
  try {
    const env = { ...process.env, NODE_NO_WARNINGS: '1', AWS_ENDPOINT_URL: '' };
    const { stdout, stderr } = await exec(process.execPath, [bin, ...args], { cwd: dir, env });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kisflow-jobs-trigger-'));
  await mkdir(join(dir, 'flows'));
  await mkdir(join(dir, 'functions'));
  await writeFile(join(dir, 'flows', 'app.yml'), YAML);
  await writeFile(join(dir, 'functions', 'A.ts'), 'export default 1;\n');
  const project = await loadProject(join(dir, 'flows'), { root: dir });
  resources = await provisionProject(project, ctx.clients, { prefix: 'trig' });
  // This test process stands for the running `kisflow dev`.
  writeDevEndpoints(dir, {
    sqsEndpoint: ctx.emulators.sqsEndpoint,
    dynamodbEndpoint: ctx.emulators.dynamodbEndpoint,
    prefix: 'trig',
    pid: process.pid,
    runsTable: resources.runsTable,
  });
  // Job control, as `kisflow dev` runs it: the trigger's fire goes through the control queue.
  control = startJobControlPoller(ctx.clients, project, resources, 'trig');
});

afterAll(async () => {
  await control?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('kisflow jobs trigger', () => {
  it('starts a manual run with the params given, sends one batch per shard, prints the run id last', async () => {
    const out = await kisflow(['jobs', 'trigger', 'Split', '--param', 'day=2026-12-01', '--param', 'n=3']);
    expect(out.stderr).toMatch(/run started in flow F with 2 batch/);
    expect(out.code).toBe(0);
    const runId = out.stdout.trim().split('\n').at(-1) as string;
    expect(runId).toMatch(/^manual-/);
    const sent = (await drain(ctx.clients.sqs, resources.flows.F?.stepQueues[0] as string)).map((m) =>
      decodeEnvelope(m.Body ?? ''),
    );
    expect(sent.map((b) => [b.runId, b.meta.shard]).sort()).toEqual([
      [runId, { index: 0, total: 2 }],
      [runId, { index: 1, total: 2 }],
    ]);
    expect(sent[0]?.meta).toMatchObject({ region: 'eu', day: '2026-12-01', n: 3 });
    const ledger = new DynamoRunLedger({ dynamodb: ctx.clients.dynamodb, tableName: resources.runsTable });
    expect(await ledger.get(runId)).toMatchObject({
      jobId: 'Split',
      trigger: 'manual',
      status: 'running',
      params: { region: 'eu', day: '2026-12-01', n: 3 },
      batches: { roots: 2 },
    });
    // `runs show` finds the same table with no flags.
    const shown = await kisflow(['runs', 'show', runId, '--json']);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ id: runId, job: 'Split', status: 'running' });
  });

  it('a second trigger while the first run holds the job is queued behind it (overlap: serial)', async () => {
    const out = await kisflow(['jobs', 'trigger', 'Split']);
    expect(out.code).toBe(0);
    expect(out.stderr).toMatch(/queued behind run manual-/);
    expect(out.stdout.trim().split('\n').at(-1)).toMatch(/^manual-/);
  });
});
