import { describe, expect, it } from 'vitest';
import { listJobs, pauseJob, resumeJob } from '../../../kisflow/cli/commands/jobs.ts';
import type { JobSpec, ProjectConfig } from '../../../kisflow/config/model.ts';
import { MemoryRunLedger } from '../../../kisflow/runs/memory-run-ledger.ts';

const job = (jobId: string, over: Partial<JobSpec> = {}): JobSpec => ({
  jobId,
  schedule: 'rate(1 hour)',
  timezone: 'UTC',
  flowId: 'f',
  enabled: true,
  params: {},
  ...over,
});

const project = (jobs: JobSpec[]) =>
  ({
    flows: new Map([['f', { flowId: 'f', enabled: true }]]),
    jobs: new Map(jobs.map((j) => [j.jobId, j])),
  }) as unknown as ProjectConfig;

describe('jobs list: each job enabled, paused (with the reason) or disabled in the YAML', () => {
  it('shows the ledger state, and a next fire only for a job that will fire', async () => {
    const ledger = new MemoryRunLedger();
    const jobs = [job('a'), job('b'), job('c', { enabled: false })];
    const states: string[] = [];
    const control = {
      ledger,
      setSchedule: async (state: string) => {
        states.push(state);
      },
    };
    await pauseJob(control, jobs[1] as JobSpec, 'maintenance');
    const now = new Date(Date.UTC(2026, 11, 1, 9, 30));
    const rows = await listJobs(project(jobs), ledger, now, 0);
    expect(rows.map((r) => [r.job, r.state, r.reason, r.next !== null])).toEqual([
      ['a', 'enabled', null, true],
      ['b', 'paused', 'maintenance', false],
      ['c', 'disabled', null, false],
    ]);
    // Without sendRun (a dev stack) resume leaves the misfire policy to the running scheduler.
    expect(await resumeJob(control, jobs[1] as JobSpec)).toEqual({
      state: expect.objectContaining({ state: 'enabled' }),
    });
    expect(states).toEqual(['DISABLED', 'ENABLED']);
    expect((await listJobs(project(jobs), ledger, now, 0))[1]).toMatchObject({
      state: 'enabled',
      reason: null,
    });
  });
});
