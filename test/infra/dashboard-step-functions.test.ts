/**
 * The console finds a deployed step's Lambda (CloudFormation names it) through the flow's
 * dashboard: the dashboard this stack deploys, rendered as CloudFormation would, names each
 * step's own function.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app.ts';
import { stepFunctionNames } from '../../kisflow/console/figures/cloudwatch-step-figures.ts';
import { flowStackOf, shopProject, testApp } from './projects.ts';

/** The body CloudFormation deploys: every Ref resolved to a physical name. */
function deployedBody(value: unknown, physical: (logicalId: string) => string): string {
  const join = (value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  return join[1]
    .map((part) => {
      if (typeof part === 'string') return part;
      const { Ref: ref, 'Fn::GetAtt': attribute } = part as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
      if (attribute !== undefined) return `${attribute[0]}-${attribute[1]}`;
      if (ref === undefined) throw new Error(`unexpected part ${JSON.stringify(part)}`);
      return ref.startsWith('AWS::') ? 'eu-west-1' : physical(ref);
    })
    .join(join[0]);
}

describe("the flow dashboard names each step's Lambda", () => {
  let orders: Template;
  beforeAll(() => {
    const { flows } = buildApp({ project: shopProject(), app: testApp(), bundling: false });
    orders = Template.fromStack(flowStackOf(flows, 'orders'));
  });

  it('stepFunctionNames reads, per step, the function that consumes that step queue', () => {
    const physical = (id: string) => `KisFlow-orders-${id.slice(0, 40)}-1A2B3C4D5E6F`;
    const dashboard = Object.values(orders.findResources('AWS::CloudWatch::Dashboard'))[0];
    const names = stepFunctionNames(deployedBody(dashboard?.Properties.DashboardBody, physical));

    // Which function each step's queue feeds, from the event source mappings.
    const mappings = Object.values(orders.findResources('AWS::Lambda::EventSourceMapping'));
    const queues = orders.findResources('AWS::SQS::Queue');
    const expected = new Map<number, string>();
    for (const [step, key] of ['verify', 'save', 'calc', 'publish'].entries()) {
      const [queueId] =
        Object.entries(queues).find(([, q]) => q.Properties.QueueName === `kisflow-orders--${key}`) ?? [];
      const mapping = mappings.find(
        (m) =>
          JSON.stringify(m.Properties.EventSourceArn) === JSON.stringify({ 'Fn::GetAtt': [queueId, 'Arn'] }),
      );
      expect(mapping, `the mapping of step ${step}`).toBeDefined();
      expected.set(step, physical(mapping?.Properties.FunctionName.Ref));
    }
    expect(names).toEqual(expected);
  });

  it('a body that is not JSON or has no Lambda widgets names nothing', () => {
    expect(stepFunctionNames('not json').size).toBe(0);
    expect(
      stepFunctionNames(JSON.stringify({ widgets: [{ type: 'text', properties: { markdown: '#' } }] })).size,
    ).toBe(0);
  });
});
