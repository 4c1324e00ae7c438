import { describe, expect, it } from 'vitest';
import { formatConfigIssue } from '../../../kisflow/config/index.ts';
import { validateProject } from '../../../kisflow/config/load-project.ts';
import { maxReceiveCount } from '../../../kisflow/config/redelivery.ts';
import { relativeIssues, useTempProjects } from './temp-project.ts';

const write = useTempProjects();

const FUNCS = `kistype: func
fid: a
fmode: Calculate
handler: functions/a.ts
---
kistype: func
fid: b
fmode: Calculate
handler: functions/a.ts
`;

async function issuesOf(files: Record<string, string>, options: { prefix?: string } = {}): Promise<string[]> {
  const root = write({ 'functions/a.ts': 'export default 1;\n', 'flows/funcs.yml': FUNCS, ...files });
  const { issues } = await validateProject(`${root}/flows`, { root, ...options });
  return relativeIssues(issues, root).map(formatConfigIssue);
}

describe('synth-time checks, reported by validate at the YAML', () => {
  it('reports two flows that deploy as one stack, at the second', async () => {
    expect(
      await issuesOf({
        'flows/x.yml':
          'kistype: flow\nflow_id: order_intake\nflows: [{ fid: a }]\n---\nkistype: flow\nflow_id: order-intake\nflows: [{ fid: a }]\n',
      }),
    ).toEqual([
      expect.stringMatching(
        /^flows\/x\.yml:5:1: flow "order-intake" and flow "order_intake" \(\S*flows\/x\.yml:1\) would both deploy as stack KisFlow-order-intake; rename one of them$/,
      ),
    ]);
  });

  it('reports a flow named like the shared stack', async () => {
    const issues = await issuesOf({ 'flows/x.yml': 'kistype: flow\nflow_id: Shared\nflows: [{ fid: a }]\n' });
    expect(issues).toEqual([
      'flows/x.yml:1:1: flow "Shared" and the shared stack would both deploy as stack KisFlow-Shared; rename one of them',
    ]);
  });

  it('reports a jump_targets entry that is no step of the flow, at the step (it was found only by cdk synth)', async () => {
    const issues = await issuesOf({
      'flows/x.yml': 'kistype: flow\nflow_id: f\nflows:\n  - fid: a\n    params: { jump_targets: [b] }\n',
    });
    expect(issues).toEqual([
      "flows/x.yml:4:5: step 0 (a) of flow 'f': jump_targets names 'b', which no step of the flow runs. 'b' is a function, but no step of this flow runs it. Steps run: 'a'",
    ]);
  });

  it('accepts jump_targets naming steps of the flow, and no jump_targets at all', async () => {
    expect(
      await issuesOf({
        'flows/x.yml':
          'kistype: flow\nflow_id: f\nflows:\n  - fid: a\n    params: { jump_targets: a }\n  - fid: b\n',
      }),
    ).toEqual([]);
  });

  it('reports an enabled job of a disabled flow', async () => {
    const issues = await issuesOf({
      'flows/x.yml':
        'kistype: flow\nflow_id: f\nstatus: 0\nflows: [{ fid: a }]\n---\nkistype: job\njob_id: nightly\nflow_id: f\nschedule: rate(1 day)\n',
    });
    expect(issues).toEqual([
      `flows/x.yml:6:1: job "nightly" is on (status 1) but starts flow "f", which is off (status 0); set the job's status to 0, or turn the flow on`,
    ]);
  });

  it("reports a flow too long for a step's wiring to fit Lambda's 4 KB of environment", async () => {
    const steps = Array.from({ length: 60 }, () => '  - fid: a\n').join('');
    const issues = await issuesOf({ 'flows/x.yml': `kistype: flow\nflow_id: f\nflows:\n${steps}` });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(
      /^flows\/x\.yml:1:1: flow "f" has 60 steps: .* over Lambda's 4096; split the flow/,
    );
  });
});

describe('max_receives: redelivery apart from retry_times', () => {
  it('defaults to 5, the flow tuning overrides it, a function overrides the flow', async () => {
    const root = write({
      'functions/a.ts': 'export default 1;\n',
      'flows/x.yml': `${FUNCS}option: { retry_times: 9, max_receives: 2 }\n---\nkistype: flow\nflow_id: f\nflows: [{ fid: a }, { fid: b }]\n---\nkistype: flow\nflow_id: g\ntuning: { max_receives: 12 }\nflows: [{ fid: a }, { fid: b }]\n`,
    });
    const { project, issues } = await validateProject(`${root}/flows`, { root });
    expect(issues).toEqual([]);
    if (!project) throw new Error('no project');
    const f = project.flows.get('f');
    const g = project.flows.get('g');
    if (!f || !g) throw new Error('missing flows');
    // retry_times is the engine's row budget: it does not change redelivery.
    expect([maxReceiveCount(project, f, 'a'), maxReceiveCount(project, f, 'b')]).toEqual([5, 2]);
    expect([maxReceiveCount(project, g, 'a'), maxReceiveCount(project, g, 'b')]).toEqual([12, 2]);
  });
});
