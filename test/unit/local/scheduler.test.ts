import { describe, expect, it } from 'vitest';
import type { JobSpec, ProjectConfig } from '../../../kisflow/config/model.ts';
import { ConfigError } from '../../../kisflow/errors.ts';
import { nextRuns, parseSchedule, startScheduler, tickBatch } from '../../../kisflow/local/scheduler.ts';
import type { StepBatch } from '../../../kisflow/ports.ts';

const iso = (ds: Date[]) => ds.map((d) => d.toISOString());
// 2026-01-01 is a Thursday.
const NEW_YEAR = new Date('2026-01-01T00:00:00Z');

describe('parseSchedule / nextRuns', () => {
  it('rate counts whole periods from the anchor, singular and plural units', () => {
    const s = parseSchedule('rate(5 minutes)');
    expect(s).toMatchObject({ kind: 'rate', everyMs: 300_000 });
    expect(iso(nextRuns(s, 3, new Date('2026-01-01T00:07:00Z'), NEW_YEAR))).toEqual([
      '2026-01-01T00:10:00.000Z',
      '2026-01-01T00:15:00.000Z',
      '2026-01-01T00:20:00.000Z',
    ]);
    expect(parseSchedule('rate(1 hour)')).toMatchObject({ everyMs: 3_600_000 });
    expect(parseSchedule('rate(2 days)')).toMatchObject({ everyMs: 172_800_000 });
    // Exactly on a period boundary: the next firing is the following one.
    expect(
      iso(nextRuns(parseSchedule('rate(1 day)'), 1, new Date('2026-01-02T00:00:00Z'), NEW_YEAR)),
    ).toEqual(['2026-01-03T00:00:00.000Z']);
  });

  it('cron: AWS week-day numbering (1 = Sunday), names, ranges, ?', () => {
    expect(iso(nextRuns(parseSchedule('cron(0 12 ? * 2 *)'), 2, NEW_YEAR))).toEqual([
      '2026-01-05T12:00:00.000Z', // Monday
      '2026-01-12T12:00:00.000Z',
    ]);
    expect(iso(nextRuns(parseSchedule('cron(30 8 ? * MON-FRI *)'), 3, NEW_YEAR))).toEqual([
      '2026-01-01T08:30:00.000Z',
      '2026-01-02T08:30:00.000Z',
      '2026-01-05T08:30:00.000Z',
    ]);
    expect(iso(nextRuns(parseSchedule('cron(0 0 15 * ? *)'), 2, NEW_YEAR))).toEqual([
      '2026-01-15T00:00:00.000Z',
      '2026-02-15T00:00:00.000Z',
    ]);
  });

  it('cron: steps written AWS-style (0/15), L, W and #', () => {
    expect(iso(nextRuns(parseSchedule('cron(0/15 * * * ? *)'), 3, NEW_YEAR))).toEqual([
      '2026-01-01T00:15:00.000Z',
      '2026-01-01T00:30:00.000Z',
      '2026-01-01T00:45:00.000Z',
    ]);
    expect(iso(nextRuns(parseSchedule('cron(0 12 L * ? *)'), 2, NEW_YEAR))).toEqual([
      '2026-01-31T12:00:00.000Z',
      '2026-02-28T12:00:00.000Z',
    ]);
    // The last Friday (6 = FRI in AWS numbering).
    expect(iso(nextRuns(parseSchedule('cron(0 12 ? * 6L *)'), 2, NEW_YEAR))).toEqual([
      '2026-01-30T12:00:00.000Z',
      '2026-02-27T12:00:00.000Z',
    ]);
    // The second Tuesday.
    expect(iso(nextRuns(parseSchedule('cron(0 12 ? * 3#2 *)'), 1, NEW_YEAR))).toEqual([
      '2026-01-13T12:00:00.000Z',
    ]);
    // The weekday nearest the 15th: 2026-02-15 is a Sunday.
    expect(iso(nextRuns(parseSchedule('cron(0 12 15W * ? *)'), 2, new Date('2026-02-01T00:00:00Z')))).toEqual(
      ['2026-02-16T12:00:00.000Z', '2026-03-16T12:00:00.000Z'],
    );
  });

  it('cron: the year field is honoured, not dropped', () => {
    expect(iso(nextRuns(parseSchedule('cron(0 8 1 1 ? 2028)'), 3, NEW_YEAR))).toEqual([
      '2028-01-01T08:00:00.000Z',
    ]);
    expect(nextRuns(parseSchedule('cron(0 8 * * ? 2025)'), 1, NEW_YEAR)).toEqual([]);
  });

  it('cron: in the job time zone, across a DST change', () => {
    const s = parseSchedule('cron(0 10 ? * 2 *)', 'America/New_York');
    expect(iso(nextRuns(s, 1, NEW_YEAR))).toEqual(['2026-01-05T15:00:00.000Z']); // EST, UTC-5
    // US DST starts 2026-03-08: the Monday after is 10:00 EDT = 14:00 UTC.
    expect(iso(nextRuns(s, 2, new Date('2026-03-01T00:00:00Z')))).toEqual([
      '2026-03-02T15:00:00.000Z',
      '2026-03-09T14:00:00.000Z',
    ]);
  });

  it('at: once, in the job time zone; nothing when past', () => {
    const s = parseSchedule('at(2026-03-01T08:00:00)', 'Asia/Shanghai');
    expect(iso(nextRuns(s, 5, NEW_YEAR))).toEqual(['2026-03-01T00:00:00.000Z']);
    expect(nextRuns(s, 5, new Date('2026-03-01T00:00:00Z'))).toEqual([]);
  });

  it('rejects what EventBridge Scheduler rejects, saying what is allowed', () => {
    for (const bad of [
      'every 5 minutes',
      'rate(0 minutes)',
      'rate(5 weeks)',
      'cron(0 8 * * * *)',
      'cron(0 8 * *)',
      'at(2026-02-30T00:00:00)',
    ]) {
      expect(() => parseSchedule(bad), bad).toThrow(ConfigError);
    }
    expect(() => parseSchedule('rate(5 minutes)', 'Mars/Olympus')).toThrow(/time zone/);
  });
});

