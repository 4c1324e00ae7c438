import { beforeEach, describe, expect, it } from 'vitest';
import { repairsOf, retryRun, retryRunId } from '../../../kisflow/runs/retry-run.ts';
import type { RunLedger } from '../../../kisflow/runs/run-ledger.ts';
import type { LedgerFactory } from './run-ledger-contract.ts';
import { TestClock } from './run-ledger-contract.ts';

/**
 * What `runs show` timings and `runs retry` need of a RunLedger, run against the memory ledger
 * (unit) and the DynamoDB ledger on dynalite (integration).
 */
export function repairContract(name: string, factory: LedgerFactory): void {
  describe(`RunLedger timings and repair: ${name}`, () => {
    let clock: TestClock;
    let ledger: RunLedger;
    beforeEach(async () => {
      clock = new TestClock();
      ledger = await factory(clock);
    });

    it('keeps per-step first/last batch time, total and p95 batch duration; a redelivery counts once', async () => {
      await ledger.start({ runId: 't1', flowId: 'F', trigger: 'manual', roots: 20 });
      const t0 = clock.ms;
      for (let i = 1; i <= 20; i++) {
        clock.ms = t0 + i * 1000;
        await ledger.complete({
          runId: 't1',
          batchId: `b${i}`,
          step: 0,
          fid: 'A',
          counters: { in: 1, out: 1 },
          durationMs: i * 10,
        });
      }
      // A redelivered batch, later and slower: no change.
      clock.ms = t0 + 99_000;
      await ledger.complete({
        runId: 't1',
        batchId: 'b20',
        step: 0,
        fid: 'A',
        counters: { in: 1 },
        durationMs: 5000,
      });
      const run = await ledger.get('t1');
      const timings = run?.steps[0]?.timings;
      expect(run?.status).toBe('succeeded');
      expect(timings).toMatchObject({
        batches: 20,
        totalMs: 2100,
        firstAt: t0 + 1000 - 10,
        lastAt: t0 + 20_000,
      });
      // The true p95 of 10..200 ms is 190: the histogram reads at most 9 % above it.
      expect(timings?.p95Ms).toBeGreaterThanOrEqual(190);
      expect(timings?.p95Ms).toBeLessThanOrEqual(190 * 1.0905);
      expect(run?.steps[0]?.in).toBe(20);
    });

    it('a retry run is linked to the run it repairs, counts what it announces, and resumes after a crash', async () => {
      await ledger.start({ runId: 'p', flowId: 'F', trigger: 'api', roots: 1, params: { day: 1 } });
      await ledger.complete({
        runId: 'p',
        batchId: 'pb',
        step: 0,
        fid: 'A',
        counters: { in: 3, out: 1, rejected: 2 },
      });
      expect((await ledger.get('p'))?.status).toBe('partial');
      let crash = true;
      const sent: string[] = [];
      // Two dead letters of one message each; the first pass dies after sending the first.
      const move = async (into: {
        runId: string;
        announce: (id: string, step: number, n: number) => Promise<void>;
      }) => {
        for (const letter of ['d1', 'd2']) {
          await into.announce(letter, 1, 1);
          sent.push(`${into.runId}/${letter}`);
          if (crash) {
            crash = false;
            throw new Error('killed between send and delete');
          }
        }
        return 2;
      };
      await expect(retryRun({ ledger, parentRunId: 'p', waiting: async () => 2, move })).rejects.toThrow(
        'killed',
      );
      const again = await retryRun({ ledger, parentRunId: 'p', waiting: async () => 2, move });
      expect(again.resumed).toBe(true);
      expect(again.run).toMatchObject({
        id: retryRunId('p', 1),
        trigger: 'retry',
        parentRunId: 'p',
        params: { day: 1 },
        status: 'running',
      });
      // The step processes each message once per batch id; d1's was sent twice under the same id.
      await ledger.complete({
        runId: again.run.id,
        batchId: 'm-d1',
        step: 1,
        fid: 'B',
        counters: { in: 1, out: 1 },
      });
      await ledger.complete({
        runId: again.run.id,
        batchId: 'm-d1',
        step: 1,
        fid: 'B',
        counters: { in: 1, out: 1 },
      });
      expect((await ledger.get(again.run.id))?.status).toBe('running');
      await ledger.complete({
        runId: again.run.id,
        batchId: 'm-d2',
        step: 1,
        fid: 'B',
        counters: { in: 1, out: 1 },
      });
      const done = await ledger.get(again.run.id);
      expect(done?.status).toBe('succeeded');
      expect(done?.steps).toEqual([expect.objectContaining({ index: 1, fid: 'B', in: 2, out: 2 })]);
      expect((await repairsOf(ledger, 'p')).map((r) => r.id)).toEqual(['retry-1-p']);
      // Nothing left: a second retry starts nothing; with new dead letters it is retry-2.
      await expect(
        retryRun({ ledger, parentRunId: 'p', waiting: async () => 0, move }),
      ).rejects.toMatchObject({ code: 'NOTHING_TO_RETRY' });
      const second = await retryRun({
        ledger,
        parentRunId: 'p',
        waiting: async () => 1,
        move: async () => 0,
      });
      expect(second.run.id).toBe('retry-2-p');
      expect(second.run.status).toBe('succeeded');
    });

    it('refuses a run still running, and one it does not know', async () => {
      await ledger.start({ runId: 'live', flowId: 'F', trigger: 'api', roots: 1 });
      const move = async () => 0;
      await expect(
        retryRun({ ledger, parentRunId: 'live', waiting: async () => 1, move }),
      ).rejects.toMatchObject({ code: 'RUN_STILL_RUNNING' });
      await expect(
        retryRun({ ledger, parentRunId: 'nope', waiting: async () => 1, move }),
      ).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' });
    });
  });
}
