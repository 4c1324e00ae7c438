import { beforeEach, describe, expect, it } from 'vitest';
import type { JobSpec, ProjectConfig } from '../../../kisflow/config/model.ts';
import { fireJob } from '../../../kisflow/runs/fire-job.ts';
import { MemoryRunLedger } from '../../../kisflow/runs/memory-run-ledger.ts';
import { runEnded } from '../../../kisflow/runs/run-ended.ts';
import type { RunRecord } from '../../../kisflow/runs/run-ledger.ts';

const job = (jobId: string, over: Partial<JobSpec> = {}): JobSpec => ({
  jobId,
  schedule: 'rate(1 hour)',
  timezone: 'UTC',
  flowId: 'F',
  enabled: true,
  params: {},
  ...over,
});

function project(...jobs: JobSpec[]): ProjectConfig {
  return { jobs: new Map(jobs.map((j) => [j.jobId, j])) } as unknown as ProjectConfig;
}

const T0 = Date.UTC(2026, 11, 1, 8);
let now = T0;
let ledger: MemoryRunLedger;
beforeEach(() => {
  now = T0;
  ledger = new MemoryRunLedger({ now: () => now });
});

/** Fires a job and ends its run with the given outcome of its one batch. */
async function fireAndEnd(j: JobSpec, hour: number, ok: boolean): Promise<RunRecord> {
  const fired = await fireJob(ledger, {
    job: j,
    scheduledAt: new Date(T0 + hour * 3_600_000),
    trigger: 'schedule',
  });
  if (fired.kind !== 'started') throw new Error(`not started: ${fired.kind}`);
  now += 1000;
  await ledger.complete({
    runId: fired.run.id,
    batchId: fired.ticks[0]?.batchId as string,
    step: 0,
    counters: ok ? { in: 1, out: 1 } : { in: 1, errors: 1 },
    ...(ok ? {} : { outcome: 'dead_lettered' as const }),
  });
  return (await ledger.get(fired.run.id)) as RunRecord;
}

describe('when a job run ends', () => {
  it('starts the fire queued behind it (serial)', async () => {
    const j = job('J', { overlap: 'serial' });
    const first = await fireJob(ledger, { job: j, scheduledAt: new Date(T0), trigger: 'schedule' });
    const second = await fireJob(ledger, {
      job: j,
      scheduledAt: new Date(T0 + 3_600_000),
      trigger: 'schedule',
    });
    expect(second.kind).toBe('queued');
    if (first.kind !== 'started') throw new Error('first not started');
    await ledger.complete({ runId: first.run.id, batchId: first.run.id, step: 0 });
    const actions = await runEnded(ledger, project(j), (await ledger.get(first.run.id)) as RunRecord);
    expect(actions.started.map((s) => s.run.id)).toEqual([second.kind === 'queued' ? second.runId : '']);
  });

  it('starts on_success children once, even when the end is handled twice', async () => {
    const parent = job('P', { onSuccess: ['Report'], onFailure: ['Page'] });
    const jobs = project(parent, job('Report', { flowId: 'R' }), job('Page'));
    const ended = await fireAndEnd(parent, 0, true);
    const actions = await runEnded(ledger, jobs, ended);
    expect(actions.started.map((s) => s.run)).toEqual([
      expect.objectContaining({
        id: `${ended.id}>Report`,
        flowId: 'R',
        trigger: 'child',
        parentRunId: ended.id,
      }),
    ]);
    expect((await runEnded(ledger, jobs, ended)).started).toEqual([]);
  });

  it('after a failure: on_failure children, a retry with backoff, then no more retries', async () => {
    const j = job('J', { onFailure: ['Page'], retry: { times: 2, intervalSeconds: 10, backoff: 3 } });
    const jobs = project(j, job('Page'));
    const failed = await fireAndEnd(j, 0, false);
    expect(failed.status).toBe('failed');
    const first = await runEnded(ledger, jobs, failed);
    expect(first.started.map((s) => s.run.jobId)).toEqual(['Page']);
    expect(first.retry).toMatchObject({
      delayMs: 10_000,
      fire: { trigger: 'retry', runId: `${failed.id}~retry1` },
    });

    const retried = await fireJob(ledger, first.retry?.fire as NonNullable<typeof first.retry>['fire']);
    if (retried.kind !== 'started') throw new Error('retry not started');
    expect(retried.run).toMatchObject({ trigger: 'retry', parentRunId: failed.id });
    await ledger.complete({
      runId: retried.run.id,
      batchId: retried.run.id,
      step: 0,
      outcome: 'dead_lettered',
    });
    const second = await runEnded(ledger, jobs, (await ledger.get(retried.run.id)) as RunRecord);
    expect(second.retry).toMatchObject({ delayMs: 30_000, fire: { runId: `${failed.id}~retry2` } });

    const last = await fireJob(ledger, second.retry?.fire as NonNullable<typeof second.retry>['fire']);
    if (last.kind !== 'started') throw new Error('retry 2 not started');
    await ledger.complete({ runId: last.run.id, batchId: last.run.id, step: 0, outcome: 'dead_lettered' });
    expect(
      (await runEnded(ledger, jobs, (await ledger.get(last.run.id)) as RunRecord)).retry,
    ).toBeUndefined();
  });

  it('alerts from the job history in the ledger: the third failure in a row', async () => {
    const j = job('J', { alerts: { consecutiveFailures: 3 } });
    const jobs = project(j);
    await fireAndEnd(j, 0, true);
    const alerts: string[] = [];
    for (const hour of [1, 2, 3, 4]) {
      const ended = await fireAndEnd(j, hour, false);
      alerts.push(...(await runEnded(ledger, jobs, ended)).alerts.map((a) => `${a.runId}: ${a.message}`));
    }
    expect(alerts).toEqual([
      `job-J-${T0 + 3 * 3_600_000}: run job-J-${T0 + 3 * 3_600_000} of job J: 3 failed runs in a row (threshold 3)`,
    ]);
  });

  it('does nothing for a run that is not a job run or still running', async () => {
    await ledger.start({ runId: 'send-1', flowId: 'F', trigger: 'api', roots: 1 });
    const run = (await ledger.get('send-1')) as RunRecord;
    expect(await runEnded(ledger, project(job('J')), run)).toEqual({ started: [], deferred: [], alerts: [] });
  });
});
