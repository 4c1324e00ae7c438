import { readFileSync } from 'node:fs';
import type { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app.ts';
import { connectorStreamParameter } from '../../infra/flow-source-mapping.ts';
import { stepEntrySource } from '../../infra/step-entry.ts';
import type { FlowSourceSpec } from '../../kisflow/config/model.ts';
import { resourceNames } from '../../kisflow/config/names.ts';
import { conn, flow, flowStackOf, func, project, testApp } from './projects.ts';

const names = resourceNames();
const STREAM = 'arn:aws:kinesis:us-east-1:123456789012:stream/orders';
const MSK = 'arn:aws:kafka:us-east-1:123456789012:cluster/biz/0b1c2d3e-1111-2222-3333-444455556666-1';
const SECRET = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:kafka-login-AbCdEf';
const QUEUE = 'arn:aws:sqs:us-east-1:123456789012:orders-in';

function sourced(source: FlowSourceSpec, enabled = true) {
  const p = project({
    funcs: [func('first'), func('last')],
    conns: [conn('orders'), conn('other')],
    flows: [flow('feed', ['first', 'last'], { source, enabled })],
  });
  const app = testApp();
  const { flows, shared } = buildApp({ project: p, app, bundling: false });
  return { app, p, flow: Template.fromStack(flowStackOf(flows, 'feed')), shared: Template.fromStack(shared) };
}

function ids(t: Template, type: string, props: Record<string, unknown>): string {
  const [id] = Object.keys(t.findResources(type, { Properties: props }));
  if (!id) throw new Error(`no ${type} with ${JSON.stringify(props)}`);
  return id;
}

function statements(t: Template): { Action: string | string[]; Resource: unknown }[] {
  return Object.values(t.findResources('AWS::IAM::Policy')).flatMap(
    (p) => p.Properties.PolicyDocument.Statement,
  );
}

/** The mapping's function is the first step's, and its failure destination the flow's ingress DLQ. */
function expectWiredToFirstStep(t: Template): void {
  const ingress = ids(t, 'AWS::SQS::Queue', { QueueName: names.ingressDeadLetterQueue('feed') });
  t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
    FunctionName: { Ref: Match.stringLikeRegexp('^StepfirstFunction') },
    DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [ingress, 'Arn'] } } },
  });
  // The failure destination is a grant too: the step's role may send there.
  expect(statements(t)).toContainEqual(
    expect.objectContaining({
      Action: expect.arrayContaining(['sqs:SendMessage']),
      Resource: { 'Fn::GetAtt': [ingress, 'Arn'] },
    }),
  );
}

/** cdk-nag's report is written only when a finding fails the synth. */
function nagFindings(app: App): string[] {
  try {
    app.synth();
    return [];
  } catch (error) {
    const report = /A copy of this report can be found in: (\S+)/.exec(String((error as Error).message))?.[1];
    if (!report) throw error;
    const json = JSON.parse(readFileSync(report, 'utf8'));
    return json.pluginReports.flatMap((r: { violations: { ruleName: string }[] }) =>
      r.violations.map((v) => v.ruleName),
    );
  }
}

describe('source: Kinesis', () => {
  it('maps the stream onto the first step with its tuning, partial batch responses and the flow DLQ on failure; reads only that stream', () => {
    const { flow: t, app } = sourced({
      kinesis: {
        streamArn: STREAM,
        startingPosition: 'at_timestamp',
        startingTimestamp: '2026-01-01T00:00:00Z',
        batchSize: 500,
        batchingWindowSeconds: 5,
        parallelizationFactor: 4,
        bisectOnError: true,
        maxRetries: 3,
        maxRecordAgeSeconds: 3600,
        filters: [{ data: { type: ['order'] } }],
      },
    });
    t.resourceCountIs('AWS::Lambda::EventSourceMapping', 3);
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: STREAM,
      StartingPosition: 'AT_TIMESTAMP',
      StartingPositionTimestamp: 1767225600,
      BatchSize: 500,
      MaximumBatchingWindowInSeconds: 5,
      ParallelizationFactor: 4,
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 3,
      MaximumRecordAgeInSeconds: 3600,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      FilterCriteria: { Filters: [{ Pattern: JSON.stringify({ data: { type: ['order'] } }) }] },
      Enabled: true,
    });
    expectWiredToFirstStep(t);
    expect(statements(t)).toContainEqual(
      expect.objectContaining({
        Action: expect.arrayContaining(['kinesis:GetRecords', 'kinesis:GetShardIterator']),
        Resource: STREAM,
      }),
    );
    expect(nagFindings(app)).toEqual([]);
  });

  it("makes the first step's entry a source handler; the other steps keep the step handler", () => {
    const { p } = sourced({ kinesis: { streamArn: STREAM, startingPosition: 'latest' } });
    expect(stepEntrySource({ project: p, flowId: 'feed', step: 0, dir: '/tmp' }).source).toMatch(
      /export const handler = createSourceHandler\(\{ project, flowId: "feed", fn \}\);/,
    );
    expect(stepEntrySource({ project: p, flowId: 'feed', step: 1, dir: '/tmp' }).source).toMatch(
      /createStepHandler/,
    );
  });

  it('deploys the mapping disabled for a flow with status 0', () => {
    const { flow: t } = sourced({ kinesis: { streamArn: STREAM, startingPosition: 'latest' } }, false);
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', { EventSourceArn: STREAM, Enabled: false });
  });
});

