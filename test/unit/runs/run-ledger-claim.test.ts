import { describe, expect, it } from 'vitest';
import { MemoryRunLedger } from '../../../kisflow/runs/memory-run-ledger.ts';

describe('MemoryRunLedger claim/release (what `runs retry` holds a run by)', () => {
  it('one holder at a time; the holder renews; a lease that ran out is taken; release only by the holder', async () => {
    let now = 0;
    const ledger = new MemoryRunLedger({ now: () => now });
    expect(await ledger.claim('k', 'a', 1000)).toBe(true);
    expect(await ledger.claim('k', 'b', 1000)).toBe(false);
    expect(await ledger.claim('k', 'a', 1000)).toBe(true);
    await ledger.release('k', 'b');
    expect(await ledger.claim('k', 'b', 1000)).toBe(false);
    now = 1001;
    expect(await ledger.claim('k', 'b', 1000)).toBe(true);
    await ledger.release('k', 'b');
    expect(await ledger.claim('k', 'c', 1000)).toBe(true);
    expect(await ledger.claim('other', 'a', 1000)).toBe(true);
  });
});
