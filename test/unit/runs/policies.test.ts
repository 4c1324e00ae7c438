import { describe, expect, it } from 'vitest';
import type { JobSpec } from '../../../kisflow/config/model.ts';
import { evaluateAlerts } from '../../../kisflow/runs/alerts.ts';
import { childRuns } from '../../../kisflow/runs/child-jobs.ts';
import { jobPolicy } from '../../../kisflow/runs/job-policy.ts';
import { decideMisfire } from '../../../kisflow/runs/misfire.ts';
import { decideOverlap } from '../../../kisflow/runs/overlap.ts';
import { planRetry, retryAttempt, retryDelayMs } from '../../../kisflow/runs/retry-plan.ts';
import { NO_USAGE } from '../../../kisflow/runs/run-accounting.ts';
import type { RunRecord, RunStatus } from '../../../kisflow/runs/run-ledger.ts';
import { percentile, runStats } from '../../../kisflow/runs/run-stats.ts';
import { shardTicks } from '../../../kisflow/runs/shard-ticks.ts';

const job = (over: Partial<JobSpec> = {}): JobSpec => ({
  jobId: 'J',
  schedule: 'rate(1 hour)',
  timezone: 'UTC',
  flowId: 'F',
  enabled: true,
  params: {},
  ...over,
});

const T0 = Date.UTC(2026, 11, 1);
const record = (id: string, status: RunStatus, over: Partial<RunRecord> = {}): RunRecord => ({
  id,
  flowId: 'F',
  jobId: 'J',
  trigger: 'schedule',
  status,
  params: {},
  started: T0,
  finished: T0 + 1000,
  lastProgress: T0,
  batches: { roots: 1, spawned: 0, done: 1, deadLettered: 0 },
  steps: [],
  usage: NO_USAGE,
  ...over,
});

describe('job policy defaults', () => {
  it('fills every default in one place', () => {
    expect(jobPolicy(job())).toEqual({
      misfire: 'skip',
      overlap: 'serial',
      onSuccess: [],
      onFailure: [],
      shards: 1,
      alerts: {},
    });
    expect(
      jobPolicy(job({ timeoutSeconds: 30, retry: { times: 2, intervalSeconds: 5, backoff: 3 } })),
    ).toMatchObject({
      timeoutMs: 30_000,
      retry: { times: 2, intervalMs: 5000, backoff: 3 },
    });
  });
});

describe('misfire', () => {
  const missed = [new Date(T0 + 3_600_000), new Date(T0), new Date(T0 + 7_200_000)];
  it('skip fires nothing, fire_once_now fires once for the latest missed time', () => {
    expect(decideMisfire('skip', missed)).toEqual({ fire: false, missed: 3 });
    expect(decideMisfire('fire_once_now', missed)).toEqual({
      fire: true,
      scheduledAt: new Date(T0 + 7_200_000),
      missed: 3,
    });
    expect(decideMisfire('fire_once_now', [])).toEqual({ fire: false, missed: 0 });
  });
});

describe('overlap', () => {
  it('maps each policy to its action against the holder', () => {
    expect(decideOverlap('serial', 'r1', 'r2')).toEqual({ action: 'queue', behind: 'r1' });
    expect(decideOverlap('discard_later', 'r1', 'r2')).toMatchObject({ action: 'skip' });
    expect(decideOverlap('cover_early', 'r1', 'r2')).toMatchObject({ action: 'cover', cancel: 'r1' });
  });
});

describe('retry on failure', () => {
  const policy = jobPolicy(
    job({ retry: { times: 3, intervalSeconds: 10, backoff: 2, maxIntervalSeconds: 25 } }),
  );
  it('waits interval × backoff^(n-1), capped', () => {
    const retry = policy.retry as NonNullable<typeof policy.retry>;
    expect([1, 2, 3].map((n) => retryDelayMs(retry, n))).toEqual([10_000, 20_000, 25_000]);
  });
  it('retries failed, partial and timed-out runs up to N times, never a success or a cancel', () => {
    expect(planRetry(policy, record('r', 'failed'), 0)).toEqual({
      attempt: 1,
      delayMs: 10_000,
      runId: 'r~retry1',
    });
    expect(planRetry(policy, record('r~retry1', 'timed_out'), 1)).toEqual({
      attempt: 2,
      delayMs: 20_000,
      runId: 'r~retry2',
    });
    expect(planRetry(policy, record('r~retry3', 'partial'), 3)).toBeUndefined();
    expect(planRetry(policy, record('r', 'succeeded'), 0)).toBeUndefined();
    expect(planRetry(policy, record('r', 'cancelled'), 0)).toBeUndefined();
    expect(planRetry(jobPolicy(job()), record('r', 'failed'), 0)).toBeUndefined();
    expect(retryAttempt('r~retry2')).toBe(2);
    expect(retryAttempt('r')).toBe(0);
  });
});