describe('source: DynamoDB stream', () => {
  it("of a connector: the shared stack turns its table's stream on and names it in SSM; the mapping reads that table's streams only", () => {
    const {
      flow: t,
      shared,
      app,
    } = sourced({ dynamodbStream: { connector: 'orders', startingPosition: 'trim_horizon', maxRetries: 2 } });
    shared.hasResourceProperties('AWS::DynamoDB::Table', {
      TableName: names.connectorTable('orders'),
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
    });
    // Only the streamed connector's table gets one.
    const other = shared.findResources('AWS::DynamoDB::Table', {
      Properties: { TableName: names.connectorTable('other') },
    });
    expect(Object.values(other)[0]?.Properties.StreamSpecification).toBeUndefined();
    const table = ids(shared, 'AWS::DynamoDB::Table', { TableName: names.connectorTable('orders') });
    shared.hasResourceProperties('AWS::SSM::Parameter', {
      Name: connectorStreamParameter(undefined, 'orders'),
      Value: { 'Fn::GetAtt': [table, 'StreamArn'] },
    });
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { Ref: Match.stringLikeRegexp('SsmParameterValue') },
      StartingPosition: 'TRIM_HORIZON',
      MaximumRetryAttempts: 2,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    expectWiredToFirstStep(t);
    const read = statements(t).find((s) => JSON.stringify(s.Action).includes('dynamodb:GetRecords'));
    expect(JSON.stringify(read?.Resource)).toContain(`:table/${names.connectorTable('orders')}/stream/*`);
    expect(nagFindings(app)).toEqual([]);
  });

  it('of a table by ARN: reads that stream', () => {
    const arn = 'arn:aws:dynamodb:us-east-1:123456789012:table/customers/stream/2026-01-01T00:00:00.000';
    const { flow: t } = sourced({ dynamodbStream: { streamArn: arn, startingPosition: 'latest' } });
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: arn,
      StartingPosition: 'LATEST',
    });
    expect(statements(t)).toContainEqual(expect.objectContaining({ Resource: arn }));
  });
});

