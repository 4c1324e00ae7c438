import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { KisFlowJob } from '../../infra/job-schedule.ts';
import type { JobSpec, ProjectConfig } from '../../kisflow/config/model.ts';
import type { StepBatch } from '../../kisflow/ports.ts';
import { fireRunId } from '../../kisflow/runs/fire-job.ts';
import { JobControl } from '../../kisflow/runs/job-control.ts';
import { MemoryRunLedger } from '../../kisflow/runs/memory-run-ledger.ts';
import { decodeControl, encodeControl, fireMessage } from '../../kisflow/wire/control-message.ts';
import { schedulerTime } from '../../kisflow/wire/envelope.ts';

const job: JobSpec = {
  jobId: 'nightly',
  flowId: 'orders',
  schedule: 'cron(0 2 * * ? *)',
  timezone: 'UTC',
  enabled: true,
  params: { region: 'eu' },
  shards: 2,
};

// The schedule's input is the `fire` message EventBridge Scheduler sends to the control queue: job
// control's own decoder must read it, and it must be the message the local scheduler sends.
describe('a job fire in AWS and in kisflow dev', () => {
  it('renders a schedule input job control decodes into the same fire, run and shard ticks as kisflow dev', async () => {
    const stack = new Stack(new App(), 'Fires');
    const controlQueue = new Queue(stack, 'Control');
    const deadLetterQueue = new Queue(stack, 'Dlq');
    new KisFlowJob(stack, 'Nightly', {
      flowId: 'orders',
      jobId: 'nightly',
      schedule: job.schedule,
      controlQueue,
      deadLetterQueue,
    });
    const template = Template.fromStack(stack);
    const schedule = Object.values(template.findResources('AWS::Scheduler::Schedule'))[0];
    expect(schedule?.Properties.Target.Arn).toEqual({
      'Fn::GetAtt': [expect.stringMatching(/^Control/), 'Arn'],
    });
    const at = new Date('2026-03-01T02:00:00Z');
    // What the Scheduler substitutes at that firing.
    const input = String(schedule?.Properties.Target.Input).replaceAll(
      '<aws.scheduler.scheduled-time>',
      schedulerTime(at),
    );
    const message = decodeControl(input);
    expect(message).toEqual(decodeControl(encodeControl(fireMessage('nightly', schedulerTime(at)))));

    const ledger = new MemoryRunLedger();
    const ticks: StepBatch[] = [];
    const control = new JobControl({
      project: { jobs: new Map([['nightly', job]]) } as unknown as ProjectConfig,
      ledger,
      sendTicks: async (_flow, batches) => {
        ticks.push(...batches);
      },
      sendControl: async () => {},
      publish: async () => {},
    });
    expect(await control.handle(message)).toMatchObject({ kind: 'fired', outcome: 'started' });
    const runId = fireRunId(job, at);
    expect(await ledger.get(runId)).toMatchObject({ trigger: 'schedule', batches: { roots: 2 } });
    expect(ticks.map((t) => [t.flowId, t.step, t.runId, t.meta])).toEqual([
      ['orders', 0, runId, { region: 'eu', shard: { index: 0, total: 2 } }],
      ['orders', 0, runId, { region: 'eu', shard: { index: 1, total: 2 } }],
    ]);
    expect(ticks[0]?.rows).toEqual([{ job_id: 'nightly', scheduled_at: '2026-03-01T02:00:00Z' }]);
  });
});
