/**
 * Pause/resume and misfire on the emulators: the local scheduler (on an injected clock) with the
 * DynamoDB run ledger on dynalite and the flow's queue on fauxqs; `kisflow jobs pause|resume|list`
 * as a user runs them, finding the stack through `.kisflow/dev.json`; and the AWS path of pause and
 * resume, whose only fake is the EventBridge Scheduler client (no emulator serves Scheduler).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  GetScheduleCommand,
  type GetScheduleOutput,
  ResourceNotFoundException,
  type SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoRunLedger } from '../../../kisflow/aws/dynamodb-run-ledger.ts';
import { setScheduleState } from '../../../kisflow/aws/job-schedules.ts';
import { SqsTransport } from '../../../kisflow/aws/sqs-transport.ts';
import { pauseJob, resumeJob } from '../../../kisflow/cli/commands/jobs.ts';
import { loadProject } from '../../../kisflow/config/index.ts';
import type { JobSpec, ProjectConfig } from '../../../kisflow/config/model.ts';
import { resourceNames } from '../../../kisflow/config/names.ts';
import { writeDevEndpoints } from '../../../kisflow/local/dev-endpoints.ts';
import { type ProvisionedResources, provisionProject } from '../../../kisflow/local/provision.ts';
import { type Scheduler, startScheduler } from '../../../kisflow/local/scheduler.ts';
import { fireBatches, fireJob } from '../../../kisflow/runs/fire-job.ts';
import type { RunRecord } from '../../../kisflow/runs/run-ledger.ts';
import { decodeEnvelope } from '../../../kisflow/wire/envelope.ts';
import { drain, useEmulators } from '../aws/harness.ts';

const exec = promisify(execFile);
const bin = join(import.meta.dirname, '..', '..', '..', 'bin', 'kisflow.js');
const ctx = useEmulators();

const job = (id: string, misfire: string) => `---
kistype: job
job_id: ${id}
schedule: cron(0 * * * ? *)
flow_id: F
misfire: ${misfire}
`;
const YAML = `kistype: func
fid: A
fmode: Calculate
---
kistype: flow
flow_id: F
flows:
  - fid: A
${job('Hourly', 'fire_once_now')}${job('Skipper', 'skip')}${job('Catcher', 'fire_once_now')}${job('Cloud', 'fire_once_now')}`;

const H = 3_600_000;
const T9 = Date.UTC(2026, 11, 1, 9);
const settle = (ms = 300) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let project: ProjectConfig;
let resources: ProvisionedResources;
let ledger: DynamoRunLedger;
let firstQueue: string;

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

/** The local scheduler as `kisflow dev` runs it, for the jobs named, on `clock`. */
function devScheduler(jobIds: readonly string[], clock: { ms: number }): Scheduler {
  const only = { ...project, jobs: new Map([...project.jobs].filter(([id]) => jobIds.includes(id))) };
  const transport = new SqsTransport({ sqs: ctx.clients.sqs, queueUrl: () => firstQueue });
  return startScheduler({
    project: only,
    ledger,
    now: () => clock.ms,
    checkMs: 20,
    send: (j, tick) => transport.send({ kind: 'step', flowId: j.flowId, step: 0 }, tick),
    onError: (err) => {
      throw err;
    },
  });
}

async function runsOf(jobId: string): Promise<RunRecord[]> {
  // The ledger starts runs on the real clock, the scheduler fires on the test's (T9...).
  return ledger.list({ jobId, since: Math.min(T9, Date.now()) - 24 * H, until: Date.now() + H });
}

async function ticks(): Promise<string[]> {
  return (await drain(ctx.clients.sqs, firstQueue)).map((m) => decodeEnvelope(m.Body ?? '').runId);
}

