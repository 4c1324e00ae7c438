import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app.ts';
import { flowMetricLabel, resourceNames, stepMetricLabel } from '../../kisflow/config/names.ts';
import { conn, flow, flowStackOf, func, job, project, shopProject, testApp } from './projects.ts';

const names = resourceNames();

type Resource = { Properties: Record<string, unknown> };

function resources(t: Template, type: string): Resource[] {
  return Object.values(t.findResources(type)) as Resource[];
}

function build(p: ReturnType<typeof project>, context: Record<string, unknown> = {}) {
  return buildApp({ project: p, app: testApp(context), bundling: false, securityChecks: false });
}

describe('a flow with status: 0 keeps its stack and stops consuming and firing', () => {
  const off = project({
    funcs: [func('a'), func('b')],
    flows: [
      flow('paused', ['a', 'b'], {
        enabled: false,
        source: { eventPattern: { source: ['shop'] } },
      }),
      flow('running', ['a']),
    ],
    jobs: [
      job('tick', 'paused', { enabled: false }),
      job('tock', 'running'),
      job('later', 'running', { enabled: false }),
    ],
  });

  it('disables the event source mappings, the schedules and the event rule of the flow', () => {
    const { flows } = build(off);
    const paused = Template.fromStack(flowStackOf(flows, 'paused'));
    const mappings = resources(paused, 'AWS::Lambda::EventSourceMapping');
    expect(mappings).toHaveLength(2);
    for (const m of mappings) expect(m.Properties.Enabled).toBe(false);
    paused.hasResourceProperties('AWS::Scheduler::Schedule', { State: 'DISABLED' });
    paused.hasResourceProperties('AWS::Events::Rule', { State: 'DISABLED' });
    // Its queues stay, with what waits in them.
    paused.hasResourceProperties('AWS::SQS::Queue', { QueueName: names.stepQueue('paused', 'a') });

    const running = Template.fromStack(flowStackOf(flows, 'running'));
    for (const m of resources(running, 'AWS::Lambda::EventSourceMapping'))
      expect(m.Properties.Enabled).toBe(true);
    // A status: 0 job deploys as a DISABLED schedule (as the reference says), a status: 1 job ENABLED.
    expect(
      resources(running, 'AWS::Scheduler::Schedule')
        .map((r) => r.Properties.State)
        .sort(),
    ).toEqual(['DISABLED', 'ENABLED']);
  });

  it('refuses an enabled job of a disabled flow, which could never run', () => {
    const bad = { ...off, jobs: new Map([['tick', job('tick', 'paused')]]) };
    expect(() => build(bad)).toThrow(/job "tick" is on \(status 1\) but starts flow "paused", which is off/);
  });
});

describe('names that CloudFormation mangles, and stack names across prefixes', () => {
  it('deploys connectors orders-eu and orders_eu as two tables with distinct outputs', () => {
    const p = project({
      funcs: [func('s', { fmode: 'Save', cid: 'orders-eu' }), func('t', { fmode: 'Save', cid: 'orders_eu' })],
      conns: [conn('orders-eu'), conn('orders_eu')],
      flows: [flow('f', ['s', 't'])],
    });
    const { app, shared } = build(p);
    app.synth();
    const template = Template.fromStack(shared);
    for (const cid of ['orders-eu', 'orders_eu']) {
      template.hasResourceProperties('AWS::DynamoDB::Table', { TableName: names.connectorTable(cid) });
    }
    const outputs = Object.keys(template.toJSON().Outputs).filter((id) => id.startsWith('ConnectorTable'));
    expect(outputs).toHaveLength(2);
  });

  it('keeps flow dev-orders (default prefix) and flow orders (prefix dev) apart, and dev-Shared from the dev shared stack', () => {
    const p = project({
      funcs: [func('a')],
      flows: [flow('dev-orders', ['a']), flow('orders', ['a']), flow('dev-Shared', ['a'])],
    });
    const plain = build(p);
    const dev = build(p, { 'kisflow:prefix': 'dev' });
    const deployed = [
      ...[...plain.flows.values()].map((s) => s.stackName),
      plain.shared.stackName,
      ...[...dev.flows.values()].map((s) => s.stackName),
      dev.shared.stackName,
    ];
    expect(new Set(deployed).size).toBe(deployed.length);
    expect(flowStackOf(plain.flows, 'dev-orders').stackName).toBe('KisFlow-dev-orders');
    expect(flowStackOf(dev.flows, 'orders').stackName).toBe('KisFlow-dev--orders');
  });

  it('reports two flows that would deploy as one stack, at the second flow', () => {
    const p = project({
      funcs: [func('a')],
      flows: [
        flow('order_intake', ['a'], { at: { file: 'flows/a.yml', line: 1, col: 1 } }),
        flow('order-intake', ['a'], { at: { file: 'flows/b.yml', line: 3, col: 1 } }),
      ],
    });
    expect(() => build(p)).toThrow(
      /flows\/b\.yml:3:1: flow "order-intake" and flow "order_intake" \(flows\/a\.yml:1\) would both deploy as stack KisFlow-order-intake/,
    );
  });
});

