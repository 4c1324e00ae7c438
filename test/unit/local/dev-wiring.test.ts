import { describe, expect, it } from 'vitest';
import { buildProject } from '../../../kisflow/config/index.ts';
import { devWiring } from '../../../kisflow/local/dev-stack.ts';
import type { ProvisionedResources } from '../../../kisflow/local/provision.ts';

// The dev stack wires each step as the CDK app does: the state table only to a function that
// declares `option.state: true`, so an undeclared one fails under dev as it would in AWS.
describe('devWiring', () => {
  const project = buildProject({
    funcs: [
      { fid: 'verify', fmode: 'Verify' },
      { fid: 'total', fmode: 'Calculate', option: { state: true } },
    ],
    flows: [{ flow_id: 'f', flows: [{ fid: 'verify' }, { fid: 'total' }] }],
  });
  const resources: ProvisionedResources = {
    flows: {
      f: {
        stepQueues: ['http://q/f--verify', 'http://q/f--total'],
        stepDeadLetterQueues: ['http://q/f--verify--dlq', 'http://q/f--total--dlq'],
        outputQueue: 'http://q/f-output',
        maxReceiveCounts: [5, 5],
      },
    },
    connectorTables: {},
    stateTable: 'dev-state',
    runsTable: 'dev-runs',
  };
  const flow = project.flows.get('f');
  if (flow === undefined) throw new Error('no flow f');

  it('gives the state table only to steps of functions that declare option.state', () => {
    expect(devWiring(project, flow, 0, resources).stateTable).toBeUndefined();
    expect(devWiring(project, flow, 1, resources).stateTable).toBe('dev-state');
  });
});
