import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app.ts';
import { resourceNames } from '../../kisflow/config/names.ts';
import { flow, flowStackOf, func, job, project, testApp } from './projects.ts';

type Resource = { Properties: Record<string, unknown> };

describe('job schedules: named for `kisflow jobs pause|resume`, state from the YAML', () => {
  const jobs = project({
    funcs: [func('a')],
    flows: [flow('orders', ['a'])],
    jobs: [
      job('nightly', 'orders'),
      job('off_for_now', 'orders', { enabled: false }),
      job('夜间任务', 'orders'),
    ],
  });

  it('names each schedule <prefix>-job-<job> (hashed when the id is not ASCII) and deploys a status: 0 job DISABLED', () => {
    for (const prefix of [undefined, 'stage']) {
      const names = resourceNames(prefix);
      const { flows } = buildApp({
        project: jobs,
        app: testApp(prefix === undefined ? {} : { 'kisflow:prefix': prefix }),
        bundling: false,
        securityChecks: false,
      });
      const schedules = Object.values(
        Template.fromStack(flowStackOf(flows, 'orders')).findResources('AWS::Scheduler::Schedule'),
      ) as Resource[];
      const byName = Object.fromEntries(schedules.map((s) => [s.Properties.Name, s.Properties.State]));
      expect(byName).toEqual({
        [names.jobSchedule('nightly')]: 'ENABLED',
        [names.jobSchedule('off_for_now')]: 'DISABLED',
        [names.jobSchedule('夜间任务')]: 'ENABLED',
      });
    }
    expect(resourceNames().jobSchedule('nightly')).toBe('kisflow-job-nightly');
    expect(resourceNames('stage').jobSchedule('off_for_now')).toBe('stage-job-off_for_now');
    expect(resourceNames().jobSchedule('夜间任务')).toMatch(/^kisflow-job-h[0-9a-f]{8}$/);
    const long = resourceNames('a-twenty-char-prefix').jobSchedule('x'.repeat(100));
    expect(long.length).toBeLessThanOrEqual(64);
    expect(long).toMatch(/^[0-9A-Za-z_.-]+$/);
  });
});
