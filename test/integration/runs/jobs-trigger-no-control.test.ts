/**
 * `kisflow jobs trigger` against a stack that has a control queue but no job control reading it
 * (a `kisflow dev` that died, a job-control function not deployed): the user gets a one-line
 * CONTROL_NOT_RUNNING, and the fire stays on the queue for job control to take later, as the
 * message promises.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoRunLedger } from '../../../kisflow/aws/dynamodb-run-ledger.ts';
import { triggerJob } from '../../../kisflow/cli/trigger-job.ts';
import { loadProject } from '../../../kisflow/config/index.ts';
import type { ProjectConfig } from '../../../kisflow/config/model.ts';
import { KisFlowError } from '../../../kisflow/errors.ts';
import { writeDevEndpoints } from '../../../kisflow/local/dev-endpoints.ts';
import type { Poller } from '../../../kisflow/local/poller.ts';
import { type ProvisionedResources, provisionProject } from '../../../kisflow/local/provision.ts';
import { decodeControl } from '../../../kisflow/wire/control-message.ts';
import { useEmulators } from '../aws/harness.ts';
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
job_id: Nightly
schedule: rate(1 day)
flow_id: F
`;

let dir: string;
let project: ProjectConfig;
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

/** The control queue's messages, left visible (visibility timeout 0) for job control to take. */
async function peekControl() {
  const queue = resources.control?.queue as string;
  const out = await ctx.clients.sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queue, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }),
  );
  return (out.Messages ?? []).map((m) => decodeControl(m.Body ?? ''));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kisflow-jobs-trigger-nc-'));
  await mkdir(join(dir, 'flows'));
  await mkdir(join(dir, 'functions'));
  await writeFile(join(dir, 'flows', 'app.yml'), YAML);
  await writeFile(join(dir, 'functions', 'A.ts'), 'export default 1;\n');
  project = await loadProject(join(dir, 'flows'), { root: dir });
  resources = await provisionProject(project, ctx.clients, { prefix: 'trignc' });
  expect(resources.control?.queue).toBeDefined();
  // A stack `kisflow dev` provisioned, found through `.kisflow/dev.json`; nothing polls its control queue.
  writeDevEndpoints(dir, {
    sqsEndpoint: ctx.emulators.sqsEndpoint,
    dynamodbEndpoint: ctx.emulators.dynamodbEndpoint,
    prefix: 'trignc',
    pid: process.pid,
    runsTable: resources.runsTable,
  });
});

afterAll(async () => {
  await control?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('kisflow jobs trigger with no job control running', () => {
  let runId: string;

  it('exits 1 after --answer-within with a one-line CONTROL_NOT_RUNNING naming the run and the queue, no stack', async () => {
    const started = Date.now();
    const out = await kisflow(['jobs', 'trigger', 'Nightly', '--answer-within', '1']);
    expect(out.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
    const message = out.stderr.trim();
    expect(message).toMatch(
      /^Job Nightly's fire \(run manual-[0-9a-f-]+\) was sent to the control queue \S+trignc-control, but nothing took it within 1 s: is job control running/,
    );
    expect(message).toContain('It will start when job control reads the queue.');
    expect(message.split('\n')).toHaveLength(1);
    expect(out.stderr).not.toMatch(/\n\s+at |internal error/);
    // No run id on stdout: nothing started that a script could follow yet.
    expect(out.stdout).toBe('');
    runId = /\(run (manual-[0-9a-f-]+)\)/.exec(message)?.[1] as string;
    // Nothing was started behind job control's back.
    const ledger = new DynamoRunLedger({ dynamodb: ctx.clients.dynamodb, tableName: resources.runsTable });
    expect(await ledger.get(runId)).toBeUndefined();
  });

  it('the error a caller catches is CONTROL_NOT_RUNNING, retryable, with the run and queue in its context', async () => {
    const job = project.jobs.get('Nightly');
    if (job === undefined) throw new Error('no job');
    const error = await triggerJob(project, job, {}, { root: dir, answerWithinMs: 300 }).catch((e) => e);
    expect(error).toBeInstanceOf(KisFlowError);
    expect(error).toMatchObject({
      code: 'CONTROL_NOT_RUNNING',
      retryable: true,
      context: { jobId: 'Nightly', queueUrl: resources.control?.queue },
    });
    expect((error as KisFlowError).context.runId).toMatch(/^manual-/);
  });

  it('the fire stays on the control queue, and job control started later makes it the run the message named', async () => {
    const fires = await peekControl();
    expect(fires.filter((m) => m.kind === 'fire' && m.run === runId)).toEqual([
      expect.objectContaining({ kind: 'fire', job: 'Nightly', trigger: 'manual', run: runId }),
    ]);
    control = startJobControlPoller(ctx.clients, project, resources, 'trignc');
    const ledger = new DynamoRunLedger({ dynamodb: ctx.clients.dynamodb, tableName: resources.runsTable });
    const deadline = Date.now() + 15_000;
    let run = await ledger.get(runId);
    while (run === undefined && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      run = await ledger.get(runId);
    }
    expect(run).toMatchObject({ id: runId, jobId: 'Nightly', trigger: 'manual', status: 'running' });
  });
});
