import { beforeEach, describe, expect, it } from 'vitest';
import type { JobSpec } from '../../../kisflow/config/model.ts';
import { fireJob, startQueued } from '../../../kisflow/runs/fire-job.ts';
import { decideMisfire, lastFireAt } from '../../../kisflow/runs/misfire.ts';
import type { RunLedger, RunStart } from '../../../kisflow/runs/run-ledger.ts';

/** A clock the suite moves by hand; ledgers read it through their `now` option. */
export class TestClock {
  constructor(public ms = Date.UTC(2026, 11, 1, 10, 0, 0)) {}
  readonly now = () => this.ms;
}

export type LedgerFactory = (clock: TestClock) => Promise<RunLedger>;

const job = (over: Partial<JobSpec> = {}): JobSpec => ({
  jobId: 'Nightly',
  schedule: 'rate(1 hour)',
  timezone: 'UTC',
  flowId: 'Orders',
  enabled: true,
  params: { region: 'eu' },
  ...over,
});
const nine = new Date(Date.UTC(2026, 11, 1, 9));
const ten = new Date(Date.UTC(2026, 11, 1, 10));

const run = (runId: string, more: Partial<RunStart> = {}): RunStart => ({
  runId,
  flowId: 'Orders',
  trigger: 'manual',
  roots: 1,
  ...more,
});

/**
 * The behaviour every RunLedger must have, run against the memory ledger (unit) and the
 * DynamoDB ledger on dynalite (integration).
 */