describe('child jobs', () => {
  const jobs = new Map<string, JobSpec>([
    ['Report', job({ jobId: 'Report', flowId: 'R', shards: 2 })],
    ['Page', job({ jobId: 'Page', flowId: 'P', timeoutSeconds: 5 })],
  ]);
  const parent = job({ onSuccess: ['Report'], onFailure: ['Page', 'Report'] });
  it('starts on_success children after a success, on_failure ones after a failure, none after a cancel', () => {
    expect(childRuns(parent, record('r1', 'succeeded'), jobs)).toEqual([
      {
        runId: 'r1>Report',
        flowId: 'R',
        jobId: 'Report',
        trigger: 'child',
        params: {},
        roots: 2,
        parentRunId: 'r1',
      },
    ]);
    expect(childRuns(parent, record('r1', 'partial'), jobs).map((c) => [c.runId, c.timeoutMs])).toEqual([
      ['r1>Page', 5000],
      ['r1>Report', undefined],
    ]);
    expect(childRuns(parent, record('r1', 'cancelled'), jobs)).toEqual([]);
  });
  it('a job with two parents runs once per parent run', () => {
    const other = job({ jobId: 'K', onSuccess: ['Report'] });
    const ids = [
      ...childRuns(parent, record('a', 'succeeded'), jobs),
      ...childRuns(other, record('b', 'succeeded'), jobs),
    ].map((c) => c.runId);
    expect(ids).toEqual(['a>Report', 'b>Report']);
  });
});

describe('sharding', () => {
  it('one fire is N ticks with { index, total } in their metadata', () => {
    const ticks = shardTicks(job({ shards: 3, params: { p: 1 } }), 'run', new Date(T0));
    expect(ticks.map((t) => [t.batchId, t.meta])).toEqual([
      ['run-shard-0', { p: 1, shard: { index: 0, total: 3 } }],
      ['run-shard-1', { p: 1, shard: { index: 1, total: 3 } }],
      ['run-shard-2', { p: 1, shard: { index: 2, total: 3 } }],
    ]);
    expect(shardTicks(job(), 'run', new Date(T0))).toEqual([
      {
        batchId: 'run',
        shard: { index: 0, total: 1 },
        rows: [{ job_id: 'J', scheduled_at: new Date(T0).toISOString().replace('.000Z', 'Z') }],
        meta: { shard: { index: 0, total: 1 } },
      },
    ]);
  });
});

describe('alerts', () => {
  const failed = (id: string) =>
    record(id, 'failed', {
      steps: [{ index: 0, fid: 'V', in: 3, out: 0, rejected: 3, dropped: 0, deadLettered: 0, errors: 0 }],
    });
  it('on failure and on timeout, with the run id and a one-line reason', () => {
    expect(evaluateAlerts({ onFailure: true }, failed('r1'), [])).toEqual([
      { runId: 'r1', jobId: 'J', rule: 'on_failure', message: 'run r1 of job J failed: 3 rejected' },
    ]);
    const late = record('r2', 'timed_out', { reason: 'no progress for 1000 ms (timeout)' });
    expect(evaluateAlerts({ onFailure: true, onTimeout: true }, late, [])).toEqual([
      {
        runId: 'r2',
        jobId: 'J',
        rule: 'on_timeout',
        message: 'run r2 of job J timed out: no progress for 1000 ms (timeout)',
      },
    ]);
    expect(evaluateAlerts({ onFailure: true }, record('ok', 'succeeded'), [])).toEqual([]);
  });
  it('N consecutive failures alert once, when the streak reaches N; skipped and cancelled runs do not break it', () => {
    const history = [failed('f2'), record('c', 'cancelled'), failed('f1'), record('ok', 'succeeded')];
    expect(evaluateAlerts({ consecutiveFailures: 3 }, failed('f3'), history).map((a) => a.message)).toEqual([
      'run f3 of job J: 3 failed runs in a row (threshold 3)',
    ]);
    expect(evaluateAlerts({ consecutiveFailures: 3 }, failed('f4'), [failed('f3'), ...history])).toEqual([]);
    expect(evaluateAlerts({ consecutiveFailures: 3 }, failed('f2'), history.slice(1))).toEqual([]);
  });
  it('success ratio under a threshold over the last runs', () => {
    const history = [
      record('a', 'succeeded'),
      failed('b'),
      record('c', 'succeeded'),
      record('d', 'succeeded'),
    ];
    const rules = { successRatio: { below: 0.6, runs: 4 } };
    // Window: x (failed), a, b (failed), c: 2 of 4 = 0.5 < 0.6
    expect(evaluateAlerts(rules, failed('x'), history).map((a) => a.rule)).toEqual(['success_ratio']);
    expect(evaluateAlerts({ successRatio: { below: 0.5, runs: 4 } }, failed('x'), history)).toEqual([]);
  });
});

describe('run stats', () => {
  it('runs, success ratio and p50/p95 duration per day, empty days included', () => {
    const DAY = 86_400_000;
    const runs = [
      ...[1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((s, i) =>
        record(`d1-${i}`, i < 8 ? 'succeeded' : 'failed', { started: T0 + i, finished: T0 + i + s * 1000 }),
      ),
      record('d1-running', 'running', { started: T0 + 50, finished: undefined }),
      record('d1-skip', 'skipped', { started: T0 + 60 }),
      record('d3', 'succeeded', { started: T0 + 2 * DAY, finished: T0 + 2 * DAY + 500 }),
    ];
    expect(runStats(runs, T0, T0 + 3 * DAY)).toEqual([
      { day: '2026-12-01', runs: 11, succeeded: 8, failed: 2, successRatio: 0.8, p50Ms: 5000, p95Ms: 10_000 },
      { day: '2026-12-02', runs: 0, succeeded: 0, failed: 0, successRatio: null, p50Ms: null, p95Ms: null },
      { day: '2026-12-03', runs: 1, succeeded: 1, failed: 0, successRatio: 1, p50Ms: 500, p95Ms: 500 },
    ]);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
  });
});
