import { describe, expect, it } from 'vitest';
import type { JobSpec, ProjectConfig } from '../../../kisflow/config/model.ts';
import { startScheduler } from '../../../kisflow/local/scheduler.ts';
import type { StepBatch } from '../../../kisflow/ports.ts';
import type { FireOutcome } from '../../../kisflow/runs/fire-job.ts';
import { MemoryRunLedger } from '../../../kisflow/runs/memory-run-ledger.ts';

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

const job = (over: Partial<JobSpec>): JobSpec => ({
  jobId: 'nightly',
  schedule: 'rate(1 day)',
  timezone: 'UTC',
  flowId: 'f',
  enabled: true,
  params: {},
  ...over,
});

describe('the local scheduler with a run ledger', () => {
  it('fires through the ledger: shards become root batches of one run, overlap skips a held job', async () => {
    const at = new Date(Date.now() + 1200);
    at.setUTCMilliseconds(0);
    const stamp = at.toISOString().slice(0, 19);
    const ledger = new MemoryRunLedger();
    // Another run holds `held` when it fires.
    await ledger.start({
      runId: 'holder',
      flowId: 'f',
      jobId: 'held',
      trigger: 'manual',
      roots: 1,
      exclusive: true,
    });
    const sent: StepBatch[] = [];
    const outcomes: [string, FireOutcome['kind']][] = [];
    const scheduler = startScheduler({
      project: project([
        job({ jobId: 'sharded', schedule: `at(${stamp})`, shards: 4, params: { region: 'eu' } }),
        job({ jobId: 'held', schedule: `at(${stamp})`, overlap: 'discard_later' }),
      ]),
      ledger,
      send: async (_job, tick) => {
        sent.push(tick);
      },
      onOutcome: (j, outcome) => outcomes.push([j.jobId, outcome.kind]),
    });
    await new Promise((r) => setTimeout(r, at.getTime() - Date.now() + 300));
    await scheduler.stop();
    expect(outcomes.sort()).toEqual([
      ['held', 'skipped'],
      ['sharded', 'started'],
    ]);
    const runId = sent[0]?.runId as string;
    expect(sent.map((b) => [b.runId, b.meta.shard, b.meta.region])).toEqual(
      [0, 1, 2, 3].map((index) => [runId, { index, total: 4 }, 'eu']),
    );
    expect(new Set(sent.map((b) => b.batchId)).size).toBe(4);
    const run = await ledger.get(runId);
    expect(run).toMatchObject({
      jobId: 'sharded',
      trigger: 'schedule',
      status: 'running',
      batches: { roots: 4 },
    });
    for (const b of sent)
      await ledger.complete({ runId, batchId: b.batchId, step: 0, counters: { in: 1, out: 1 } });
    expect(await ledger.status(runId)).toBe('succeeded');
    expect((await ledger.list({ jobId: 'held' })).map((r) => r.status).sort()).toEqual([
      'running',
      'skipped',
    ]);
  });
});
