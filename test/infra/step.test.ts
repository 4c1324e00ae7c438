import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Runtime, RuntimeFamily } from 'aws-cdk-lib/aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app.ts';
import { STEP_RUNTIME } from '../../infra/bundling.ts';
import {
  CONNECTOR_READ_ACTIONS,
  CONNECTOR_WRITE_ACTIONS,
  RUN_ACTIONS,
  RUN_FINISH_ACTIONS,
  STATE_ACTIONS,
} from '../../infra/step.ts';
import { resourceNames } from '../../kisflow/config/names.ts';
import { type StepWiring, WIRING_ENV } from '../../kisflow/wire/step-wiring.ts';
import { flowStackOf, parseRenderedJson, REPO_ROOT, shopProject, testApp } from './projects.ts';

const names = resourceNames();
/** Step keys of the shop's `orders` flow (its fids are distinct). */
const ORDER_KEYS = ['verify', 'save', 'calc', 'publish'];

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
      orders.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: names.stepQueue('orders', ORDER_KEYS[step] as string),
      });
      orders.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: names.stepDeadLetterQueue('orders', ORDER_KEYS[step] as string),
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
    const s2Queue = logicalIdOf(orders, 'AWS::SQS::Queue', { QueueName: names.stepQueue('orders', 'calc') });
    orders.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [s2Queue, 'Arn'] },
    });
  });

  it('sizes each input queue: redrive after max_receives (not retry_times), 14 days, visibility 6 x timeout + window, SSE, TLS only', () => {
    // save has retry_times 2 and load retry_times 4: row retries, which do not change redelivery;
    // calc sets option.max_receives 8, the flow tuning.max_receives 7.
    const expected = [7, 7, 8, 7];
    expected.forEach((maxReceiveCount, step) => {
      const dlq = logicalIdOf(orders, 'AWS::SQS::Queue', {
        QueueName: names.stepDeadLetterQueue('orders', ORDER_KEYS[step] as string),
      });
      orders.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: names.stepQueue('orders', ORDER_KEYS[step] as string),
        RedrivePolicy: { maxReceiveCount, deadLetterTargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] } },
        VisibilityTimeout: 6 * 60 + 2,
        MessageRetentionPeriod: 14 * 24 * 3600,
        MaximumMessageSize: 524_288,
        SqsManagedSseEnabled: true,
      });
      orders.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: names.stepDeadLetterQueue('orders', ORDER_KEYS[step] as string),
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

  it('wires each step through KISFLOW_WIRING: every step queue of its flow (jumpTo), own DLQ, tables, limits, namespace', () => {
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
    const everyStep = Object.fromEntries(
      ORDER_KEYS.map((key, step) => [String(step), queueRef(names.stepQueue('orders', key))]),
    );
    expect(s0.inputQueue).toEqual(queueRef(names.stepQueue('orders', 'verify')));
    expect(s0.stepQueues).toEqual(everyStep);
    expect(s0.deadLetterQueue).toEqual(queueRef(names.stepDeadLetterQueue('orders', 'verify')));
    expect(s0.outputQueue).toBeUndefined();
    expect(s0.connectorTables).toEqual({});
    expect(s0.maxReceiveCount).toBe(7);
    expect(s0.maxMessageBytes).toBe(524_288);
    expect(s0.metricsNamespace).toBe('ShopMetrics');
    // save: its connector's table, by name.
    expect(wiringOf(1).connectorTables).toEqual({ orders: names.connectorTable('orders') });
    // Only calc declares keyed state (option.state).
    expect(wiringOf(1).stateTable).toBeUndefined();
    expect(wiringOf(1).runsTable).toBe(names.runsTable());
    expect(wiringOf(2).stateTable).toBe(names.stateTable());
    expect(wiringOf(2).maxReceiveCount).toBe(8);
    // A step may jump back (calc to verify) or to itself, jump_targets or not.
    expect(wiringOf(2).stepQueues).toEqual(everyStep);
    // publish is last: the output queue too.
    expect(wiringOf(3).stepQueues).toEqual(everyStep);
    expect(wiringOf(3).outputQueue).toEqual(queueRef(names.outputQueue('orders')));
  });

  it('grants exactly the DynamoDB calls the stores make', () => {
    const callsOf = (file: string) =>
      [...readFileSync(join(REPO_ROOT, 'kisflow', 'aws', file), 'utf8').matchAll(/new (\w+)Command\(/g)]
        .map((m) => `dynamodb:${m[1]}`)
        .filter((action, i, all) => all.indexOf(action) === i)
        .sort();
    expect(callsOf('dynamodb-connector-store.ts')).toEqual(
      [...CONNECTOR_READ_ACTIONS, ...CONNECTOR_WRITE_ACTIONS].sort(),
    );
    expect(callsOf('dynamodb-state-store.ts')).toEqual([...STATE_ACTIONS].sort());
    // A step records batches; starting runs (PutItem) and the rest belong to the CLI and jobs.
    expect(callsOf('dynamodb-run-ledger.ts')).toEqual(
      expect.arrayContaining([...RUN_ACTIONS, ...RUN_FINISH_ACTIONS]),
    );
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
    // Every step queue of its own flow, by exact ARN (jumpTo may name any fid), its own DLQ, and
    // job control's queue (a batch that ends its run says so), by name: the shared stack owns it.
    const everyStep = ORDER_KEYS.map((key) => arnOf(names.stepQueue('orders', key)));
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
    expect(sendTargets(0)).toEqual([
      ...everyStep,
      arnOf(names.stepDeadLetterQueue('orders', 'verify')),
      control,
    ]);
    expect(sendTargets(3)).toEqual([
      ...everyStep,
      arnOf(names.outputQueue('orders')),
      arnOf(names.stepDeadLetterQueue('orders', 'publish')),
      control,
    ]);
    const consume = policyOf(1).find((s) => ([] as string[]).concat(s.Action).includes('sqs:ReceiveMessage'));
    expect(consume?.Resource).toEqual(arnOf(names.stepQueue('orders', 'save')));

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
    const onRuns = (s: { Resource?: unknown }) =>
      JSON.stringify(s.Resource) === JSON.stringify(tableArn(names.runsTable()));
    const dynamodb = (step: number) =>
      policyOf(step).filter(
        (s) => ([] as string[]).concat(s.Action).some((a) => a.startsWith('dynamodb:')) && !onRuns(s),
      );
    // Every step records its batches in the runs table: run items, and the indexes a finish clears.
    for (const step of [0, 1, 2, 3]) {
      expect(policyOf(step).filter(onRuns)).toEqual([
        expect.objectContaining({
          Action: [...RUN_ACTIONS],
          Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['run#*'] } },
        }),
        expect.objectContaining({
          Action: RUN_FINISH_ACTIONS[0],
          Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['job#*'] } },
        }),
      ]);
    }
    // verify and publish touch no table; save only writes its connector's.
    expect(dynamodb(0)).toEqual([]);
    expect(dynamodb(3)).toEqual([]);
    expect(dynamodb(1)).toEqual([
      expect.objectContaining({
        Action: 'dynamodb:BatchWriteItem',
        Resource: tableArn(names.connectorTable('orders')),
      }),
    ]);
    // calc keeps state: its own keys only (the state store's partition key starts with the scope).
    expect(dynamodb(2)).toEqual([
      expect.objectContaining({
        Action: [...STATE_ACTIONS],
        Resource: tableArn(names.stateTable()),
        Condition: {
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${encodeURIComponent('orders/calc')}#*`] },
        },
      }),
    ]);
    const logs = policyOf(0).find((s) => ([] as string[]).concat(s.Action).includes('logs:PutLogEvents'));
    expect(logs?.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/Logs/), 'Arn'] });
    expect(JSON.stringify(policyOf(0))).not.toContain('dynamodb:Scan');
  });
});