describe('step identity: queues and construct ids follow the step key', () => {
  const logicalIdOfQueue = (t: Template, name: string) =>
    Object.entries(t.findResources('AWS::SQS::Queue')).find(([, r]) => r.Properties.QueueName === name)?.[0];

  it('inserting a step renames no other step queue, DLQ or its logical id', () => {
    const funcs = [func('a'), func('b'), func('x')];
    const before = Template.fromStack(
      flowStackOf(build(project({ funcs, flows: [flow('f', ['a', 'b', 'a'])] })).flows, 'f'),
    );
    const after = Template.fromStack(
      flowStackOf(build(project({ funcs, flows: [flow('f', ['x', 'a', 'b', 'a'])] })).flows, 'f'),
    );
    for (const key of ['a', 'b', 'a~2']) {
      for (const name of [names.stepQueue('f', key), names.stepDeadLetterQueue('f', key)]) {
        const id = logicalIdOfQueue(before, name);
        expect(id, name).toBeDefined();
        expect(logicalIdOfQueue(after, name)).toBe(id);
      }
    }
  });

  it('keeps construct ids apart for keys that read like each other (a step named aQueues)', () => {
    const p = project({ funcs: [func('a'), func('aQueues')], flows: [flow('f', ['a', 'aQueues'])] });
    const t = Template.fromStack(flowStackOf(build(p).flows, 'f'));
    expect(resources(t, 'AWS::Lambda::Function')).toHaveLength(2);
  });

  it('keeps every queue name within SQS limits and distinct, however long the ids', () => {
    const long = 'x'.repeat(120);
    const p = project({
      funcs: [func(long), func(`${long}-dlq`)],
      flows: [flow(`${long}y`, [long, `${long}-dlq`, long])],
    });
    const t = Template.fromStack(
      flowStackOf(build(p, { 'kisflow:prefix': 'a-very-long-prefix-x' }).flows, `${long}y`),
    );
    const queueNames = resources(t, 'AWS::SQS::Queue').map((q) => String(q.Properties.QueueName));
    for (const name of queueNames) expect(name.length, name).toBeLessThanOrEqual(80);
    expect(new Set(queueNames).size).toBe(queueNames.length);
  });
});

