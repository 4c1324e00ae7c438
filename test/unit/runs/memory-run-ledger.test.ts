import { MemoryRunLedger } from '../../../kisflow/runs/memory-run-ledger.ts';
import { runLedgerContract } from './run-ledger-contract.ts';

runLedgerContract('memory', async (clock) => new MemoryRunLedger({ now: clock.now }));
