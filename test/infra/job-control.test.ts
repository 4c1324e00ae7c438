import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app.ts';
import { JOB_CONTROL_RUN_ACTIONS } from '../../infra/job-control.ts';
import { resourceNames } from '../../kisflow/config/names.ts';
import { CONTROL_WIRING_ENV } from '../../kisflow/wire/control-wiring.ts';
import { parseRenderedJson, shopProject, testApp } from './projects.ts';

const names = resourceNames();
type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

const byName = (name: string) => ({
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':sqs:',
      { Ref: 'AWS::Region' },
      ':',
      { Ref: 'AWS::AccountId' },
      `:${name}`,
    ],
  ],
});

describe('job control in the shared stack', () => {
  let shared: Template;
  const idOf = (type: string, props: Record<string, unknown>) => {
    const [id] = Object.keys(shared.findResources(type, { Properties: props }));
    if (!id) throw new Error(`no ${type} with ${JSON.stringify(props)}`);
    return id;
  };
  beforeAll(() => {
    const { shared: stack } = buildApp({ project: shopProject(), app: testApp(), bundling: false });
    shared = Template.fromStack(stack);
  });

  it('has a control queue, encrypted and TLS-only, with a DLQ after 5 receives', () => {
    const dlq = idOf('AWS::SQS::Queue', { QueueName: names.controlDeadLetterQueue() });
    shared.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: names.controlQueue(),
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 360,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] }, maxReceiveCount: 5 },
    });
    const control = idOf('AWS::SQS::Queue', { QueueName: names.controlQueue() });
    shared.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: control }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('feeds the job-control function from it with partial batch failures, and sweeps every minute', () => {
    const control = idOf('AWS::SQS::Queue', { QueueName: names.controlQueue() });
    shared.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [control, 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    shared.hasResourceProperties('AWS::Scheduler::Schedule', {
      Name: names.controlSweepSchedule(),
      ScheduleExpression: 'rate(1 minute)',
      Target: Match.objectLike({ Arn: { 'Fn::GetAtt': [control, 'Arn'] }, Input: '{"v":1,"kind":"sweep"}' }),
    });
  });

  it('grants job control only what it needs: the runs table, the first queue of each flow with jobs, its queues, the topic', () => {
    const fn = Object.values(shared.findResources('AWS::Lambda::Function')).find((f) =>
      String(f.Properties.Description).startsWith('KisFlow job control'),
    );
    const wiring = parseRenderedJson(fn?.Properties.Environment.Variables[CONTROL_WIRING_ENV]) as {
      prefix: string;
      controlQueue: unknown;
    };
    expect(wiring).toMatchObject({
      prefix: 'kisflow',
      controlQueue: { Ref: idOf('AWS::SQS::Queue', { QueueName: names.controlQueue() }) },
    });
    const role = fn?.Properties.Role['Fn::GetAtt'][0];
    const statements = Object.values(shared.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: role }]))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
    const control = idOf('AWS::SQS::Queue', { QueueName: names.controlQueue() });
    const dlq = idOf('AWS::SQS::Queue', { QueueName: names.controlDeadLetterQueue() });
    const runs = idOf('AWS::DynamoDB::Table', { TableName: names.runsTable() });
    const topic = idOf('AWS::SNS::Topic', { TopicName: names.alarmTopic() });
    const grants = statements.map((s) => [([] as string[]).concat(s.Action).sort(), s.Resource]);
    expect(grants).toEqual(
      expect.arrayContaining([
        [
          ['sqs:SendMessage'],
          [
            byName(names.stepQueue('订单流', 'load')),
            byName(names.stepQueue('orders', 'verify')),
            byName(names.stepQueue('off', 'publish')),
          ],
        ],
        [[...JOB_CONTROL_RUN_ACTIONS], { 'Fn::GetAtt': [runs, 'Arn'] }],
        [['sns:Publish'], { Ref: topic }],
      ]),
    );
    const sqsTargets = statements
      .filter((s) => ([] as string[]).concat(s.Action).some((a) => a.startsWith('sqs:')))
      .flatMap((s) => ([] as unknown[]).concat(s.Resource));
    // Its own queue (consume, delayed retries), its DLQ, the first queues; no other queue.
    expect(new Set(sqsTargets.map((r) => JSON.stringify(r)))).toEqual(
      new Set(
        [
          { 'Fn::GetAtt': [control, 'Arn'] },
          { 'Fn::GetAtt': [dlq, 'Arn'] },
          byName(names.stepQueue('订单流', 'load')),
          byName(names.stepQueue('orders', 'verify')),
          byName(names.stepQueue('off', 'publish')),
        ].map((r) => JSON.stringify(r)),
      ),
    );
    for (const s of statements) expect(JSON.stringify(s.Resource)).not.toMatch(/"\*"/);
  });
});
