import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type KisFlowApp } from '../../infra/app.ts';
import { resourceNames } from '../../kisflow/config/names.ts';
import { flow, flowStackOf, func, project, shopProject, testApp } from './projects.ts';

const names = resourceNames();
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]*$/;

describe('the app: a shared stack and one stack per flow', () => {
  let built: KisFlowApp;
  let shared: Template;
  beforeAll(() => {
    built = buildApp({ project: shopProject(), app: testApp(), bundling: false });
    shared = Template.fromStack(built.shared);
  });

  it('names stacks KisFlow-Shared and KisFlow-<safe flow id>, disabled flows included', () => {
    expect(built.shared.stackName).toBe('KisFlow-Shared');
    expect([...built.flows.keys()]).toEqual(['orders', '订单流', 'off']);
    expect(built.flows.get('orders')?.stackName).toBe('KisFlow-orders');
    expect(built.flows.get('orders')?.node.id).toBe('KisFlow-orders');
  });

  it('gives a non-ASCII flow id a valid stack name that stays the same across builds', () => {
    const id = built.flows.get('订单流')?.stackName ?? '';
    expect(id).toMatch(STACK_NAME);
    expect(id).toBe(names.flowStack('订单流'));
    const again = buildApp({
      project: shopProject(),
      app: testApp(),
      bundling: false,
      securityChecks: false,
    });
    expect(again.flows.get('订单流')?.stackName).toBe(id);
    expect(names.flowStack('订单流')).not.toBe(names.flowStack('订单'));
  });

  it('makes each flow depend on the shared stack, so `cdk deploy KisFlow-<flow>` deploys both', () => {
    for (const stack of built.flows.values()) expect(stack.dependencies).toContain(built.shared);
  });

  it('creates one table per dynamodb connector plus the state and runs tables, none for other types', () => {
    shared.resourceCountIs('AWS::DynamoDB::Table', 3);
    for (const tableName of [names.connectorTable('orders'), names.stateTable(), names.runsTable()]) {
      shared.hasResource('AWS::DynamoDB::Table', {
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
        Properties: {
          TableName: tableName,
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ],
          AttributeDefinitions: [
            { AttributeName: 'pk', AttributeType: 'S' },
            { AttributeName: 'sk', AttributeType: 'S' },
          ],
          BillingMode: 'PAY_PER_REQUEST',
          SSESpecification: { SSEEnabled: true },
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
        },
      });
    }
    expect(JSON.stringify(shared.toJSON())).not.toContain('redis');
  });

  it('destroys tables and logs with their stacks when kisflow:destroy is set (dev)', () => {
    const dev = buildApp({
      project: shopProject(),
      app: testApp({ 'kisflow:destroy': 'true', 'kisflow:prefix': 'dev' }),
      bundling: false,
      securityChecks: false,
    });
    const tables = Template.fromStack(dev.shared).findResources('AWS::DynamoDB::Table');
    expect(Object.values(tables).map((t) => t.DeletionPolicy)).toEqual(['Delete', 'Delete', 'Delete']);
    Template.fromStack(flowStackOf(dev.flows, 'orders')).allResources('AWS::Logs::LogGroup', {
      DeletionPolicy: 'Delete',
    });
  });

  it('puts kisflow:prefix into physical names and deployed stack names, not into the CLI ids', () => {
    const dev = buildApp({
      project: shopProject(),
      app: testApp({ 'kisflow:prefix': 'dev' }),
      bundling: false,
      securityChecks: false,
    });
    const orders = flowStackOf(dev.flows, 'orders');
    expect(orders.node.id).toBe('KisFlow-orders');
    expect(orders.stackName).toBe('KisFlow-dev--orders');
    expect(dev.shared.stackName).toBe('KisFlow-dev--Shared');
    Template.fromStack(orders).hasResourceProperties('AWS::SQS::Queue', { QueueName: 'dev-orders--verify' });
    Template.fromStack(dev.shared).hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: 'dev-conn-orders',
    });
  });

  it('rejects a prefix that some resource name could not hold', () => {
    expect(() =>
      buildApp({
        project: shopProject(),
        app: testApp({ 'kisflow:prefix': 'my_env!' }),
        bundling: false,
      }),
    ).toThrow(/kisflow:prefix is "my_env!"; use 1-20 ASCII letters/);
    expect(() =>
      buildApp({ project: shopProject(), app: testApp({ 'kisflow:prefix': 'dev--x' }), bundling: false }),
    ).toThrow(/kisflow:prefix is "dev--x"/);
  });

  it('notifies the SNS topic in kisflow:alarmTopicArn from every alarm, and rejects what is not a topic ARN', () => {
    const topic = 'arn:aws:sns:eu-west-1:123456789012:ops-alerts';
    const built = buildApp({
      project: shopProject(),
      app: testApp({ 'kisflow:alarmTopicArn': topic }),
      bundling: false,
      securityChecks: false,
    });
    const alarms = Object.values(
      Template.fromStack(flowStackOf(built.flows, 'orders')).findResources('AWS::CloudWatch::Alarm'),
    );
    expect(alarms.length).toBeGreaterThan(0);
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([topic]);
      expect(alarm.Properties.OKActions).toEqual([topic]);
    }
    // An existing topic: the shared stack creates none.
    expect(Template.fromStack(built.shared).findResources('AWS::SNS::Topic')).toEqual({});
    expect(() =>
      buildApp({
        project: shopProject(),
        app: testApp({ 'kisflow:alarmTopicArn': 'ops-alerts' }),
        bundling: false,
      }),
    ).toThrow(/kisflow:alarmTopicArn is "ops-alerts"; use an SNS topic ARN/);
  });

  it('exports the first queue and the output queue of each flow', () => {
    const t = Template.fromStack(flowStackOf(built.flows, 'orders'));
    const outputs = t.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.FirstQueueUrl?.Value).toEqual({ Ref: expect.stringMatching(/^StepQueuesverifyQueue/) });
    expect(outputs.FirstQueueArn?.Value).toEqual({
      'Fn::GetAtt': [expect.stringMatching(/^StepQueuesverifyQueue/), 'Arn'],
    });
    expect(outputs.OutputQueueUrl?.Value).toEqual({ Ref: expect.stringMatching(/^OutputQueue/) });
    expect(outputs.OutputQueueArn?.Value).toEqual({
      'Fn::GetAtt': [expect.stringMatching(/^OutputQueue/), 'Arn'],
    });
    t.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: names.outputQueue('orders'),
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
      RedrivePolicy: { maxReceiveCount: 5, deadLetterTargetArn: Match.anyValue() },
    });
  });

  it('stops with a located message when a jump target names no step of the flow', () => {
    const bad = project({
      funcs: [func('a', { defaultParams: { jump_targets: 'b' } }), func('b')],
      flows: [flow('f', ['a'], { at: { file: 'flows/f.yml', line: 1, col: 1 } })],
    });
    const f = flowStackOf(bad.flows, 'f');
    const withPosition = {
      ...bad,
      flows: new Map([
        ['f', { ...f, steps: [{ fid: 'a', params: {}, at: { file: 'flows/f.yml', line: 4, col: 5 } }] }],
      ]),
    };
    expect(() => buildApp({ project: withPosition, app: testApp(), bundling: false })).toThrow(
      /flows\/f\.yml:4:5: step 0 \(a\) of flow 'f': jump_targets names 'b', which no step of the flow runs\. 'b' is a function, but no step of this flow runs it\./,
    );
  });
});
