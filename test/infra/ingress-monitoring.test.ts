import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app.ts';
import { resourceNames, safeId } from '../../kisflow/config/names.ts';
import { flowStackOf, parseRenderedJson, shopProject, testApp } from './projects.ts';

const names = resourceNames();
const ORDER_KEYS = ['verify', 'save', 'calc', 'publish'];

function queueId(t: Template, name: string): string {
  const [id] = Object.keys(t.findResources('AWS::SQS::Queue', { Properties: { QueueName: name } }));
  if (!id) throw new Error(`no queue ${name}`);
  return id;
}

describe('jobs, event sources, dashboards and alarms', () => {
  let orders: Template;
  let orderFlow: Template;
  beforeAll(() => {
    const { flows } = buildApp({ project: shopProject(), app: testApp(), bundling: false });
    orders = Template.fromStack(flowStackOf(flows, 'orders'));
    orderFlow = Template.fromStack(flowStackOf(flows, '订单流'));
  });

  it('turns a job into an EventBridge Scheduler schedule that fires into the control queue, with time zone, retries and a DLQ', () => {
    orderFlow.resourceCountIs('AWS::Scheduler::Schedule', 1);
    orderFlow.resourceCountIs('AWS::Events::Rule', 0);
    const ingressDlq = queueId(orderFlow, `kisflow-${safeId('订单流', 40)}-ingress-dlq`);
    const control = {
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':sqs:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          `:${names.controlQueue()}`,
        ],
      ],
    };
    orderFlow.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 2 * * ? *)',
      ScheduleExpressionTimezone: 'Europe/Berlin',
      State: 'ENABLED',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: {
        Arn: control,
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [ingressDlq, 'Arn'] } },
        RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 10 },
      },
    });
    // A fire names the job only: job control takes its rows, params and policies from the project.
    const schedule = Object.values(orderFlow.findResources('AWS::Scheduler::Schedule'))[0];
    expect(JSON.parse(schedule?.Properties.Target.Input)).toEqual({
      v: 1,
      kind: 'fire',
      job: 'nightly',
      at: '<aws.scheduler.scheduled-time>',
      trigger: 'schedule',
    });
    // The schedule's role may send to the control queue and the DLQ only.
    const policies = Object.values(orderFlow.findResources('AWS::IAM::Policy')).filter((p) =>
      JSON.stringify(p).includes('SchedulerRole'),
    );
    const sends = policies
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .map((s) => [s.Action, s.Resource]);
    expect(sends).toEqual([
      ['sqs:SendMessage', control],
      ['sqs:SendMessage', { 'Fn::GetAtt': [ingressDlq, 'Arn'] }],
    ]);
  });

  it('routes events matching source.eventPattern on source.eventBus into the first queue as one-row envelopes', () => {
    const first = queueId(orders, names.stepQueue('orders', 'verify'));
    orders.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: 'shop-bus',
      EventPattern: { source: ['shop'], 'detail-type': ['OrderPlaced'] },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [first, 'Arn'] },
          DeadLetterConfig: {
            Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('IngressDeadLetterQueue'), 'Arn'] },
          },
          RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 10 },
          InputTransformer: {
            InputPathsMap: {
              id: '$.id',
              detail: '$.detail',
              source: '$.source',
              'detail-type': '$.detail-type',
              time: '$.time',
            },
            InputTemplate: Match.anyValue(),
          },
        }),
      ],
    });
    const rule = Object.values(orders.findResources('AWS::Events::Rule'))[0];
    const template: string = rule?.Properties.Targets[0].InputTransformer.InputTemplate;
    // EventBridge puts each unquoted <placeholder>'s value in as JSON (strings quoted):
    // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html
    const sample: Record<string, unknown> = {
      detail: { order_id: 'o-9' },
      id: 'e-1',
      source: 'shop',
      'detail-type': 'OrderPlaced',
      time: '2026-01-01T00:00:00Z',
    };
    const filled = template.replace(/<([a-z-]+)>/g, (_m, key: string) => JSON.stringify(sample[key]));
    expect(JSON.parse(filled)).toEqual({
      v: 1,
      flow: 'orders',
      step: 0,
      run: 'e-1',
      batch: 'e-1',
      rows: [{ order_id: 'o-9' }],
      meta: { event_source: 'shop', event_type: 'OrderPlaced', event_time: '2026-01-01T00:00:00Z' },
    });
    // EventBridge may send to the first queue (the L2 adds the queue policy, scoped to the rule).
    orders.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: first }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
            Principal: { Service: 'events.amazonaws.com' },
            Condition: { ArnEquals: { 'aws:SourceArn': Match.anyValue() } },
          }),
        ]),
      },
    });
  });

  it('draws a dashboard per flow: rows in/out/rejected/dropped, Lambda errors and duration, DLQ depth and queue age per step', () => {
    orders.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    orders.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'kisflow-orders' });
    const dashboard = Object.values(orders.findResources('AWS::CloudWatch::Dashboard'))[0];
    const body = parseRenderedJson(dashboard?.Properties.DashboardBody) as {
      widgets: { properties: { title?: string; metrics?: unknown[][] } }[];
    };
    const graphs = body.widgets.filter((w) => w.properties.metrics);
    const titled = (title: string) => {
      const widget = graphs.find((w) => w.properties.title === title);
      if (!widget)
        throw new Error(`no widget "${title}"; have ${graphs.map((w) => w.properties.title).join(' | ')}`);
      return JSON.stringify(widget.properties.metrics);
    };
    for (const [step, fid] of ['verify', 'save', 'calc', 'publish'].entries()) {
      const rows = titled(`s${step} ${fid}: rows`);
      for (const metric of ['rows_in', 'rows_out', 'rows_rejected', 'rows_dropped']) {
        expect(rows).toContain(
          JSON.stringify([
            'ShopMetrics',
            metric,
            'flow',
            'orders',
            'service',
            'kisflow',
            'step',
            `${step}.${fid}`,
          ]).slice(1, -1),
        );
      }
      const lambda = titled(`s${step} ${fid}: Lambda`);
      expect(lambda).toContain('"AWS/Lambda","Errors"');
      expect(lambda).toContain('"AWS/Lambda","Duration"');
      const queues = titled(`s${step} ${fid}: queues`);
      expect(queues).toContain('"AWS/SQS","ApproximateNumberOfMessagesVisible"');
      expect(queues).toContain('"AWS/SQS","ApproximateAgeOfOldestMessage"');
    }
  });

  it('alarms on any dead letter in each DLQ and on each step error rate', () => {
    // 4 step DLQs, the output DLQ and the ingress DLQ; 4 error-rate alarms; 5 queue-age alarms.
    orders.resourceCountIs('AWS::CloudWatch::Alarm', 15);
    for (let step = 0; step < 4; step++) {
      orders.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `kisflow-orders--${ORDER_KEYS[step]}-dead-letters`,
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Namespace: 'AWS/SQS',
        Dimensions: [
          {
            Name: 'QueueName',
            Value: {
              'Fn::GetAtt': [
                queueId(orders, names.stepDeadLetterQueue('orders', ORDER_KEYS[step] as string)),
                'QueueName',
              ],
            },
          },
        ],
        Statistic: 'Maximum',
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
      });
      orders.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `kisflow-orders--${ORDER_KEYS[step]}-error-rate`,
        Threshold: 5,
        ComparisonOperator: 'GreaterThanThreshold',
        Metrics: Match.arrayWith([
          Match.objectLike({ Expression: 'IF(invocations > 0, 100 * errors / invocations, 0)' }),
          Match.objectLike({
            Id: 'errors',
            MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'Errors' }) }),
          }),
          Match.objectLike({
            Id: 'invocations',
            MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: 'Invocations' }) }),
          }),
        ]),
      });
    }
    orders.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'kisflow-orders-ingress-dead-letters',
    });
    orders.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'kisflow-orders-output-dead-letters',
    });
  });
});
