import { describe, expect, it } from 'vitest';
import { quantileMs } from '../../../kisflow/runs/batch-durations.ts';
import { MemoryRunLedger } from '../../../kisflow/runs/memory-run-ledger.ts';
import { repairContract } from './repair-contract.ts';

repairContract('memory', async (clock) => new MemoryRunLedger({ now: clock.now }));

describe('quantileMs', () => {
  it('reads the bucket that holds the quantile', () => {
    expect(quantileMs(new Map(), 0.95)).toBe(0);
    expect(quantileMs(new Map([[0, 10]]), 0.95)).toBe(1);
  });
});
