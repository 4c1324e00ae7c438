import { describe, expect, it } from 'vitest';
import { runWindow } from '../../../kisflow/console/run-window.ts';
import { MemoryRunLedger } from '../../../kisflow/runs/memory-run-ledger.ts';

const DAY = 86_400_000;

describe('runWindow: the ledger with its recent runs in memory', () => {
  it('answers lists from memory once filled, and picks up new and finished runs at the next refresh', async () => {
    let now = 10 * DAY;
    const inner = new MemoryRunLedger({ now: () => now });
    await inner.start({ runId: 'a', flowId: 'F', trigger: 'manual', roots: 1 });
    let lists = 0;
    const counted = new Proxy(inner, {
      get(target, p) {
        if (p === 'list')
          return (q: never) => {
            lists++;
            return target.list(q);
          };
        const v = Reflect.get(target, p, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const ledger = runWindow(counted, { freshMs: 1_000, now: () => now });
    expect((await ledger.list({ since: now - DAY })).map((r) => r.status)).toEqual(['running']);
    expect(lists).toBe(1);

    now += 10;
    await inner.complete({ runId: 'a', batchId: 'b', step: 0, counters: { in: 1, out: 1 } });
    await inner.start({ runId: 'b', flowId: 'F', jobId: 'J', trigger: 'schedule', roots: 1 });
    // Within freshMs: memory only, the ledger is not asked.
    expect((await ledger.list({ since: now - DAY })).map((r) => r.id)).toEqual(['a']);
    expect(lists).toBe(1);

    now += 2_000;
    // Stale: this answer is memory while the refresh runs; the next one has its result.
    await ledger.list({ since: now - DAY });
    await new Promise((r) => setTimeout(r, 10));
    const after = await ledger.list({ since: now - DAY });
    expect(after.map((r) => [r.id, r.status])).toEqual([
      ['b', 'running'],
      ['a', 'succeeded'],
    ]);
    expect((await ledger.list({ since: now - DAY, jobId: 'J' })).map((r) => r.id)).toEqual(['b']);
  });

  it('sends a list reaching before the window, and every other operation, to the ledger itself', async () => {
    const now = 100 * DAY;
    const inner = new MemoryRunLedger({ now: () => now });
    const ledger = runWindow(inner, { windowMs: DAY, now: () => now });
    await ledger.start({ runId: 'x', flowId: 'F', trigger: 'api', roots: 0 });
    expect((await inner.get('x'))?.status).toBe('succeeded');
    expect((await ledger.list({ since: now - 5 * DAY })).map((r) => r.id)).toEqual(['x']);
    expect(await ledger.cancel('x')).toBe(false);
  });
});
