import { DynamoRunLedger } from '../../../kisflow/aws/dynamodb-run-ledger.ts';
import { ensureTable } from '../../../kisflow/aws/tables.ts';
import { repairContract } from '../../unit/runs/repair-contract.ts';
import { useEmulators } from '../aws/harness.ts';

const ctx = useEmulators();
let tables = 0;

repairContract('DynamoDB on dynalite', async (clock) => {
  const tableName = `repair-${++tables}`;
  await ensureTable(ctx.clients.dynamodb, tableName, { ttlAttribute: 'ttl' });
  return new DynamoRunLedger({ dynamodb: ctx.clients.dynamodb, tableName, now: clock.now });
});
