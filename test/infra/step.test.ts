import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Runtime, RuntimeFamily } from 'aws-cdk-lib/aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app.ts';
import { STEP_RUNTIME } from '../../infra/bundling.ts';
import { TABLE_DATA_ACTIONS } from '../../infra/step.ts';
import { resourceNames } from '../../kisflow/config/names.ts';
import { type StepWiring, WIRING_ENV } from '../../kisflow/wire/step-wiring.ts';
import { flowStackOf, parseRenderedJson, REPO_ROOT, shopProject, testApp } from './projects.ts';

const names = resourceNames();

type Resource = { Properties: Record<string, unknown> };

/** Resources of one type in a template, keyed by logical id. */
function resources(t: Template, type: string): Record<string, Resource> {
  return t.findResources(type) as Record<string, Resource>;
}

function logicalIdOf(t: Template, type: string, props: Record<string, unknown>): string {
  const found = Object.keys(t.findResources(type, { Properties: props }));
  if (found.length !== 1)
    throw new Error(`expected one ${type} with ${JSON.stringify(props)}, found ${found.length}`);
  return found[0] as string;
}

/** The function of a step (found by its description, `KisFlow step <n> ...`). */
function functionOf(t: Template, step: number): Resource {
  const fn = Object.values(resources(t, 'AWS::Lambda::Function')).find((f) =>
    String(f.Properties.Description).startsWith(`KisFlow step ${step} `),
  );
  if (!fn) throw new Error(`no function for step ${step}`);
  return fn;
}

type Statement = { Action: string | string[]; Resource: unknown };

/** The statements of the policy attached to a step's role. */
function policyOfStep(t: Template, step: number): Statement[] {
  const role = (functionOf(t, step).Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  const policy = Object.values(resources(t, 'AWS::IAM::Policy')).find(
    (p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: role }]),
  );
  if (!policy) throw new Error(`no policy for the role of step ${step}`);
  return (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
}

