import { describe, expect, it } from 'vitest';
import type { JobSpec, ProjectConfig } from '../../../kisflow/config/model.ts';
import { missedFires, parseSchedule, startScheduler } from '../../../kisflow/local/scheduler.ts';
import type { StepBatch } from '../../../kisflow/ports.ts';
import { MemoryRunLedger } from '../../../kisflow/runs/memory-run-ledger.ts';
import type { MisfireDecision } from '../../../kisflow/runs/misfire.ts';
import type { RunLedger } from '../../../kisflow/runs/run-ledger.ts';

function project(jobs: JobSpec[]): ProjectConfig {
  return {
    root: '/tmp',
    funcs: new Map(),
    flows: new Map([['f', { flowId: 'f', flowName: 'f', enabled: true, steps: [], tuning: {} as never }]]),
    conns: new Map(),
    jobs: new Map(jobs.map((j) => [j.jobId, j])),
    global: { prometheusEnable: false, prometheusListen: false, metricsNamespace: 'KisFlow' },
  } as ProjectConfig;
}

const hourly = (over: Partial<JobSpec> = {}): JobSpec => ({
  jobId: 'hourly',
  schedule: 'cron(0 * * * ? *)',
  timezone: 'UTC',
  flowId: 'f',
  enabled: true,
  params: {},
  ...over,
});

const H = 3_600_000;
const T9 = Date.UTC(2026, 11, 1, 9);
const settle = (ms = 80) => new Promise((r) => setTimeout(r, ms));

/** Completes the runs of these ticks, so that the job is free again (overlap is `serial`). */
async function finish(ledger: RunLedger, ticks: readonly StepBatch[]): Promise<void> {
  for (const t of ticks) await ledger.complete({ runId: t.runId, batchId: t.batchId, step: 0 });
}

/** A scheduler on an injected clock; `sent` gathers its ticks. */
function scheduled(ledger: RunLedger, clock: { ms: number }, job: JobSpec) {
  const sent: StepBatch[] = [];
  const missed: MisfireDecision[] = [];
  const scheduler = startScheduler({
    project: project([job]),
    ledger,
    now: () => clock.ms,
    checkMs: 10,
    send: async (_job, tick) => {
      sent.push(tick);
    },
    onMissed: (_job, decision) => missed.push(decision),
    onError: (err) => {
      throw err;
    },
  });
  return { scheduler, sent, missed };
}

describe('missedFires', () => {
  it('lists the fire times after the last one up to now, and past 1000 only the latest more', () => {
    const schedule = parseSchedule('rate(1 hour)');
    const last = new Date(T9);
    expect(missedFires(schedule, last, new Date(T9 + 3.5 * H), last)).toEqual(
      [1, 2, 3].map((h) => new Date(T9 + h * H)),
    );
    expect(missedFires(schedule, last, new Date(T9 + H), last)).toEqual([new Date(T9 + H)]);
    expect(missedFires(schedule, last, new Date(T9 + H - 1), last)).toEqual([]);
    const minutely = parseSchedule('cron(* * * * ? *)');
    const year = missedFires(minutely, last, new Date(T9 + 365 * 24 * H), last);
    expect(year).toHaveLength(1001);
    expect(year.at(-1)).toEqual(new Date(T9 + 365 * 24 * H));
  });
});