export function runLedgerContract(name: string, factory: LedgerFactory): void {
  describe(`RunLedger contract: ${name}`, () => {
    let clock: TestClock;
    let ledger: RunLedger;
    beforeEach(async () => {
      clock = new TestClock();
      ledger = await factory(clock);
    });

    it('starts a run once: a redelivered fire finds it', async () => {
      const started = await ledger.start(run('r1', { params: { day: '2026-12-01' }, jobId: 'Nightly' }));
      expect(started.kind).toBe('started');
      const again = await ledger.start(run('r1'));
      expect(again.kind).toBe('exists');
      const got = await ledger.get('r1');
      expect(got).toMatchObject({
        id: 'r1',
        flowId: 'Orders',
        jobId: 'Nightly',
        trigger: 'manual',
        status: 'running',
        params: { day: '2026-12-01' },
        started: clock.ms,
      });
      expect(await ledger.get('nope')).toBeUndefined();
      expect(await ledger.status('r1')).toBe('running');
      expect(await ledger.status('nope')).toBeUndefined();
    });

    it('finishes a chain exactly when its last batch is done, with per-step counters', async () => {
      await ledger.start(run('r1'));
      clock.ms += 1000;
      const first = await ledger.complete({
        runId: 'r1',
        batchId: 'b0',
        step: 0,
        fid: 'Verify',
        counters: { in: 10, out: 8, rejected: 2 },
        children: 1,
      });
      expect(first).toEqual({});
      expect((await ledger.get('r1'))?.status).toBe('running');
      clock.ms += 1000;
      const last = await ledger.complete({
        runId: 'r1',
        batchId: 'b1',
        step: 1,
        fid: 'Save',
        counters: { in: 8, out: 8 },
      });
      expect(last).toEqual({ finished: 'partial' });
      const got = await ledger.get('r1');
      expect(got?.status).toBe('partial');
      expect(got?.finished).toBe(clock.ms);
      expect(got?.batches).toEqual({ roots: 1, spawned: 1, done: 2, deadLettered: 0 });
      expect(got?.steps).toEqual([
        { index: 0, fid: 'Verify', in: 10, out: 8, rejected: 2, dropped: 0, deadLettered: 0, errors: 0 },
        { index: 1, fid: 'Save', in: 8, out: 8, rejected: 0, dropped: 0, deadLettered: 0, errors: 0 },
      ]);
    });

    it('counts a redelivered batch once', async () => {
      await ledger.start(run('r1', { roots: 2 }));
      const batch = { runId: 'r1', batchId: 'b0', step: 0, counters: { in: 5, out: 5 } };
      expect(await ledger.complete(batch)).toEqual({});
      expect(await ledger.complete(batch)).toEqual({});
      expect(await ledger.complete(batch)).toEqual({});
      const got = await ledger.get('r1');
      expect(got?.status).toBe('running');
      expect(got?.batches.done).toBe(1);
      expect(got?.steps[0]?.in).toBe(5);
      expect(await ledger.complete({ ...batch, batchId: 'b1' })).toEqual({ finished: 'succeeded' });
      expect((await ledger.get('r1'))?.steps[0]?.in).toBe(10);
    });

    it('Expand fan-out: 60 children completed concurrently, with redeliveries, finish the run once', async () => {
      await ledger.start(run('fan'));
      await ledger.complete({
        runId: 'fan',
        batchId: 'root',
        step: 0,
        counters: { in: 1, out: 60 },
        children: 60,
      });
      const children = Array.from({ length: 60 }, (_, i) => ({
        runId: 'fan',
        batchId: `c${i}`,
        step: 1,
        counters: { in: 1, out: 1 },
      }));
      // Every third child is delivered twice, concurrently with the rest.
      const deliveries = [...children, ...children.filter((_, i) => i % 3 === 0)];
      const results = await Promise.all(deliveries.map((c) => ledger.complete(c)));
      expect(results.filter((r) => r.finished !== undefined)).toEqual([{ finished: 'succeeded' }]);
      const got = await ledger.get('fan');
      expect(got?.status).toBe('succeeded');
      expect(got?.batches).toEqual({ roots: 1, spawned: 60, done: 61, deadLettered: 0 });
      expect(got?.steps[1]?.in).toBe(60);
    });

    it('fan-outs carried in every chain through them (two levels, any order, one repeated) finish once, exactly', async () => {
      await ledger.start(run('carry'));
      // root → 3 parts; part p1 → 2 parts. Each leaf's chain carries its whole lineage.
      const root = { batchId: 'root', step: 0, counters: { in: 9, out: 9 }, children: 3 };
      const p = (i: number) => ({ batchId: `p${i}`, step: 1, counters: { in: 3, out: 3 }, children: 1 });
      const p1 = { ...p(1), children: 2 };
      const leaf = (id: string) => ({ batchId: id, step: 2, counters: { in: 1, out: 1 } });
      const chains = [
        [root, p1, leaf('l1.1')],
        [root, p(2), leaf('l2')],
        [root, p1, leaf('l1.0')],
        [root, p(2), leaf('l2')],
        [root, p(0), leaf('l0')],
      ].map((chain) => chain.map((c) => ({ ...c, runId: 'carry' })));
      const results = [];
      for (const chain of chains.slice(0, 3)) results.push(await ledger.completeMany(chain));
      expect((await ledger.get('carry'))?.status).toBe('running');
      results.push(...(await Promise.all(chains.slice(3).map((chain) => ledger.completeMany(chain)))));
      expect(results.filter((r) => r.finished !== undefined)).toEqual([{ finished: 'succeeded' }]);
      const got = await ledger.get('carry');
      expect(got?.status).toBe('succeeded');
      expect(got?.batches).toEqual({ roots: 1, spawned: 7, done: 8, deadLettered: 0 });
      expect(got?.steps.map((s) => [s.index, s.in])).toEqual([
        [0, 9],
        [1, 9],
        [2, 4],
      ]);
    });

    it('a crash between a batch and its children: the redelivered parent counts nothing twice', async () => {
      await ledger.start(run('r1'));
      // The parent's completion is recorded, then the process dies before its children are sent.
      await ledger.complete({ runId: 'r1', batchId: 'p', step: 0, counters: { in: 4, out: 4 }, children: 2 });
      expect((await ledger.get('r1'))?.status).toBe('running');
      // Redelivered: the same completion again (a no-op), then the same two children.
      expect(
        await ledger.complete({
          runId: 'r1',
          batchId: 'p',
          step: 0,
          counters: { in: 4, out: 4 },
          children: 2,
        }),
      ).toEqual({});
      await ledger.complete({ runId: 'r1', batchId: 'k0', step: 1, counters: { in: 2, out: 2 } });
      expect((await ledger.get('r1'))?.status).toBe('running');
      await ledger.complete({ runId: 'r1', batchId: 'k1', step: 1, counters: { in: 2, out: 2 } });
      const got = await ledger.get('r1');
      expect(got?.status).toBe('succeeded');
      expect(got?.steps[0]?.in).toBe(4);
      expect(got?.batches).toEqual({ roots: 1, spawned: 2, done: 3, deadLettered: 0 });
    });

    it('sharding: 4 root batches complete one run', async () => {
      await ledger.start(run('sh', { roots: 4 }));
      for (let i = 0; i < 3; i++) {
        await ledger.complete({ runId: 'sh', batchId: `shard-${i}`, step: 0, counters: { in: 1, out: 1 } });
      }
      expect((await ledger.get('sh'))?.status).toBe('running');
      const last = await ledger.complete({
        runId: 'sh',
        batchId: 'shard-3',
        step: 0,
        counters: { in: 1, out: 1 },
      });
      expect(last.finished).toBe('succeeded');
    });

    it('dead-lettered batches end a run partial, or failed when nothing got through', async () => {
      await ledger.start(run('some', { roots: 2 }));
      await ledger.complete({ runId: 'some', batchId: 'ok', step: 0, counters: { in: 3, out: 3 } });
      const dl = await ledger.complete({
        runId: 'some',
        batchId: 'bad',
        step: 0,
        counters: { in: 3, deadLettered: 3 },
        outcome: 'dead_lettered',
      });
      expect(dl.finished).toBe('partial');
      expect((await ledger.get('some'))?.batches.deadLettered).toBe(1);

      await ledger.start(run('none'));
      const all = await ledger.complete({
        runId: 'none',
        batchId: 'bad',
        step: 0,
        counters: { in: 3, errors: 3, deadLettered: 3 },
        outcome: 'dead_lettered',
      });
      expect(all.finished).toBe('failed');
    });

    it('a run with no root batch succeeds at once', async () => {
      const started = await ledger.start(run('empty', { roots: 0 }));
      expect(started.kind).toBe('started');
      expect((await ledger.get('empty'))?.status).toBe('succeeded');
    });

    it('cancel: once, with its reason; later batches are counted but change no status', async () => {
      await ledger.start(run('r1', { roots: 1 }));
      clock.ms += 5000;
      expect(await ledger.cancel('r1', 'by alice')).toBe(true);
      expect(await ledger.cancel('r1')).toBe(false);
      expect(await ledger.cancel('unknown')).toBe(false);
      await ledger.complete({ runId: 'r1', batchId: 'b0', step: 0, counters: { in: 1, out: 1 } });
      const got = await ledger.get('r1');
      expect(got).toMatchObject({ status: 'cancelled', reason: 'by alice', finished: clock.ms });
      expect(await ledger.status('r1')).toBe('cancelled');
      expect(got?.steps[0]?.in).toBe(1);
    });

    it('timeout: the sweep marks a run with no progress past its timeout, once', async () => {
      await ledger.start(run('slow', { roots: 2, timeoutMs: 1000 }));
      await ledger.start(run('untimed', { roots: 2 }));
      clock.ms += 900;
      await ledger.complete({ runId: 'slow', batchId: 'b0', step: 0, counters: { in: 1, out: 1 } });
      clock.ms += 900; // 900 ms since the last progress
      expect(await ledger.sweep()).toEqual([]);
      clock.ms += 200;
      expect(await ledger.sweep()).toEqual(['slow']);
      expect(await ledger.sweep()).toEqual([]);
      const got = await ledger.get('slow');
      expect(got?.status).toBe('timed_out');
      expect(got?.reason).toMatch(/timeout/);
      expect((await ledger.get('untimed'))?.status).toBe('running');
      // A straggler after the timeout is counted but the status stays.
      expect((await ledger.complete({ runId: 'slow', batchId: 'b1', step: 0 })).finished).toBeUndefined();
      expect((await ledger.get('slow'))?.status).toBe('timed_out');
    });

    it('exclusive runs of a job: a second start is blocked until the first ends', async () => {
      expect((await ledger.start(run('a', { jobId: 'J', exclusive: true }))).kind).toBe('started');
      expect(await ledger.start(run('b', { jobId: 'J', exclusive: true }))).toEqual({
        kind: 'blocked',
        holder: 'a',
      });
      expect((await ledger.start(run('other', { jobId: 'K', exclusive: true }))).kind).toBe('started');
      await ledger.complete({ runId: 'a', batchId: 'x', step: 0 });
      expect((await ledger.start(run('b', { jobId: 'J', exclusive: true }))).kind).toBe('started');
      expect(await ledger.cancel('b')).toBe(true);
      expect((await ledger.start(run('c', { jobId: 'J', exclusive: true }))).kind).toBe('started');
    });

    it('concurrent exclusive starts: exactly one wins', async () => {
      const starts = await Promise.all(
        ['p', 'q', 'r', 's'].map((id) => ledger.start(run(id, { jobId: 'J', exclusive: true }))),
      );
      expect(starts.filter((s) => s.kind === 'started')).toHaveLength(1);
      expect(starts.filter((s) => s.kind === 'blocked')).toHaveLength(3);
    });

    it('records a skipped fire', async () => {
      const skipped = await ledger.skip(run('s1', { jobId: 'J', trigger: 'schedule' }), 'r0 still running');
      expect(skipped).toMatchObject({ id: 's1', status: 'skipped', reason: 'r0 still running', jobId: 'J' });
      expect((await ledger.get('s1'))?.status).toBe('skipped');
    });

    it('lists runs newest first, by flow, job, status, trigger and time', async () => {
      await ledger.start(run('old', { jobId: 'J', trigger: 'schedule' }));
      clock.ms += 86_400_000; // the next day
      await ledger.start(run('mid', { flowId: 'Payments' }));
      clock.ms += 60_000;
      await ledger.start(run('new', { jobId: 'J', trigger: 'schedule', roots: 0 }));
      const ids = async (q: Parameters<RunLedger['list']>[0]) => (await ledger.list(q)).map((r) => r.id);
      expect(await ids({})).toEqual(['new', 'mid', 'old']);
      expect(await ids({ flowId: 'Orders' })).toEqual(['new', 'old']);
      expect(await ids({ jobId: 'J', status: 'running' })).toEqual(['old']);
      expect(await ids({ status: 'succeeded' })).toEqual(['new']);
      expect(await ids({ trigger: 'manual' })).toEqual(['mid']);
      expect(await ids({ since: clock.ms - 3_600_000 })).toEqual(['new', 'mid']);
      expect(await ids({ until: clock.ms })).toEqual(['mid', 'old']);
      expect(await ids({ limit: 1 })).toEqual(['new']);
    });

    it('sums the usage of every batch', async () => {
      await ledger.start(run('u', { roots: 2 }));
      const usage = { sqsRequests: 3, lambdaInvocations: 1, lambdaGbSeconds: 0.25, dynamodbWriteUnits: 10 };
      await ledger.complete({ runId: 'u', batchId: 'a', step: 0, usage });
      await ledger.complete({ runId: 'u', batchId: 'a', step: 0, usage });
      await ledger.complete({ runId: 'u', batchId: 'b', step: 0, usage: { ...usage, dynamodbReadUnits: 2 } });
      const got = (await ledger.get('u'))?.usage;
      expect(got).toMatchObject({
        sqsRequests: 6,
        lambdaInvocations: 2,
        lambdaGbSeconds: 0.5,
        dynamodbReadUnits: 2,
      });
      // A ledger may add what its own writes cost (the DynamoDB one does).
      expect(got?.dynamodbWriteUnits).toBeGreaterThanOrEqual(20);
    });

    it('streams: per-minute and per-hour buckets per step, idempotent per batch id', async () => {
      const t0 = Date.UTC(2026, 11, 1, 10, 0, 0);
      const batch = (batchId: string, at: number, step = 0) => ({
        flowId: 'Clicks',
        batchId,
        step,
        at,
        counters: { in: 10, out: 9, rejected: 1 },
      });
      await ledger.recordStream(batch('a', t0 + 1_000));
      await ledger.recordStream(batch('b', t0 + 59_000));
      await ledger.recordStream(batch('c', t0 + 61_000));
      await ledger.recordStream(batch('d', t0 + 3_600_000));
      await ledger.recordStream(batch('a', t0 + 1_000, 1));
      // Redelivered later, twice, once concurrently with a new batch: its bucket comes from `at`,
      // so it is recognised and counted once (the first minute's step 0 stays at 2 batches).
      clock.ms += 600_000;
      await ledger.recordStream(batch('a', t0 + 1_000));
      await Promise.all([
        ledger.recordStream(batch('a', t0 + 1_000)),
        ledger.recordStream(batch('e', t0 + 62_000)),
      ]);
      await ledger.recordStream({ ...batch('a', t0), flowId: 'Other' });
      const minutes = await ledger.streamBuckets({
        flowId: 'Clicks',
        granularity: 'minute',
        since: t0,
        until: t0 + 3_600_000,
      });
      expect(minutes.map((m) => [m.start - t0, m.step, m.batches, m.in, m.out, m.rejected])).toEqual([
        [0, 0, 2, 20, 18, 2],
        [0, 1, 1, 10, 9, 1],
        [60_000, 0, 2, 20, 18, 2],
      ]);
      const hours = await ledger.streamBuckets({
        flowId: 'Clicks',
        granularity: 'hour',
        since: t0,
        until: t0 + 7_200_000,
      });
      expect(hours.map((h) => [h.start - t0, h.step, h.batches, h.in])).toEqual([
        [0, 0, 4, 40],
        [0, 1, 1, 10],
        [3_600_000, 0, 1, 10],
      ]);
    });

    it('queues fires oldest first, once each; two takers never get the same one', async () => {
      await ledger.enqueue(run('late', { jobId: 'J' }), 2000);
      await ledger.enqueue(run('early', { jobId: 'J' }), 1000);
      await ledger.enqueue(run('early', { jobId: 'J' }), 1000);
      await ledger.enqueue(run('elsewhere', { jobId: 'K' }), 500);
      const taken = await Promise.all([ledger.dequeue('J'), ledger.dequeue('J'), ledger.dequeue('J')]);
      expect(taken.map((t) => t?.runId).sort()).toEqual(['early', 'late', undefined].sort());
      expect((await ledger.dequeue('K'))?.runId).toBe('elsewhere');
    });

    it('fireJob: a fire seen twice starts one run', async () => {
      const first = await fireJob(ledger, { job: job(), scheduledAt: nine, trigger: 'schedule' });
      expect(first.kind).toBe('started');
      expect((await fireJob(ledger, { job: job(), scheduledAt: nine, trigger: 'schedule' })).kind).toBe(
        'duplicate',
      );
    });

    it('fireJob, overlap discard_later: the later fire is recorded as skipped', async () => {
      const j = job({ overlap: 'discard_later' });
      const first = await fireJob(ledger, { job: j, scheduledAt: nine, trigger: 'schedule' });
      const second = await fireJob(ledger, { job: j, scheduledAt: ten, trigger: 'schedule' });
      expect(second.kind).toBe('skipped');
      const skipped = second.kind === 'skipped' ? second.run : undefined;
      expect(skipped?.reason).toMatch(/still running/);
      expect((await ledger.list({ jobId: 'Nightly' })).map((r) => r.status).sort()).toEqual([
        'running',
        'skipped',
      ]);
      expect(first.kind === 'started' && (await ledger.get(first.run.id))?.status).toBe('running');
    });

    it('fireJob, overlap serial: the later fire waits for the running one, then starts', async () => {
      const j = job({ overlap: 'serial' });
      const first = await fireJob(ledger, { job: j, scheduledAt: nine, trigger: 'schedule' });
      const second = await fireJob(ledger, { job: j, scheduledAt: ten, trigger: 'schedule' });
      expect(second).toMatchObject({ kind: 'queued', behind: first.kind === 'started' ? first.run.id : '' });
      expect(await startQueued(ledger, j)).toBeUndefined(); // still held: back in the queue
      if (first.kind !== 'started') throw new Error('first fire did not start');
      await ledger.complete({ runId: first.run.id, batchId: first.run.id, step: 0 });
      const next = await startQueued(ledger, j);
      expect(next?.run).toMatchObject({ status: 'running', trigger: 'schedule', params: { region: 'eu' } });
      expect(next?.ticks[0]?.rows).toEqual([
        { job_id: 'Nightly', scheduled_at: ten.toISOString().replace('.000Z', 'Z') },
      ]);
      expect(await startQueued(ledger, j)).toBeUndefined();
    });

    it('fireJob, overlap cover_early: the running run is cancelled and the new one starts', async () => {
      const j = job({ overlap: 'cover_early' });
      const first = await fireJob(ledger, { job: j, scheduledAt: nine, trigger: 'schedule' });
      const second = await fireJob(ledger, { job: j, scheduledAt: ten, trigger: 'schedule' });
      if (first.kind !== 'started' || second.kind !== 'started') throw new Error('expected two starts');
      expect(second.covered).toBe(first.run.id);
      expect(await ledger.get(first.run.id)).toMatchObject({
        status: 'cancelled',
        reason: expect.stringMatching(/cover_early/),
      });
      expect((await ledger.get(second.run.id))?.status).toBe('running');
    });

    it('fireJob, shards: 4: four tick batches, the run completes when all four have', async () => {
      const fired = await fireJob(ledger, {
        job: job({ shards: 4, timeoutSeconds: 60 }),
        scheduledAt: nine,
        trigger: 'manual',
        params: { day: 'today' },
        runId: 'manual-1',
      });
      if (fired.kind !== 'started') throw new Error('not started');
      expect(fired.run).toMatchObject({
        id: 'manual-1',
        timeoutMs: 60_000,
        params: { region: 'eu', day: 'today' },
      });
      expect(fired.ticks.map((t) => t.meta.shard)).toEqual(
        [0, 1, 2, 3].map((index) => ({ index, total: 4 })),
      );
      expect(new Set(fired.ticks.map((t) => t.batchId)).size).toBe(4);
      const done = await Promise.all(
        fired.ticks.map((t) =>
          ledger.complete({ runId: 'manual-1', batchId: t.batchId, step: 0, counters: { in: 1, out: 1 } }),
        ),
      );
      expect(done.filter((d) => d.finished)).toEqual([{ finished: 'succeeded' }]);
    });

    it('misfire after a restart: fire_once_now starts one run for the latest missed fire, once', async () => {
      const j = job({ misfire: 'fire_once_now', overlap: 'discard_later' });
      expect(await lastFireAt(ledger, 'Nightly')).toBeUndefined();
      const first = await fireJob(ledger, { job: j, scheduledAt: nine, trigger: 'schedule' });
      await fireJob(ledger, { job: j, scheduledAt: ten, trigger: 'schedule' }); // skipped: still counts as handled
      if (first.kind !== 'started') throw new Error('not started');
      await ledger.complete({ runId: first.run.id, batchId: first.run.id, step: 0 });
      // Stopped until 13:30: the hourly fires of 11, 12 and 13 were missed.
      const last = (await lastFireAt(ledger, 'Nightly')) as Date;
      expect(last).toEqual(ten);
      const missed = [1, 2, 3].map((h) => new Date(last.getTime() + h * 3_600_000));
      const decision = decideMisfire(j.misfire ?? 'skip', missed);
      if (!decision.fire) throw new Error('expected a fire');
      const fire = { job: j, scheduledAt: decision.scheduledAt, trigger: 'misfire' as const };
      const [a, b] = await Promise.all([fireJob(ledger, fire), fireJob(ledger, fire)]);
      expect([a.kind, b.kind].sort()).toEqual(['duplicate', 'started']);
      const started = a.kind === 'started' ? a.run : b.kind === 'started' ? b.run : undefined;
      expect(started).toMatchObject({ trigger: 'misfire', scheduledAt: Date.UTC(2026, 11, 1, 13) });
      expect(await lastFireAt(ledger, 'Nightly')).toEqual(new Date(Date.UTC(2026, 11, 1, 13)));
    });
    // Job state: pause/resume and the last fire.
    it('keeps a job paused or enabled with its reason, for every process that asks', async () => {
      expect(await ledger.jobState('Nightly')).toEqual({ jobId: 'Nightly', state: 'enabled' });
      const paused = await ledger.setJobState('Nightly', 'paused', 'supplier maintenance');
      expect(paused).toEqual({
        jobId: 'Nightly',
        state: 'paused',
        reason: 'supplier maintenance',
        changedAt: clock.ms,
      });
      expect(await ledger.jobState('Nightly')).toEqual(paused);
      expect(await ledger.jobState('Other')).toEqual({ jobId: 'Other', state: 'enabled' });
      clock.ms += 60_000;
      await ledger.noteFire('Nightly', nine.getTime());
      const resumed = await ledger.setJobState('Nightly', 'enabled');
      // The old reason goes; the last fire stays.
      expect(resumed).toEqual({
        jobId: 'Nightly',
        state: 'enabled',
        changedAt: clock.ms,
        lastFire: nine.getTime(),
      });
      expect(await ledger.jobState('Nightly')).toEqual(resumed);
    });

    it('notes the last fire monotonically: an older fire handled late never moves it back', async () => {
      await ledger.noteFire('Nightly', ten.getTime());
      await ledger.noteFire('Nightly', nine.getTime());
      expect((await ledger.jobState('Nightly')).lastFire).toBe(ten.getTime());
      await Promise.all([
        ledger.noteFire('Nightly', ten.getTime() + 1),
        ledger.noteFire('Nightly', ten.getTime() + 2),
      ]);
      expect((await ledger.jobState('Nightly')).lastFire).toBe(ten.getTime() + 2);
    });

    it('a schedule fire for a paused job is recorded as skipped with the reason, and not as fired', async () => {
      const j = job();
      await ledger.setJobState('Nightly', 'paused', 'holiday');
      const outcome = await fireJob(ledger, { job: j, scheduledAt: ten, trigger: 'schedule' });
      expect(outcome.kind).toBe('skipped');
      expect(outcome.kind === 'skipped' && outcome.run).toMatchObject({
        status: 'skipped',
        reason: 'job paused: holiday',
        trigger: 'schedule',
        scheduledAt: ten.getTime(),
      });
      expect(await lastFireAt(ledger, 'Nightly')).toBeUndefined();
      // A manual trigger is the operator's own: it runs while paused.
      const manual = await fireJob(ledger, { job: j, scheduledAt: ten, trigger: 'manual', runId: 'm1' });
      expect(manual.kind).toBe('started');
      await ledger.setJobState('Nightly', 'enabled');
      const resumed = await fireJob(ledger, { job: j, scheduledAt: nine, trigger: 'schedule', runId: 's9' });
      expect(resumed.kind).not.toBe('skipped');
      expect(await lastFireAt(ledger, 'Nightly')).toEqual(nine);
    });

    it("a run's end is claimed once, held for its lease, taken again after it, and handled for good", async () => {
      await ledger.start(run('e1', { jobId: 'Nightly' }));
      expect(await ledger.claimEnd('e1', 60_000)).toEqual({ kind: 'not_ended' });
      expect(await ledger.claimEnd('nobody', 60_000)).toEqual({ kind: 'not_ended' });
      expect(await ledger.unhandledEnds()).toEqual([]);
      await ledger.complete({ runId: 'e1', batchId: 'e1', step: 0 });
      expect(await ledger.unhandledEnds()).toEqual(['e1']);
      const [a, b] = await Promise.all([ledger.claimEnd('e1', 60_000), ledger.claimEnd('e1', 60_000)]);
      expect([a.kind, b.kind].sort()).toEqual(['claimed', 'held']);
      const claimed = a.kind === 'claimed' ? a : b;
      expect(claimed).toMatchObject({ run: { id: 'e1', status: 'succeeded' } });
      // Held: the repair pass leaves it to its holder.
      expect(await ledger.unhandledEnds()).toEqual([]);
      // The holder died: after the lease the end is unhandled again, and claimable.
      clock.ms += 60_001;
      expect(await ledger.unhandledEnds()).toEqual(['e1']);
      expect((await ledger.claimEnd('e1', 60_000)).kind).toBe('claimed');
      await ledger.endHandled('e1');
      expect(await ledger.claimEnd('e1', 60_000)).toEqual({ kind: 'handled' });
      clock.ms += 120_000;
      expect(await ledger.unhandledEnds()).toEqual([]);
    });

    it('cancelled and timed-out runs wait for their end to be handled; skipped fires never do', async () => {
      await ledger.start(run('c1'));
      await ledger.start(run('t1', { timeoutMs: 1000 }));
      await ledger.skip(run('s1', { jobId: 'Nightly' }), 'still running');
      await ledger.cancel('c1', 'by hand');
      clock.ms += 1001;
      expect(await ledger.sweep()).toEqual(['t1']);
      expect((await ledger.unhandledEnds()).sort()).toEqual(['c1', 't1']);
      expect(await ledger.claimEnd('s1', 1000)).toEqual({ kind: 'handled' });
    });
  });
}