describe('metrics and alarms', () => {
  it('uses ASCII dimension values for the Chinese flow ids and fids of the seed, as the engine emits them', () => {
    const p = project({ funcs: [func('测试PrintInput')], flows: [flow('订单流', ['测试PrintInput'])] });
    const t = Template.fromStack(flowStackOf(build(p).flows, '订单流'));
    const body = JSON.stringify(resources(t, 'AWS::CloudWatch::Dashboard')[0]?.Properties.DashboardBody);
    expect(body).toContain(`\\"flow\\",\\"${flowMetricLabel('订单流')}\\"`);
    expect(body).toContain(`\\"step\\",\\"${stepMetricLabel(0, '测试PrintInput')}\\"`);
    // The readable ids stay in the titles.
    expect(body).toContain('订单流');
    for (const value of [flowMetricLabel('订单流'), stepMetricLabel(0, '测试PrintInput')]) {
      expect(value).toMatch(/^[\x20-\x7e]+$/);
    }
  });

  it('creates an alarm topic in the shared stack, emails it from context and global, and notifies it from every alarm', () => {
    const { shared, flows } = build(shopProject(), { 'kisflow:alarmEmail': 'ops@example.com' });
    const sharedT = Template.fromStack(shared);
    sharedT.hasResourceProperties('AWS::SNS::Topic', { TopicName: names.alarmTopic() });
    sharedT.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    });
    const withGlobal = build({
      ...shopProject(),
      global: { ...shopProject().global, alarmEmails: ['team@example.com'] },
    });
    Template.fromStack(withGlobal.shared).hasResourceProperties('AWS::SNS::Subscription', {
      Endpoint: 'team@example.com',
    });

    const alarms = resources(Template.fromStack(flowStackOf(flows, 'orders')), 'AWS::CloudWatch::Alarm');
    const topicArn = JSON.stringify(alarms[0]?.Properties.AlarmActions);
    expect(topicArn).toContain(`:${names.alarmTopic()}`);
    for (const alarm of alarms) {
      expect(JSON.stringify(alarm.Properties.AlarmActions)).toBe(topicArn);
      expect(JSON.stringify(alarm.Properties.OKActions)).toBe(topicArn);
    }
  });

  it('alarms on the age of the oldest message of every step queue and of the output queue', () => {
    const t = Template.fromStack(flowStackOf(build(shopProject()).flows, 'orders'));
    const age = resources(t, 'AWS::CloudWatch::Alarm').filter(
      (a) => a.Properties.MetricName === 'ApproximateAgeOfOldestMessage',
    );
    expect(age.map((a) => a.Properties.AlarmName).sort()).toEqual(
      [
        ...['verify', 'save', 'calc', 'publish'].map((key) => `kisflow-orders--${key}-queue-age`),
        'kisflow-orders-output-queue-age',
      ].sort(),
    );
    const limits = new Set(age.map((a) => a.Properties.Threshold));
    expect(limits).toEqual(new Set([3600, 86_400]));
    // Well before the queues drop anything: they retain messages 14 days.
    for (const q of resources(t, 'AWS::SQS::Queue'))
      expect(q.Properties.MessageRetentionPeriod).toBe(14 * 24 * 3600);
  });
});

describe('table grants by mode and use', () => {
  it('lets a Load step only read its connector table, and no step without option.state touch the state table', () => {
    const t = Template.fromStack(flowStackOf(build(shopProject()).flows, '订单流'));
    // Every step records its batches in the runs table (test/infra/step.test.ts): not a data table.
    const statements = resources(t, 'AWS::IAM::Policy')
      .flatMap(
        (p) =>
          (p.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource?: unknown }[] })
            .Statement,
      )
      .filter((s) => !JSON.stringify(s.Resource ?? '').includes(names.runsTable()));
    const dynamodb = statements
      .flatMap((s) => ([] as string[]).concat(s.Action))
      .filter((a) => a.startsWith('dynamodb:'));
    // load (Load on orders) queries; cache is a redis connector; publish has none; nobody keeps state.
    expect(dynamodb).toEqual(['dynamodb:Query']);
    expect(JSON.stringify(statements)).not.toContain(names.stateTable());
  });
});

describe('logical ids of retained and scheduled resources stay as deployed by earlier versions', () => {
  it('keeps the connector table and the schedule ids (a new id would replace a retained table)', () => {
    const { shared, flows } = build(shopProject());
    expect(Object.keys(Template.fromStack(shared).findResources('AWS::DynamoDB::Table')).sort()).toEqual([
      'ConnectorordersTableA28C2239',
      expect.stringMatching(/^RunsTable/),
      'StateTable962DE04C',
    ]);
    expect(
      Object.keys(Template.fromStack(flowStackOf(flows, '订单流')).findResources('AWS::Scheduler::Schedule')),
    ).toEqual(['JobnightlyScheduleD8A311EB']);
  });
});