describe('source: Kafka', () => {
  it('MSK with IAM: the cluster, its topic and the consumer group only; provisioned pollers and retries', () => {
    const { flow: t, app } = sourced({
      kafka: {
        mskClusterArn: MSK,
        topic: 'orders',
        consumerGroup: 'kisflow-feed',
        startingPosition: 'trim_horizon',
        batchSize: 200,
        provisionedPollers: { minimum: 1, maximum: 4 },
        bisectOnError: true,
        maxRetries: 5,
      },
    });
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: MSK,
      Topics: ['orders'],
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: 'kisflow-feed' },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 200,
      ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 4 },
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 5,
      // Provisioned mode: the source handler names failed records by topic-partition and offset.
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    expectWiredToFirstStep(t);
    expect(statements(t)).toContainEqual(
      expect.objectContaining({
        Action: expect.arrayContaining(['kafka-cluster:ReadData']),
        Resource: [
          MSK,
          'arn:aws:kafka:us-east-1:123456789012:topic/biz/0b1c2d3e-1111-2222-3333-444455556666-1/orders',
          'arn:aws:kafka:us-east-1:123456789012:group/biz/0b1c2d3e-1111-2222-3333-444455556666-1/kisflow-feed',
        ],
      }),
    );
    expect(nagFindings(app)).toEqual([]);
  });

  it('self-managed: the brokers with the SASL/SCRAM secret, which only it may read', () => {
    const { flow: t, app } = sourced({
      kafka: {
        bootstrapServers: ['b-1:9096', 'b-2:9096'],
        secretArn: SECRET,
        topic: 'orders',
        consumerGroup: 'g',
        startingPosition: 'latest',
      },
    });
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      SelfManagedEventSource: { Endpoints: { KafkaBootstrapServers: ['b-1:9096', 'b-2:9096'] } },
      SourceAccessConfigurations: [{ Type: 'SASL_SCRAM_512_AUTH', URI: SECRET }],
      Topics: ['orders'],
      // On-demand mode has no partial responses: the handler throws a failed batch whole.
      FunctionResponseTypes: Match.absent(),
    });
    expectWiredToFirstStep(t);
    expect(statements(t)).toContainEqual(
      expect.objectContaining({ Action: 'secretsmanager:GetSecretValue', Resource: SECRET }),
    );
    expect(JSON.stringify(statements(t))).not.toContain('kafka-cluster:');
    expect(nagFindings(app)).toEqual([]);
  });
});

describe('source: an existing SQS queue', () => {
  it('maps the queue with partial batch responses and reads only it; its own redrive policy applies', () => {
    const { flow: t, app } = sourced({
      sqs: { queueArn: QUEUE, batchSize: 50, batchingWindowSeconds: 2, maxConcurrency: 4 },
    });
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: QUEUE,
      BatchSize: 50,
      MaximumBatchingWindowInSeconds: 2,
      ScalingConfig: { MaximumConcurrency: 4 },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: Match.absent(),
    });
    expect(statements(t)).toContainEqual(
      expect.objectContaining({
        Action: expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage']),
        Resource: QUEUE,
      }),
    );
    expect(nagFindings(app)).toEqual([]);
  });
});

describe('source lag monitoring', () => {
  const lagAlarm = (t: Template) =>
    Object.values(t.findResources('AWS::CloudWatch::Alarm')).filter(
      (a) => a.Properties.Namespace === 'AWS/Lambda' && /IteratorAge|OffsetLag/.test(a.Properties.MetricName),
    );

  it("alarms on a Kinesis or DynamoDB stream mapping's IteratorAge, on the first step's function, into the alarm topic", () => {
    for (const source of [
      { kinesis: { streamArn: STREAM, startingPosition: 'trim_horizon' as const } },
      { dynamodbStream: { connector: 'orders', startingPosition: 'trim_horizon' as const } },
    ]) {
      const [alarm, ...more] = lagAlarm(sourced(source as FlowSourceSpec).flow);
      expect(more).toEqual([]);
      expect(alarm?.Properties).toMatchObject({
        MetricName: 'IteratorAge',
        Statistic: 'Maximum',
        Threshold: 15 * 60 * 1000,
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: expect.stringMatching(/^StepfirstFunction/) } }],
        AlarmActions: [expect.anything()],
      });
    }
  });

  it("alarms on a Kafka mapping's OffsetLag; an existing source queue on its oldest message's age", () => {
    const kafka = sourced({
      kafka: {
        mskClusterArn: MSK,
        topic: 'orders',
        consumerGroup: 'kisflow-feed',
        startingPosition: 'latest',
      },
    } as FlowSourceSpec).flow;
    expect(lagAlarm(kafka).map((a) => a.Properties.MetricName)).toEqual(['OffsetLag']);
    const fromQueue = sourced({ sqs: { queueArn: QUEUE } } as FlowSourceSpec).flow;
    expect(lagAlarm(fromQueue)).toEqual([]);
    const queueAlarms = Object.values(fromQueue.findResources('AWS::CloudWatch::Alarm')).filter(
      (a) =>
        a.Properties.AlarmName?.endsWith?.('source-lag') ||
        a.Properties.AlarmDescription?.includes?.('source queue'),
    );
    expect(queueAlarms.map((a) => a.Properties)).toEqual([
      expect.objectContaining({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [{ Name: 'QueueName', Value: 'orders-in' }],
        Statistic: 'Maximum',
        Threshold: 15 * 60,
        AlarmActions: [expect.anything()],
      }),
    ]);
  });
});
