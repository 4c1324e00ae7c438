import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { KisFlowJob } from '../../infra/job-schedule.ts';
import { tickBatch } from '../../kisflow/local/scheduler.ts';
import { decodeEnvelope } from '../../kisflow/wire/envelope.ts';

// The schedule's input is the envelope EventBridge Scheduler sends: the step handler's own decoder
// must read it, and the local scheduler must build the same batch for the same firing.
describe('a job tick in AWS and in kisflow dev', () => {
  it('renders a schedule input the runtime decodes into the batch the local scheduler builds', () => {
    const stack = new Stack(new App(), 'Ticks');
    const queue = new Queue(stack, 'First');
    const deadLetterQueue = new Queue(stack, 'Dlq');
    new KisFlowJob(stack, 'Nightly', {
      flowId: 'orders',
      jobId: 'nightly',
      schedule: 'cron(0 2 * * ? *)',
      params: { region: 'eu' },
      queue,
      deadLetterQueue,
    });
    const schedule = Object.values(Template.fromStack(stack).findResources('AWS::Scheduler::Schedule'))[0];
    const at = new Date('2026-03-01T02:00:00Z');
    // What the Scheduler substitutes at that firing.
    const input = String(schedule?.Properties.Target.Input).replaceAll(
      '<aws.scheduler.scheduled-time>',
      '2026-03-01T02:00:00Z',
    );
    const local = tickBatch(
      {
        jobId: 'nightly',
        flowId: 'orders',
        schedule: 'cron(0 2 * * ? *)',
        timezone: 'UTC',
        enabled: true,
        params: { region: 'eu' },
      },
      at,
    );
    expect(decodeEnvelope(input)).toEqual(local);
    expect(local.batchId).toBe('nightly@2026-03-01T02:00:00Z');
  });
});
