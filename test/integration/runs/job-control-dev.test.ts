/**
 * Job control under `kisflow dev`: fires as `fire` messages on the control queue (the shape
 * EventBridge Scheduler sends on AWS), run ends announced by the real step handlers, and the
 * job-control handler polled like the Lambda it is, on fauxqs (SQS and SNS) and dynalite.
 */

import { type SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KisFlowJob } from '../../../infra/job-schedule.ts';
import { type AwsClients, createAwsClients, destroyAwsClients } from '../../../kisflow/aws/clients.ts';
import { sendControlMessage } from '../../../kisflow/aws/control-queue.ts';
import { snsClientBeside } from '../../../kisflow/aws/sns-alerts.ts';
import { buildProject } from '../../../kisflow/config/build-project.ts';
import { defineFunction } from '../../../kisflow/engine/function.ts';
import { Registry } from '../../../kisflow/engine/registry.ts';
import { StepError } from '../../../kisflow/errors.ts';
import { type DevStack, startDevStack } from '../../../kisflow/local/dev-stack.ts';
import type { RunRecord } from '../../../kisflow/runs/run-ledger.ts';
import { CONTROL_VERSION, type ControlMessage } from '../../../kisflow/wire/control-message.ts';
import { DEAD_LETTER_ATTRIBUTES } from '../../../kisflow/wire/dead-letter-record.ts';
import { type Emulators, startEmulators } from '../../../localstack/emulators.ts';

let emulators: Emulators;
let stack: DevStack;
let clients: AwsClients;
let sns: SNSClient;
let alertQueue: string;
let openGate: () => void = () => {};
const gate = new Promise<void>((resolve) => {
  openGate = resolve;
});

const rate = 'rate(1 day)';
const project = buildProject({
  funcs: [
    { fid: 'gate', fmode: 'Calculate' },
    { fid: 'ok', fmode: 'Calculate' },
    { fid: 'boom', fmode: 'Calculate' },
  ],
  flows: [
    { flow_id: 'slow', flows: [{ fid: 'gate' }] },
    { flow_id: 'okf', flows: [{ fid: 'ok' }] },
    { flow_id: 'bad', flows: [{ fid: 'boom' }] },
  ],
  jobs: [
    { job_id: 'Slow', schedule: rate, flow_id: 'slow', overlap: 'serial' },
    { job_id: 'Parent', schedule: rate, flow_id: 'okf', on_success: ['OkChild'], on_failure: ['FailChild'] },
    {
      job_id: 'Failing',
      schedule: rate,
      flow_id: 'bad',
      on_failure: ['FailChild'],
      retry: { times: 2, interval: 1, backoff: 1 },
      alerts: { on_failure: true },
    },
    { job_id: 'OkChild', schedule: rate, flow_id: 'okf' },
    { job_id: 'FailChild', schedule: rate, flow_id: 'okf' },
    { job_id: 'Sharded', schedule: 'cron(0 2 * * ? *)', flow_id: 'okf', shards: 3, params: { region: 'eu' } },
  ],
});
const registry = new Registry()
  .addFunction(
    'gate',
    defineFunction(async (rows, ctx) => {
      await gate;
      for (const r of rows) ctx.commit(r);
    }),
  )
  .addFunction(
    'ok',
    defineFunction((rows, ctx) => {
      for (const r of rows) ctx.commit({ ...r, shard: (ctx.meta.shard as { index: number })?.index ?? null });
    }),
  )
  .addFunction(
    'boom',
    defineFunction(() => {
      throw new StepError('BOOM', 'the bad flow always fails', {}, { retryable: false });
    }),
  );

