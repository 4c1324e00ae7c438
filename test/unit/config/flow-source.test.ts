import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadProject, validateProject } from '../../../kisflow/config/index.ts';
import { relativeIssues, useTempProjects } from './temp-project.ts';

const make = useTempProjects();

const FUNC =
  'kistype: func\nfid: A\nfmode: Calculate\n---\nkistype: conn\ncid: orders\ncname: orders\nkey: [id]\n---\n';
const flow = (source: string) => `${FUNC}kistype: flow\nflow_id: f\nflows: [{ fid: A }]\nsource:\n${source}`;

async function issuesOf(source: string) {
  const root = make({ 'flows/a.yml': flow(source), 'functions/A.ts': 'export default () => {};\n' });
  const result = await validateProject(path.join(root, 'flows'), { root });
  return relativeIssues(result.issues, root).map((i) => `${i.line}:${i.col}: ${i.message}`);
}

const STREAM = '"arn:aws:kinesis:us-east-1:123456789012:stream/orders"';

describe('flow source: located mistakes', () => {
  it('two kinds given', async () => {
    expect(
      await issuesOf(
        `  kinesis: { stream_arn: ${STREAM} }\n  sqs: { queue_arn: "arn:aws:sqs:us-east-1:123456789012:q" }\n`,
      ),
    ).toEqual([
      '15:8: flow "f": source.sqs: a flow has one source, but kinesis is given too; keep one of kinesis, sqs (a second source can feed another flow that Loads from a shared connector)',
    ]);
  });

  it('a wrong ARN shape, at the value', async () => {
    expect(
      await issuesOf('  kinesis: { stream_arn: "arn:aws:sqs:us-east-1:123456789012:orders" }\n'),
    ).toEqual([
      '14:26: flow "f": source.kinesis.stream_arn: must be an ARN like arn:aws:kinesis:us-east-1:123456789012:stream/orders',
    ]);
  });

  it('a field the kind does not have, at the key', async () => {
    const issues = await issuesOf(
      '  kafka:\n    msk_cluster_arn: "arn:aws:kafka:us-east-1:123456789012:cluster/biz/0b1c2d3e-1111-2222-3333-444455556666-1"\n    topic: orders\n    parallelization_factor: 2\n',
    );
    expect(issues).toEqual([
      expect.stringMatching(
        /^17:5: flow "f": unknown key "parallelization_factor" in source\.kafka; allowed keys: /,
      ),
    ]);
  });

  it('an unknown connector, with a did-you-mean', async () => {
    expect(await issuesOf('  dynamodb_stream: { connector: ordrs }\n')).toEqual([
      '14:33: flow "f": source.dynamodb_stream.connector names "ordrs", which is no connector (did you mean "orders"?); expected one of the project\'s dynamodb connectors: "orders", or stream_arn for a table outside the project',
    ]);
  });

  it('kind rules: at_timestamp needs its time; Kafka retries need provisioned mode; a self-managed cluster needs its secret', async () => {
    expect(await issuesOf(`  kinesis: { stream_arn: ${STREAM}, starting_position: at_timestamp }\n`)).toEqual(
      [expect.stringMatching(/source\.kinesis\.starting_position: at_timestamp needs starting_timestamp/)],
    );
    expect(
      await issuesOf('  kafka: { bootstrap_servers: ["b-1:9096"], topic: orders, max_retries: 3 }\n'),
    ).toEqual([
      expect.stringMatching(/source\.kafka\.bootstrap_servers: a self-managed cluster needs secret_arn/),
      expect.stringMatching(/source\.kafka\.max_retries: needs provisioned_pollers/),
    ]);
  });
});

describe('flow source: the model', () => {
  it('gives each kind its normalised spec, with defaults', async () => {
    const root = make({
      'flows/a.yml': `${flow(`  kinesis: { stream_arn: ${STREAM}, batch_size: 100, bisect_on_error: true, filters: [{ data: { t: [x] } }] }\n`)}---
kistype: flow
flow_id: k
flows: [{ fid: A }]
source:
  kafka: { msk_cluster_arn: "arn:aws:kafka:us-east-1:123456789012:cluster/biz/0b1c2d3e-1111-2222-3333-444455556666-1", topic: orders, format: debezium }
`,
      'functions/A.ts': 'export default () => {};\n',
    });
    const project = await loadProject(path.join(root, 'flows'), { root });
    const { at: _at, ...kinesis } = project.flows.get('f')?.source?.kinesis ?? ({} as never);
    expect(kinesis).toEqual({
      streamArn: 'arn:aws:kinesis:us-east-1:123456789012:stream/orders',
      format: 'json',
      startingPosition: 'trim_horizon',
      batchSize: 100,
      bisectOnError: true,
      filters: [{ data: { t: ['x'] } }],
    });
    expect(project.flows.get('k')?.source?.kafka).toMatchObject({
      topic: 'orders',
      format: 'debezium',
      consumerGroup: 'kisflow-k',
      startingPosition: 'trim_horizon',
    });
  });
});