describe('the local scheduler: misfire after a restart', () => {
  it('skip: the fires missed while stopped start nothing; the next one fires on time', async () => {
    const ledger = new MemoryRunLedger();
    await ledger.noteFire('hourly', T9);
    const clock = { ms: T9 + 3.5 * H };
    const { scheduler, sent, missed } = scheduled(ledger, clock, hourly({ misfire: 'skip' }));
    await scheduler.ready;
    await settle();
    expect(sent).toEqual([]);
    expect(missed).toEqual([{ fire: false, missed: 3 }]);
    clock.ms = T9 + 4 * H + 1000;
    await settle();
    await scheduler.stop();
    expect(sent).toHaveLength(1);
    const run = await ledger.get(sent[0]?.runId as string);
    expect(run).toMatchObject({ trigger: 'schedule', scheduledAt: T9 + 4 * H });
  });

  it('fire_once_now: one misfire run for the latest missed fire, however many, even from two processes', async () => {
    const ledger = new MemoryRunLedger();
    await ledger.noteFire('hourly', T9);
    const clock = { ms: T9 + 3.5 * H };
    const job = hourly({ misfire: 'fire_once_now' });
    const a = scheduled(ledger, clock, job);
    const b = scheduled(ledger, clock, job);
    await Promise.all([a.scheduler.ready, b.scheduler.ready]);
    await settle();
    await Promise.all([a.scheduler.stop(), b.scheduler.stop()]);
    const runs = await ledger.list({ jobId: 'hourly', since: 0 });
    expect(runs.map((r) => [r.trigger, r.scheduledAt])).toEqual([['misfire', T9 + 3 * H]]);
    expect([...a.sent, ...b.sent].map((t) => t.runId)).toEqual([runs[0]?.id]);
    expect(a.missed).toEqual([{ fire: true, scheduledAt: new Date(T9 + 3 * H), missed: 3 }]);
    expect((await ledger.jobState('hourly')).lastFire).toBe(T9 + 3 * H);
  });

  it('a job that never fired has nothing missed; a wake-up hours late is a misfire, not a burst', async () => {
    const ledger = new MemoryRunLedger();
    const clock = { ms: T9 + 0.5 * H };
    const { scheduler, sent, missed } = scheduled(ledger, clock, hourly({ misfire: 'fire_once_now' }));
    await scheduler.ready;
    await settle();
    expect(sent).toEqual([]);
    // The machine slept from 9:30 to 13:10.
    clock.ms = T9 + 4 * H + 10 * 60_000;
    await settle();
    await scheduler.stop();
    expect(missed).toEqual([{ fire: true, scheduledAt: new Date(T9 + 4 * H), missed: 4 }]);
    expect(sent).toHaveLength(1);
    expect(await ledger.get(sent[0]?.runId as string)).toMatchObject({ trigger: 'misfire' });
  });
});

describe('the local scheduler: pause and resume', () => {
  for (const policy of ['skip', 'fire_once_now'] as const) {
    it(`a paused job does not fire; on resume, misfire ${policy} applies to what was due meanwhile`, async () => {
      const ledger = new MemoryRunLedger();
      const clock = { ms: T9 + 0.5 * H };
      const { scheduler, sent, missed } = scheduled(ledger, clock, hourly({ misfire: policy }));
      await scheduler.ready;
      clock.ms = T9 + H + 1000;
      await settle();
      expect(sent).toHaveLength(1); // 10:00, on time
      await finish(ledger, sent);
      await ledger.setJobState('hourly', 'paused', 'maintenance');
      await settle();
      clock.ms = T9 + 2 * H + 1000;
      await settle();
      clock.ms = T9 + 3 * H + 1000;
      await settle();
      expect(sent).toHaveLength(1);
      clock.ms = T9 + 3.5 * H;
      await ledger.setJobState('hourly', 'enabled');
      await settle();
      await finish(ledger, sent.slice(1));
      const runs = await ledger.list({ jobId: 'hourly', since: 0 });
      expect(missed).toEqual([
        policy === 'skip'
          ? { fire: false, missed: 2 }
          : { fire: true, scheduledAt: new Date(T9 + 3 * H), missed: 2 },
      ]);
      if (policy === 'skip') {
        expect(sent).toHaveLength(1);
        expect(runs.map((r) => r.trigger)).toEqual(['schedule']);
      } else {
        expect(sent).toHaveLength(2);
        expect(runs.map((r) => [r.trigger, r.scheduledAt])).toEqual([
          ['misfire', T9 + 3 * H],
          ['schedule', T9 + H],
        ]);
      }
      // Back on schedule.
      clock.ms = T9 + 4 * H + 1000;
      await settle();
      await scheduler.stop();
      expect((await ledger.list({ jobId: 'hourly', since: 0 }))[0]).toMatchObject({
        trigger: 'schedule',
        scheduledAt: T9 + 4 * H,
      });
    });
  }
});