beforeAll(async () => {
  emulators = await startEmulators();
  const endpoints = { sqsEndpoint: emulators.sqsEndpoint, dynamodbEndpoint: emulators.dynamodbEndpoint };
  stack = await startDevStack({
    dir: '.',
    root: process.cwd(),
    prefix: 'jobctl',
    project,
    registry,
    endpoints,
    logLevel: 'SILENT',
    lock: false,
    sweepMs: 300,
    waitTimeSeconds: 1,
  });
  clients = createAwsClients(endpoints);
  sns = snsClientBeside(clients.sqs);
  // A test queue subscribed to the alert topic stands for an operator's email.
  alertQueue = (await clients.sqs.send(new CreateQueueCommand({ QueueName: 'jobctl-alerts-test' })))
    .QueueUrl as string;
  const arn = (
    await clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: alertQueue, AttributeNames: ['QueueArn'] }),
    )
  ).Attributes?.QueueArn as string;
  await sns.send(
    new SubscribeCommand({ TopicArn: stack.resources.alertTopic, Protocol: 'sqs', Endpoint: arn }),
  );
}, 60_000);

afterAll(async () => {
  openGate();
  await stack?.stop();
  sns?.destroy();
  if (clients) destroyAwsClients(clients);
  await emulators?.stop();
});

const send = (message: ControlMessage) =>
  sendControlMessage(clients.sqs, stack.resources.control?.queue as string, message);
const fire = (job: string, run: string) =>
  send({ v: CONTROL_VERSION, kind: 'fire', job, at: new Date().toISOString(), trigger: 'manual', run });

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

const ended = (runId: string) =>
  until(`run ${runId} ended`, async () => {
    const run = await stack.ledger.get(runId);
    return run !== undefined && run.status !== 'running' ? run : undefined;
  });

