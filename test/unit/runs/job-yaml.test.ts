import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateProject } from '../../../kisflow/config/index.ts';
import { relativeIssues, useTempProjects } from '../config/temp-project.ts';

const make = useTempProjects();
const FLOW =
  'kistype: func\nfid: A\nfmode: Calculate\n---\nkistype: flow\nflow_id: F\nscene: shop\nflows:\n  - fid: A\n';

async function check(jobs: string) {
  const root = make({ 'functions/A.ts': 'export default 1;\n', 'flows/f.yml': FLOW, 'flows/jobs.yml': jobs });
  const result = await validateProject(path.join(root, 'flows'), { root });
  return { project: result.project, issues: relativeIssues(result.issues, root) };
}

describe('kistype job: scheduling fields', () => {
  it('reads every field into the JobSpec (and scene on flows)', async () => {
    const { project, issues } = await check(
      [
        'kistype: job',
        'job_id: Nightly',
        'schedule: cron(0 2 * * ? *)',
        'flow_id: F',
        'misfire: fire_once_now',
        'overlap: cover_early',
        'timeout: 600',
        'retry: { times: 2, max_interval: 300 }',
        'on_success: [Report]',
        'on_failure: [Report]',
        'shards: 4',
        'scene: billing',
        'alerts: { on_failure: true, consecutive_failures: 3, success_ratio: { below: 0.9 }, on_timeout: true }',
        '---',
        'kistype: job',
        'job_id: Report',
        'schedule: rate(1 day)',
        'flow_id: F',
      ].join('\n'),
    );
    expect(issues).toEqual([]);
    expect(project?.flows.get('F')?.scene).toBe('shop');
    expect(project?.jobs.get('Nightly')).toMatchObject({
      misfire: 'fire_once_now',
      overlap: 'cover_early',
      timeoutSeconds: 600,
      retry: { times: 2, intervalSeconds: 60, backoff: 2, maxIntervalSeconds: 300 },
      onSuccess: ['Report'],
      onFailure: ['Report'],
      shards: 4,
      scene: 'billing',
      alerts: {
        onFailure: true,
        consecutiveFailures: 3,
        successRatio: { below: 0.9, runs: 20 },
        onTimeout: true,
      },
    });
    // Unset fields stay unset: a job without them is what it was before.
    expect(Object.keys(project?.jobs.get('Report') ?? {}).sort()).toEqual(
      ['at', 'enabled', 'flowId', 'jobId', 'params', 'schedule', 'timezone'].sort(),
    );
  });

  it('reports an unknown child job at its list entry, with a hint', async () => {
    const { issues } = await check(
      'kistype: job\njob_id: A\nschedule: rate(1 hour)\nflow_id: F\non_failure:\n  - Reprot\n---\nkistype: job\njob_id: Report\nschedule: rate(1 day)\nflow_id: F\n',
    );
    expect(issues).toEqual([
      {
        file: 'flows/jobs.yml',
        line: 6,
        col: 5,
        message:
          'job "A" lists job "Reprot" under on_failure, which has no job document (did you mean "Report"?)',
      },
    ]);
  });

  it('reports a cycle of child jobs once', async () => {
    const { issues } = await check(
      'kistype: job\njob_id: A\nschedule: rate(1 hour)\nflow_id: F\non_success: [B]\n---\nkistype: job\njob_id: B\nschedule: rate(1 day)\nflow_id: F\non_failure: [A]\n',
    );
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ file: 'flows/jobs.yml', line: 5 });
    expect(issues[0]?.message).toMatch(/^child jobs form a cycle: A → B → A/);
  });

  it('a diamond of child jobs (two parents of one job) is no cycle', async () => {
    const jobDoc = (id: string, children: string) =>
      `kistype: job\njob_id: ${id}\nschedule: rate(1 hour)\nflow_id: F\non_success: [${children}]\n`;
    const { issues } = await check(
      [
        jobDoc('A', 'B, C'),
        jobDoc('B', 'D'),
        jobDoc('C', 'D'),
        'kistype: job\njob_id: D\nschedule: rate(1 day)\nflow_id: F\n',
      ].join('---\n'),
    );
    expect(issues).toEqual([]);
  });

  it('rejects shards 0, an unknown overlap policy and a misspelt key, located', async () => {
    const { issues } = await check(
      'kistype: job\njob_id: A\nschedule: rate(1 hour)\nflow_id: F\nshards: 0\noverlap: cover\nretyr: { times: 1 }\n',
    );
    expect(issues.map((i) => [i.line, i.message])).toEqual([
      [5, expect.stringMatching(/shards.*at least 1/)],
      [6, expect.stringMatching(/overlap.*serial.*discard_later.*cover_early/)],
      [7, expect.stringMatching(/retyr.*did you mean "retry"/)],
    ]);
  });
});