/** The ticks sent, once `n` have arrived (a loaded machine may take a while), plus any that follow within a settle. */
async function ticksOnce(n: number, timeoutMs = 15_000): Promise<string[]> {
  const got: string[] = [];
  const deadline = Date.now() + timeoutMs;
  while (got.length < n && Date.now() < deadline) {
    got.push(...(await ticks()));
    if (got.length < n) await settle(50);
  }
  await settle();
  got.push(...(await ticks()));
  return got;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kisflow-jobs-pause-'));
  await mkdir(join(dir, 'flows'));
  await mkdir(join(dir, 'functions'));
  await writeFile(join(dir, 'flows', 'app.yml'), YAML);
  await writeFile(join(dir, 'functions', 'A.ts'), 'export default 1;\n');
  project = await loadProject(join(dir, 'flows'), { root: dir });
  resources = await provisionProject(project, ctx.clients, { prefix: 'pause' });
  firstQueue = resources.flows.F?.stepQueues[0] as string;
  // The ledger's own clock stays real: run records live in the day partitions of their start.
  ledger = new DynamoRunLedger({ dynamodb: ctx.clients.dynamodb, tableName: resources.runsTable });
  writeDevEndpoints(dir, {
    sqsEndpoint: ctx.emulators.sqsEndpoint,
    dynamodbEndpoint: ctx.emulators.dynamodbEndpoint,
    prefix: 'pause',
    pid: process.pid,
    runsTable: resources.runsTable,
  });
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('kisflow jobs pause|resume against a dev stack', () => {
  it('paused, the scheduler does not fire and jobs list says so; resumed, fire_once_now starts one misfire run', async () => {
    const clock = { ms: T9 + 0.5 * H };
    const scheduler = devScheduler(['Hourly'], clock);
    try {
      await scheduler.ready;
      clock.ms = T9 + H + 1000;
      const [ten] = await ticksOnce(1);
      expect(ten).toBe(`job-Hourly-${T9 + H}`);
      await ledger.complete({ runId: ten as string, batchId: ten as string, step: 0 });

      const paused = await kisflow(['jobs', 'pause', 'Hourly', '--reason', 'supplier maintenance']);
      expect(paused).toMatchObject({ code: 0, stdout: 'job Hourly paused\n' });
      expect(paused.stderr).toMatch(/fires due while paused are missed fires \(misfire: fire_once_now\)/);
      const listed = await kisflow(['jobs', 'list', '--json']);
      const row = listed.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
        .find((r) => r.job === 'Hourly');
      expect(row).toMatchObject({
        state: 'paused',
        reason: 'supplier maintenance',
        next: null,
        lastRun: { id: ten, status: 'succeeded' },
        successRatio: 1,
      });
      const text = await kisflow(['jobs', 'list']);
      expect(text.stdout).toMatch(
        /^Hourly\s+F\s+cron\(0 \* \* \* \? \*\)\s+UTC\s+paused \(supplier maintenance\)\s/m,
      );

      for (const hour of [2, 3]) {
        clock.ms = T9 + hour * H + 1000;
        await settle();
      }
      expect(await ticks()).toEqual([]);
      expect((await runsOf('Hourly')).map((r) => r.id)).toEqual([ten]);

      clock.ms = T9 + 3.5 * H;
      const resumed = await kisflow(['jobs', 'resume', 'Hourly', '--json']);
      expect(resumed.code).toBe(0);
      expect(JSON.parse(resumed.stdout)).toMatchObject({ jobId: 'Hourly', state: 'enabled' });
      expect(resumed.stderr).toMatch(/the running kisflow dev applies misfire: fire_once_now/);
      const misfired = await ticksOnce(1);
      expect(misfired).toEqual([`job-Hourly-${T9 + 3 * H}`]);
      expect(await ledger.get(misfired[0] as string)).toMatchObject({
        trigger: 'misfire',
        scheduledAt: T9 + 3 * H,
        status: 'running',
      });
    } finally {
      await scheduler.stop();
    }
  });

  it('refuses an unknown job with the known ones named, without a stack', async () => {
    const out = await kisflow(['jobs', 'pause', 'Hourl']);
    expect(out.code).toBe(1);
    expect(out.stderr).toBe(
      "No job 'Hourl' in the flows directory (jobs: Hourly, Skipper, Catcher, Cloud).\n",
    );
  });
});

describe('misfire after a dev restart', () => {
  it('skip fires nothing for the fires missed while stopped; fire_once_now fires one misfire run, once from two processes', async () => {
    const clock = { ms: T9 + 0.5 * H };
    const before = devScheduler(['Skipper', 'Catcher'], clock);
    await before.ready;
    clock.ms = T9 + H + 1000;
    const fired = await ticksOnce(2);
    await before.stop();
    expect(fired.sort()).toEqual([`job-Catcher-${T9 + H}`, `job-Skipper-${T9 + H}`]);
    for (const id of fired) await ledger.complete({ runId: id, batchId: id, step: 0 });

    // Stopped from 10:00 to 12:30: the fires of 11 and 12 were missed. Two processes start.
    clock.ms = T9 + 3.5 * H;
    const [a, b] = [devScheduler(['Skipper', 'Catcher'], clock), devScheduler(['Skipper', 'Catcher'], clock)];
    await Promise.all([a.ready, b.ready]);
    const caught = await ticksOnce(1);
    await Promise.all([a.stop(), b.stop()]);
    expect([...caught, ...(await ticks())]).toEqual([`job-Catcher-${T9 + 3 * H}`]);
    expect((await runsOf('Skipper')).map((r) => r.trigger)).toEqual(['schedule']);
    expect((await runsOf('Catcher')).map((r) => [r.trigger, r.scheduledAt])).toEqual([
      ['misfire', T9 + 3 * H],
      ['schedule', T9 + H],
    ]);
  });
});

describe('jobs pause|resume on AWS: the schedule switched, the misfire run started by the command', () => {
  const name = resourceNames('pause').jobSchedule('Cloud');
  const deployed: GetScheduleOutput = {
    Name: name,
    GroupName: 'default',
    Arn: `arn:aws:scheduler:eu-west-1:123456789012:schedule/default/${name}`,
    ScheduleExpression: 'cron(0 * * * ? *)',
    ScheduleExpressionTimezone: 'UTC',
    Description: 'KisFlow job Cloud of flow F',
    State: 'ENABLED',
    Target: {
      Arn: 'arn:aws:sqs:eu-west-1:123456789012:pause-F--A',
      RoleArn: 'arn:aws:iam::123456789012:role/scheduler',
      Input: '{"v":1}',
      RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3600 },
      DeadLetterConfig: { Arn: 'arn:aws:sqs:eu-west-1:123456789012:pause-F-ingress-dlq' },
    },
    FlexibleTimeWindow: { Mode: 'OFF' },
    CreationDate: new Date(T9),
    LastModificationDate: new Date(T9),
  };
  /** The one fake of this suite: EventBridge Scheduler, which no emulator serves. */
  function fakeScheduler(schedule: GetScheduleOutput | undefined) {
    const sent: { name: string; input: Record<string, unknown> }[] = [];
    let current = schedule;
    const client = {
      send: async (command: GetScheduleCommand | UpdateScheduleCommand) => {
        sent.push({ name: command.constructor.name, input: { ...command.input } });
        if (current === undefined) {
          throw new ResourceNotFoundException({
            Message: 'Schedule not found',
            message: 'Schedule not found',
            $metadata: {},
          });
        }
        if (command instanceof UpdateScheduleCommand) current = { ...current, State: command.input.State };
        return command instanceof GetScheduleCommand ? current : { ScheduleArn: current.Arn };
      },
    } as unknown as SchedulerClient;
    return { client, sent };
  }

  it('pause: the ledger, then UpdateSchedule with the schedule as it was but DISABLED; a fire that raced it is skipped with the reason', async () => {
    const scheduler = fakeScheduler(deployed);
    const jobSpec = project.jobs.get('Cloud') as JobSpec;
    const clock = { ms: T9 + 0.5 * H };
    const control = {
      ledger,
      setSchedule: (state: 'ENABLED' | 'DISABLED') =>
        setScheduleState(name, state, { scheduler: scheduler.client }),
      sendRun: async (j: JobSpec, outcome: Parameters<typeof fireBatches>[1]) => {
        const transport = new SqsTransport({ sqs: ctx.clients.sqs, queueUrl: () => firstQueue });
        for (const batch of fireBatches(j, outcome))
          await transport.send({ kind: 'step', flowId: 'F', step: 0 }, batch);
      },
      now: () => clock.ms,
    };
    // The job fired at 10:00 (through fireJob, as AWS fires do) and that run ended.
    const ten = await fireJob(ledger, { job: jobSpec, scheduledAt: new Date(T9 + H), trigger: 'schedule' });
    if (ten.kind !== 'started') throw new Error(ten.kind);
    await ledger.complete({ runId: ten.run.id, batchId: ten.run.id, step: 0 });

    expect(await pauseJob(control, jobSpec, 'quarter close')).toMatchObject({
      state: 'paused',
      reason: 'quarter close',
    });
    const { CreationDate: _c, LastModificationDate: _l, Arn: _a, State: _s, ...kept } = deployed;
    expect(scheduler.sent).toEqual([
      { name: 'GetScheduleCommand', input: { Name: name, GroupName: 'default' } },
      { name: 'UpdateScheduleCommand', input: { ...kept, State: 'DISABLED' } },
    ]);
    // The schedule's 11:00 fire was already on its way.
    const raced = await fireJob(ledger, {
      job: jobSpec,
      scheduledAt: new Date(T9 + 2 * H),
      trigger: 'schedule',
    });
    expect(raced.kind).toBe('skipped');
    expect(raced.kind === 'skipped' && raced.run).toMatchObject({
      status: 'skipped',
      reason: 'job paused: quarter close',
    });

    clock.ms = T9 + 3.5 * H;
    const resumed = await resumeJob(control, jobSpec);
    expect(scheduler.sent.slice(2).map((c) => [c.name, c.input.State])).toEqual([
      ['GetScheduleCommand', undefined],
      ['UpdateScheduleCommand', 'ENABLED'],
    ]);
    // At 12:30, 11:00 (skipped while paused, not counted as fired) and 12:00 were missed: one run, for 12:00.
    expect(resumed.missed).toEqual({ fire: true, scheduledAt: new Date(T9 + 3 * H), missed: 2 });
    expect(resumed.outcome?.kind).toBe('started');
    expect(await ticks()).toEqual([`job-Cloud-${T9 + 3 * H}`]);
    expect(await ledger.get(`job-Cloud-${T9 + 3 * H}`)).toMatchObject({ trigger: 'misfire' });

    // Resuming again: the schedule is already on (no UpdateSchedule), nothing more missed.
    const again = await resumeJob(control, jobSpec);
    expect(scheduler.sent.slice(4).map((c) => c.name)).toEqual(['GetScheduleCommand']);
    expect(again.missed).toEqual({ fire: false, missed: 0 });
  });

  it('a job whose stack is not deployed: NOT_DEPLOYED, saying what to do', async () => {
    const scheduler = fakeScheduler(undefined);
    await expect(setScheduleState(name, 'DISABLED', { scheduler: scheduler.client })).rejects.toMatchObject({
      code: 'NOT_DEPLOYED',
      message: expect.stringMatching(/no EventBridge Scheduler schedule 'pause-job-Cloud'.*cdk deploy/),
    });
  });
});