function project(jobs: JobSpec[], flowEnabled = true): ProjectConfig {
  return {
    root: '/tmp',
    funcs: new Map(),
    flows: new Map([
      ['f', { flowId: 'f', flowName: 'f', enabled: flowEnabled, steps: [], tuning: {} as never }],
    ]),
    conns: new Map(),
    jobs: new Map(jobs.map((j) => [j.jobId, j])),
    global: { prometheusEnable: false, prometheusListen: false, metricsNamespace: 'KisFlow' },
  } as ProjectConfig;
}

const job = (over: Partial<JobSpec>): JobSpec => ({
  jobId: 'nightly',
  schedule: 'rate(1 day)',
  timezone: 'UTC',
  flowId: 'f',
  enabled: true,
  params: {},
  ...over,
});

describe('tickBatch', () => {
  it('default row, job params as meta, ids derived from the job and the time as EventBridge Scheduler writes them', () => {
    const at = new Date('2026-01-01T08:00:00Z');
    const tick = tickBatch(job({ params: { region: 'eu' } }), at);
    expect(tick).toEqual({
      flowId: 'f',
      step: 0,
      runId: 'nightly',
      batchId: 'nightly@2026-01-01T08:00:00Z',
      rows: [{ job_id: 'nightly', scheduled_at: '2026-01-01T08:00:00Z' }],
      meta: { region: 'eu' },
    });
    expect(tickBatch(job({ rows: [{ a: 1 }] }), at).rows).toEqual([{ a: 1 }]);
  });
});

describe('startScheduler', () => {
  it('fires a job on time with its tick; lists next runs', async () => {
    const at = new Date(Date.now() + 1200);
    at.setUTCMilliseconds(0);
    const stamp = at.toISOString().slice(0, 19);
    const sent: StepBatch[] = [];
    const scheduler = startScheduler({
      project: project([job({ jobId: 'once', schedule: `at(${stamp})` }), job({ jobId: 'daily' })]),
      send: async (_job, tick) => {
        sent.push(tick);
      },
    });
    expect(iso(scheduler.nextRuns('once', 3))).toEqual([at.toISOString()]);
    expect(scheduler.nextRuns('daily', 2)).toHaveLength(2);
    expect(() => scheduler.nextRuns('nope', 1)).toThrow(/no running job 'nope'/);
    await new Promise((r) => setTimeout(r, at.getTime() - Date.now() + 300));
    expect(sent.map((t) => t.rows[0])).toEqual([
      { job_id: 'once', scheduled_at: at.toISOString().replace('.000Z', 'Z') },
    ]);
    await scheduler.stop();
  });

  it('skips jobs of disabled flows and disabled jobs; reports every bad schedule at once', async () => {
    const s = startScheduler({ project: project([job({})], false), send: async () => {} });
    expect(() => s.nextRuns('nightly', 1)).toThrow(ConfigError);
    await s.stop();
    expect(() =>
      startScheduler({
        project: project([
          job({ jobId: 'a', schedule: 'rate(x)' }),
          job({ jobId: 'b', schedule: 'cron(1)' }),
        ]),
        send: async () => {},
      }),
    ).toThrow(/2 configuration problems[\s\S]*job 'a'[\s\S]*job 'b'/);
  });
});
