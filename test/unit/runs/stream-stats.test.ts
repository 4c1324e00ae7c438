import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  IteratorAges,
  readIteratorAges,
  writeIteratorAges,
} from '../../../kisflow/local/kinesis-iterator-age.ts';
import { MemoryRunLedger } from '../../../kisflow/runs/memory-run-ledger.ts';
import { lagText, streamStats, streamWindow } from '../../../kisflow/runs/stream-stats.ts';

const t0 = Date.parse('2026-12-03T12:00:00Z');

describe('stream stats', () => {
  it('rows per minute of the first step over the window, per-step sums beside it', async () => {
    const ledger = new MemoryRunLedger();
    const count = (batchId: string, step: number, at: number, n: number, rejected = 0) =>
      ledger.recordStream({
        flowId: 'F',
        batchId,
        step,
        at,
        counters: { in: n, out: n - rejected, rejected },
      });
    await count('old', 0, t0 - 20 * 60_000, 1000); // before the window
    await count('a', 0, t0 + 1_000, 20, 2);
    await count('b', 0, t0 + 14 * 60_000, 10);
    await count('a', 1, t0 + 1_000, 18);
    const window = streamWindow(t0 + 14 * 60_000 + 5_000, 15);
    expect(window).toEqual({ since: t0, until: t0 + 15 * 60_000 });
    const buckets = await ledger.streamBuckets({ flowId: 'F', granularity: 'minute', ...window });
    const stats = streamStats('F', 'kinesis', buckets, 15, null);
    expect(stats.rowsPerMinute).toBe(2);
    expect(stats.steps).toEqual([
      { step: 0, batches: 2, in: 30, out: 28, rejected: 2, deadLettered: 0 },
      { step: 1, batches: 1, in: 18, out: 18, rejected: 0, deadLettered: 0 },
    ]);
  });

  it('reads back the iterator ages dev publishes, the maximum over shards per flow', () => {
    const ages = new IteratorAges();
    ages.set('orders', 'shardId-0', 120);
    ages.set('orders', 'shardId-1', 4500);
    ages.set('we"ird\\flow', 'shardId-0', 0);
    const dir = mkdtempSync(join(tmpdir(), 'kisflow-lag-'));
    try {
      const file = join(dir, 'dev-lag.json');
      expect([...readIteratorAges(file)]).toEqual([]);
      writeIteratorAges(file, ages);
      expect([...readIteratorAges(file)]).toEqual([
        ['orders', 4500],
        ['we"ird\\flow', 0],
      ]);
      writeFileSync(file, '{"orders": "soon", "x": -1, "y": 7');
      expect([...readIteratorAges(file)]).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says a lag as a person reads it', () => {
    expect(lagText(null)).toBe('-');
    expect(lagText({ metric: 'iterator_age_ms', value: 340, from: 'dev' })).toBe('340ms');
    expect(lagText({ metric: 'iterator_age_ms', value: 61_200, from: 'cloudwatch' })).toBe('61.2s');
    expect(lagText({ metric: 'offset_lag_records', value: 12, from: 'cloudwatch' })).toBe('12 records');
  });
});