describe('job control under kisflow dev', () => {
  it('serial: a second fire while the first runs is queued, and starts when the first ends', async () => {
    await fire('Slow', 'slow-1');
    await until('slow-1 running', async () =>
      (await stack.ledger.status('slow-1')) === 'running' ? true : undefined,
    );
    await fire('Slow', 'slow-2');
    // Queued, not started: give job control time to handle the second fire.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await stack.ledger.get('slow-2')).toBeUndefined();
    openGate();
    const first = await ended('slow-1');
    const second = await ended('slow-2');
    expect([first.status, second.status]).toEqual(['succeeded', 'succeeded']);
    expect(second.started).toBeGreaterThanOrEqual(first.finished as number);
  });

  it('child jobs: on_success after a run that succeeds, on_failure after one that fails', async () => {
    await fire('Parent', 'parent-1');
    expect((await ended('parent-1')).status).toBe('succeeded');
    const child = await ended('parent-1>OkChild');
    expect(child).toMatchObject({
      trigger: 'child',
      parentRunId: 'parent-1',
      jobId: 'OkChild',
      status: 'succeeded',
    });
    expect(await stack.ledger.get('parent-1>FailChild')).toBeUndefined();

    await fire('Failing', 'fail-1');
    expect((await ended('fail-1')).status).toBe('failed');
    expect(await ended('fail-1>FailChild')).toMatchObject({ trigger: 'child', parentRunId: 'fail-1' });
  });

  it('retry on failure: N retries after the interval, each linked to the run before it, then no more', async () => {
    const first = await ended('fail-1');
    const retry1 = await ended('fail-1~retry1');
    const retry2 = await ended('fail-1~retry2');
    expect(retry1).toMatchObject({ trigger: 'retry', parentRunId: 'fail-1', status: 'failed' });
    expect(retry2).toMatchObject({ trigger: 'retry', parentRunId: 'fail-1~retry1', status: 'failed' });
    // interval: 1 s after the run it retries ended.
    expect(retry1.started - (first.finished as number)).toBeGreaterThanOrEqual(900);
    await new Promise((r) => setTimeout(r, 2500));
    expect(await stack.ledger.get('fail-1~retry3')).toBeUndefined();
  }, 40_000);

  it('alerts: each failed run is published to the SNS topic with its run id and the reason', async () => {
    const seen: { Message: string; MessageAttributes?: Record<string, { Value: string }> }[] = [];
    await until(
      'three alerts',
      async () => {
        const out = await clients.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: alertQueue, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
        );
        for (const m of out.Messages ?? []) seen.push(JSON.parse(m.Body as string));
        return seen.length >= 3 ? seen : undefined;
      },
      40_000,
    );
    const runIds = seen.map((s) => s.MessageAttributes?.runId?.Value).sort();
    expect(runIds).toEqual(['fail-1', 'fail-1~retry1', 'fail-1~retry2']);
    expect(seen.find((s) => s.MessageAttributes?.runId?.Value === 'fail-1')?.Message).toMatch(
      /^run fail-1 of job Failing failed: 1 rejected$/,
    );
  }, 45_000);

  it('a crash between the run’s final write and the run-ended send is repaired by the sweep, once', async () => {
    // What a step does before it dies: the run's last batch counted, the run final, nothing sent.
    await stack.ledger.start({
      runId: 'crash-1',
      flowId: 'okf',
      jobId: 'Parent',
      trigger: 'manual',
      roots: 1,
      exclusive: true,
    });
    await stack.ledger.complete({
      runId: 'crash-1',
      batchId: 'crash-1',
      step: 0,
      counters: { in: 1, out: 1 },
    });
    expect(await stack.ledger.unhandledEnds()).toContain('crash-1');
    const child = await ended('crash-1>OkChild');
    expect(child).toMatchObject({ trigger: 'child', parentRunId: 'crash-1' });
    expect(await stack.ledger.claimEnd('crash-1', 1000)).toEqual({ kind: 'handled' });
    // A late run-ended (the dead step's message after all) changes nothing.
    await send({ v: CONTROL_VERSION, kind: 'run-ended', run: 'crash-1' });
    await new Promise((r) => setTimeout(r, 1500));
    const children = (await stack.ledger.list({ jobId: 'OkChild' })).filter(
      (r) => r.parentRunId === 'crash-1',
    );
    expect(children.map((r: RunRecord) => r.id)).toEqual(['crash-1>OkChild']);
  });

  it('a schedule fire in AWS shape (the rendered Scheduler input) becomes a run with its shards', async () => {
    const cdk = new Stack(new App(), 'Fires');
    new KisFlowJob(cdk, 'Sharded', {
      jobId: 'Sharded',
      flowId: 'okf',
      schedule: 'cron(0 2 * * ? *)',
      controlQueue: new Queue(cdk, 'Control'),
      deadLetterQueue: new Queue(cdk, 'Dlq'),
    });
    const schedule = Object.values(Template.fromStack(cdk).findResources('AWS::Scheduler::Schedule'))[0];
    const body = String(schedule?.Properties.Target.Input).replaceAll(
      '<aws.scheduler.scheduled-time>',
      '2026-03-01T02:00:00Z',
    );
    await sendControlMessage(clients.sqs, stack.resources.control?.queue as string, JSON.parse(body));
    const run = await ended(`job-Sharded-${Date.parse('2026-03-01T02:00:00Z')}`);
    expect(run).toMatchObject({
      trigger: 'schedule',
      jobId: 'Sharded',
      status: 'succeeded',
      params: { region: 'eu' },
    });
    expect(run.batches).toMatchObject({ roots: 3, done: 3 });
    expect(run.steps[0]).toMatchObject({ in: 3, out: 3 });
  }, 60_000);

  it('a fire no retry can fix (an unknown job) goes to the control DLQ at once, with its code and reason', async () => {
    await fire('NoSuchJob', 'nope-1');
    const dead = await until('the dead letter', async () => {
      const out = await clients.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: stack.resources.control?.deadLetterQueue,
          MessageAttributeNames: ['All'],
          WaitTimeSeconds: 1,
        }),
      );
      return out.Messages?.[0];
    });
    expect(JSON.parse(dead.Body as string)).toMatchObject({ kind: 'fire', job: 'NoSuchJob' });
    expect(dead.MessageAttributes?.[DEAD_LETTER_ATTRIBUTES.code]?.StringValue).toBe('UNKNOWN_JOB');
    expect(dead.MessageAttributes?.[DEAD_LETTER_ATTRIBUTES.message]?.StringValue).toMatch(/job 'NoSuchJob'/);
    expect(await stack.ledger.get('nope-1')).toBeUndefined();
  });
});
