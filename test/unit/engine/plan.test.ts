import { describe, expect, it } from 'vitest';
import { FlowPlan } from '../../../kisflow/engine/plan.ts';
import { ConnectorError, StepError } from '../../../kisflow/errors.ts';
import { project } from './project.ts';

const proj = project({
  funcs: [
    { fid: 'print', defaultParams: { args1: 'd1', default2: 'd2' } },
    { fid: 'save', fmode: 'Save', cid: 'orders' },
  ],
  conns: [{ cid: 'orders', key: ['userid'] }],
  flows: [
    {
      flowId: 'MyFlow1',
      steps: [
        { fid: 'print', params: { args1: 'value1' } },
        'save',
        { fid: 'print', params: { args1: 'value11', default2: 'newDefault' } },
      ],
    },
  ],
});

describe('FlowPlan', () => {
  it('merges step params over default_params, per step, even for the same fid', () => {
    const plan = FlowPlan.build(proj, 'MyFlow1');
    expect(plan.steps.map((s) => s.fid)).toEqual(['print', 'save', 'print']);
    expect(plan.steps[0]?.params).toEqual({ args1: 'value1', default2: 'd2' });
    expect(plan.steps[2]?.params).toEqual({ args1: 'value11', default2: 'newDefault' });
    expect(plan.steps[1]?.params).toEqual({});
    expect(Object.isFrozen(plan.steps[0]?.params)).toBe(true);
  });

  it('resolves connectors and indexes the first step of a fid', () => {
    const plan = FlowPlan.build(proj, 'MyFlow1');
    expect(plan.steps[1]?.conn?.cid).toBe('orders');
    expect(plan.steps[0]?.conn).toBeUndefined();
    expect(plan.indexOf('print')).toBe(0);
    expect(plan.indexOf('save')).toBe(1);
    expect(plan.indexOf('nope')).toBe(-1);
  });

  it('names an unknown flow with a did-you-mean hint', () => {
    expect(() => FlowPlan.build(proj, 'MyFlow')).toThrow(StepError);
    expect(() => FlowPlan.build(proj, 'MyFlow')).toThrow(/no flow 'MyFlow' \(did you mean "MyFlow1"\?\)\./);
    try {
      FlowPlan.build(proj, 'zzzzzzzzzz');
    } catch (err) {
      expect(err).toMatchObject({ code: 'UNKNOWN_FLOW' });
      expect((err as Error).message).not.toContain('did you mean');
    }
  });

  it('reports a step without function config and a function without connector config', () => {
    const bad = project({
      funcs: [{ fid: 'a', cid: 'missing' }],
      flows: [
        { flowId: 'f', steps: ['b'] },
        { flowId: 'g', steps: ['a'] },
      ],
    });
    expect(() => FlowPlan.build(bad, 'f')).toThrow(expect.objectContaining({ code: 'UNKNOWN_FUNCTION' }));
    expect(() => FlowPlan.build(bad, 'g')).toThrow(ConnectorError);
  });
});
