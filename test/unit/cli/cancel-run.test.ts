import { describe, expect, it } from 'vitest';
import { cancelRun } from '../../../kisflow/cli/commands/runs.ts';
import { MemoryRunLedger } from '../../../kisflow/runs/memory-run-ledger.ts';

describe('cancelRun', () => {
  it('when job control cannot be told, the cancel stands and the caller gets a warning to show', async () => {
    const ledger = new MemoryRunLedger();
    await ledger.start({ runId: 'r', flowId: 'f', trigger: 'manual', roots: 1 });
    const out = await cancelRun(ledger, 'r', 'operator', () => Promise.reject(new Error('queue gone')));
    expect(out.run).toMatchObject({ status: 'cancelled', reason: 'operator' });
    expect(out.warning).toBe(
      'run r cancelled, but job control was not told (queue gone); the next sweep hands the end on',
    );
    await expect(cancelRun(ledger, 'r', 'again')).rejects.toMatchObject({ code: 'RUN_NOT_RUNNING' });
  });

  it('told, no warning', async () => {
    const ledger = new MemoryRunLedger();
    await ledger.start({ runId: 'r', flowId: 'f', trigger: 'manual', roots: 1 });
    const told: string[] = [];
    const out = await cancelRun(ledger, 'r', 'x', async (id) => told.push(id));
    expect(out.warning).toBeUndefined();
    expect(told).toEqual(['r']);
  });
});