describe('KisFlowStep: one Lambda, queue, DLQ and event source per step', () => {
  let orders: Template;
  let stack: Stack;
  beforeAll(() => {
    const { flows } = buildApp({ project: shopProject(), app: testApp(), bundling: false });
    stack = flowStackOf(flows, 'orders');
    orders = Template.fromStack(stack);
  });

  it('creates a function, an input queue, a DLQ and an event source mapping per step', () => {
    orders.resourceCountIs('AWS::Lambda::Function', 4);
    orders.resourceCountIs('AWS::Lambda::EventSourceMapping', 4);
    for (let step = 0; step < 4; step++) {
      orders.hasResourceProperties('AWS::SQS::Queue', { QueueName: names.stepQueue('orders', step) });
      orders.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: names.stepDeadLetterQueue('orders', step),
      });
    }
  });

  it('runs on arm64 with the newest Node.js runtime aws-cdk-lib knows (cdk-nag L1)', () => {
    const newest = Runtime.ALL.filter(
      (r) => r.family === RuntimeFamily.NODEJS && /^nodejs\d+\.x$/.test(r.name),
    )
      .map((r) => r.name)
      .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }))
      .pop();
    expect(STEP_RUNTIME.name).toBe(newest);
    expect(Number(/nodejs(\d+)/.exec(STEP_RUNTIME.name)?.[1])).toBeGreaterThanOrEqual(22);
    for (const fn of Object.values(resources(orders, 'AWS::Lambda::Function'))) {
      expect(fn.Properties.Runtime).toBe(STEP_RUNTIME.name);
      expect(fn.Properties.Architectures).toEqual(['arm64']);
      expect(fn.Properties.MemorySize).toBe(512);
      expect(fn.Properties.Timeout).toBe(60);
    }
  });

  it('maps the flow tuning onto every event source mapping, with partial batch failures', () => {
    const mappings = Object.values(resources(orders, 'AWS::Lambda::EventSourceMapping'));
    expect(mappings).toHaveLength(4);
    for (const m of mappings) {
      expect(m.Properties).toMatchObject({
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BatchSize: 50,
        MaximumBatchingWindowInSeconds: 2,
        ScalingConfig: { MaximumConcurrency: 5 },
      });
    }
    const s2Queue = logicalIdOf(orders, 'AWS::SQS::Queue', { QueueName: names.stepQueue('orders', 2) });
    orders.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [s2Queue, 'Arn'] },
    });
  });

  it('sizes each input queue: redrive after retry_times + 1 receives, visibility 6 x timeout + window, SSE, TLS only', () => {
    // save has retry_times 2; the others 0.
    const expected = [1, 3, 1, 1];
    expected.forEach((maxReceiveCount, step) => {
      const dlq = logicalIdOf(orders, 'AWS::SQS::Queue', {
        QueueName: names.stepDeadLetterQueue('orders', step),
      });
      orders.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: names.stepQueue('orders', step),
        RedrivePolicy: { maxReceiveCount, deadLetterTargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] } },
        VisibilityTimeout: 6 * 60 + 2,
        MaximumMessageSize: 524_288,
        SqsManagedSseEnabled: true,
      });
      orders.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: names.stepDeadLetterQueue('orders', step),
        MessageRetentionPeriod: 14 * 24 * 3600,
        SqsManagedSseEnabled: true,
      });
    });
    const queues = Object.keys(resources(orders, 'AWS::SQS::Queue'));
    const policies = Object.values(resources(orders, 'AWS::SQS::QueuePolicy'));
    for (const queue of queues) {
      const tlsOnly = policies.some(
        (p) =>
          JSON.stringify(p.Properties.Queues).includes(`"${queue}"`) &&
          JSON.stringify(p.Properties.PolicyDocument).includes('"aws:SecureTransport":"false"'),
      );
      expect(tlsOnly, `${queue} refuses requests without TLS`).toBe(true);
    }
  });

  it('wires each step through KISFLOW_WIRING: next queue (and jump targets), own DLQ, tables, limits, namespace', () => {
    const wiringOf = (step: number): StepWiring => {
      const env = (functionOf(orders, step).Properties.Environment as { Variables: Record<string, unknown> })
        .Variables;
      expect(env).toMatchObject({
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_METRICS_NAMESPACE: 'ShopMetrics',
        POWERTOOLS_SERVICE_NAME: 'kisflow',
      });
      return parseRenderedJson(env[WIRING_ENV]) as StepWiring;
    };
    const queueRef = (name: string) => ({ Ref: logicalIdOf(orders, 'AWS::SQS::Queue', { QueueName: name }) });
    const s0 = wiringOf(0);
    expect(s0.inputQueue).toEqual(queueRef(names.stepQueue('orders', 0)));
    expect(s0.stepQueues).toEqual({ '1': queueRef(names.stepQueue('orders', 1)) });
    expect(s0.deadLetterQueue).toEqual(queueRef(names.stepDeadLetterQueue('orders', 0)));
    expect(s0.outputQueue).toBeUndefined();
    expect(s0.connectorTables).toEqual({});
    expect(s0.maxReceiveCount).toBe(1);
    expect(s0.maxMessageBytes).toBe(524_288);
    expect(s0.metricsNamespace).toBe('ShopMetrics');
    // save: its connector's table, by name.
    expect(wiringOf(1).connectorTables).toEqual({ orders: names.connectorTable('orders') });
    expect(wiringOf(1).stateTable).toBe(names.stateTable());
    expect(wiringOf(1).maxReceiveCount).toBe(3);
    // calc lists jump_targets: [verify] in its default params.
    expect(wiringOf(2).stepQueues).toEqual({
      '0': queueRef(names.stepQueue('orders', 0)),
      '3': queueRef(names.stepQueue('orders', 3)),
    });
    // publish is last: the output queue, no step queue.
    expect(wiringOf(3).stepQueues).toEqual({});
    expect(wiringOf(3).outputQueue).toEqual(queueRef(names.outputQueue('orders')));
  });

  it('grants exactly the DynamoDB calls the stores make', () => {
    const calls = ['dynamodb-connector-store.ts', 'dynamodb-state-store.ts'].flatMap((file) => [
      ...readFileSync(join(REPO_ROOT, 'kisflow', 'aws', file), 'utf8').matchAll(/new (\w+)Command\(/g),
    ]);
    const actions = [...new Set(calls.map((m) => `dynamodb:${m[1]}`))].sort();
    expect(actions).toEqual([...TABLE_DATA_ACTIONS].sort());
  });

  it('logs to its own log group with a retention, through a role without managed policies', () => {
    orders.resourceCountIs('AWS::Logs::LogGroup', 4);
    orders.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    for (const role of Object.values(resources(orders, 'AWS::IAM::Role'))) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
    expect(functionOf(orders, 0).Properties.LoggingConfig).toEqual({
      LogGroup: { Ref: expect.stringMatching(/Logs/) },
    });
  });

  it('grants IAM scoped to the step: its queue, the queues it feeds, its DLQ, its tables; no wildcard resources', () => {
    const policies = Object.values(resources(orders, 'AWS::IAM::Policy'));
    const statements = policies.flatMap(
      (p) =>
        (p.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] })
          .Statement,
    );
    for (const s of statements) {
      const actions = ([] as string[]).concat(s.Action);
      if (actions.some((a) => a.startsWith('sqs:') || a.startsWith('dynamodb:'))) {
        expect(
          JSON.stringify(s.Resource),
          `${actions.join(',')} on ${JSON.stringify(s.Resource)}`,
        ).not.toMatch(/"\*"|:\*"|\/\*"/);
      }
    }
    const policyOf = (step: number) => policyOfStep(orders, step);
    const arnOf = (name: string) => ({
      'Fn::GetAtt': [logicalIdOf(orders, 'AWS::SQS::Queue', { QueueName: name }), 'Arn'],
    });
    const sendTargets = (step: number) =>
      policyOf(step)
        .filter((s) => ([] as string[]).concat(s.Action).includes('sqs:SendMessage'))
        .map((s) => s.Resource);
    expect(sendTargets(0)).toEqual([
      arnOf(names.stepQueue('orders', 1)),
      arnOf(names.stepDeadLetterQueue('orders', 0)),
    ]);
    expect(sendTargets(3)).toEqual([
      arnOf(names.outputQueue('orders')),
      arnOf(names.stepDeadLetterQueue('orders', 3)),
    ]);
    const consume = policyOf(1).find((s) => ([] as string[]).concat(s.Action).includes('sqs:ReceiveMessage'));
    expect(consume?.Resource).toEqual(arnOf(names.stepQueue('orders', 1)));

    const tableArn = (name: string) => ({
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':dynamodb:',
          { Ref: 'AWS::Region' },
          ':',
          { Ref: 'AWS::AccountId' },
          `:table/${name}`,
        ],
      ],
    });
    const tables = (step: number) =>
      policyOf(step).find((s) => ([] as string[]).concat(s.Action).includes('dynamodb:UpdateItem'))?.Resource;
    expect(tables(1)).toEqual([tableArn(names.connectorTable('orders')), tableArn(names.stateTable())]);
    expect(tables(0)).toEqual(tableArn(names.stateTable()));
    const logs = policyOf(0).find((s) => ([] as string[]).concat(s.Action).includes('logs:PutLogEvents'));
    expect(logs?.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/Logs/), 'Arn'] });
    expect(JSON.stringify(policyOf(0))).not.toContain('dynamodb:Scan');
  });
});
