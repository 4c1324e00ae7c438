import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app.ts';
import { resourceNames } from '../../kisflow/config/names.ts';
import { flow, flowStackOf, func, job, project, testApp } from './projects.ts';

const names = resourceNames();
type Resource = { Properties: Record<string, unknown> };

/** An ordered flow (FIFO, with a job and an event source into it) beside an unordered one. */
function orderingProject() {
  return project({
    funcs: [func('a'), func('b')],
    flows: [
      flow('cdc', ['a', 'b'], {
        tuning: { ordering: ['order_id'], batchSize: 10, maxConcurrency: 8 },
        source: { eventPattern: { source: ['shop'] } },
      }),
      flow('plain', ['a', 'b'], { tuning: { batchSize: 100, batchingWindowSeconds: 2 } }),
    ],
    jobs: [job('nightly', 'cdc')],
  });
}

describe('an ordered flow deploys on FIFO queues; an unordered one keeps standard queues', () => {
  let cdc: Template;
  let plain: Template;
  beforeAll(() => {
    const { flows } = buildApp({ project: orderingProject(), app: testApp(), bundling: false });
    cdc = Template.fromStack(flowStackOf(flows, 'cdc'));
    plain = Template.fromStack(flowStackOf(flows, 'plain'));
  });

  const queue = (t: Template, name: string): Resource => {
    const found = Object.values(t.findResources('AWS::SQS::Queue', { Properties: { QueueName: name } }));
    expect(found, name).toHaveLength(1);
    return found[0] as Resource;
  };

  it('makes every step queue, the output queue and their DLQs FIFO, high-throughput, encrypted', () => {
    const fifoNames = ['a', 'b'].flatMap((key) => [
      names.stepQueue('cdc', key, true),
      names.stepDeadLetterQueue('cdc', key, true),
    ]);
    fifoNames.push(names.outputQueue('cdc', true), names.outputDeadLetterQueue('cdc', true));
    for (const name of fifoNames) {
      expect(queue(cdc, name).Properties).toMatchObject({
        FifoQueue: true,
        ContentBasedDeduplication: true,
        DeduplicationScope: 'messageGroup',
        FifoThroughputLimit: 'perMessageGroupId',
        SqsManagedSseEnabled: true,
      });
    }
    // A FIFO queue's DLQ is FIFO (SQS refuses another), and the step queue redrives into it.
    const dlqId = Object.keys(
      cdc.findResources('AWS::SQS::Queue', {
        Properties: { QueueName: names.stepDeadLetterQueue('cdc', 'a', true) },
      }),
    )[0];
    expect(queue(cdc, names.stepQueue('cdc', 'a', true)).Properties.RedrivePolicy).toMatchObject({
      deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] },
    });
    // No standard queue is left in the ordered flow's stack but the ingress DLQ (EventBridge's).
    const standard = Object.values(cdc.findResources('AWS::SQS::Queue'))
      .map((q) => q as Resource)
      .filter((q) => q.Properties.FifoQueue !== true)
      .map((q) => q.Properties.QueueName);
    expect(standard).toEqual([names.ingressDeadLetterQueue('cdc')]);
  });

  it('refuses every request without TLS on the FIFO queues', () => {
    const policies = Object.values(cdc.findResources('AWS::SQS::QueuePolicy')) as Resource[];
    const denies = policies.flatMap((p) =>
      (p.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement.filter(
        (s) =>
          s.Effect === 'Deny' &&
          JSON.stringify(s.Condition) === JSON.stringify({ Bool: { 'aws:SecureTransport': 'false' } }),
      ),
    );
    // Four step queues and DLQs, the output queue and its DLQ, the ingress DLQ.
    expect(denies.length).toBeGreaterThanOrEqual(7);
  });

  it('maps FIFO queues with at most 10 messages, no batching window, partial failures reported', () => {
    const mappings = Object.values(cdc.findResources('AWS::Lambda::EventSourceMapping')) as Resource[];
    expect(mappings).toHaveLength(2);
    for (const m of mappings) {
      expect(m.Properties.BatchSize).toBe(10);
      expect(m.Properties.MaximumBatchingWindowInSeconds).toBeUndefined();
      expect(m.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      expect(m.Properties.ScalingConfig).toEqual({ MaximumConcurrency: 8 });
    }
  });

  it('gives the event rule a message group for the FIFO first queue; the job fires into the (standard) control queue', () => {
    // Job control sends the ticks into the FIFO queue itself, grouped like any batch.
    const schedules = Object.values(cdc.findResources('AWS::Scheduler::Schedule'));
    expect(schedules.length).toBeGreaterThan(0);
    for (const s of schedules) expect(s.Properties.Target.SqsParameters?.MessageGroupId).toBeUndefined();
    cdc.hasResourceProperties('AWS::Events::Rule', {
      Targets: [{ SqsParameters: { MessageGroupId: 'events' } }],
    });
  });

  it('keeps the unordered flow on standard queues with its batching window', () => {
    for (const name of [names.stepQueue('plain', 'a'), names.stepDeadLetterQueue('plain', 'a')]) {
      expect(queue(plain, name).Properties.FifoQueue).toBeUndefined();
    }
    plain.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 100,
      MaximumBatchingWindowInSeconds: 2,
    });
  });

  it('stops synth on a FIFO tuning Lambda refuses, for a project built in code', () => {
    const bad = project({
      funcs: [func('a')],
      flows: [flow('cdc', ['a'], { tuning: { ordering: ['id'], batchSize: 50, batchingWindowSeconds: 1 } })],
    });
    expect(() => buildApp({ project: bad, app: testApp(), bundling: false })).toThrow(
      /batch size 50 is over 10, the most on a FIFO queue; a FIFO queue takes no batching window/,
    );
  });
});
