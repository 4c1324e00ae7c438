import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoRunLedger } from '../aws/dynamodb-run-ledger.ts';

/** How long completions wait to be written together outside Lambda (see DynamoRunLedgerOptions). */
const DEV_GROUP_COMMIT_MS = 10;

const ledgers = new WeakMap<DynamoDBClient, Map<string, DynamoRunLedger>>();

/**
 * One ledger per client and table for run completions and stream counts, whichever step records
 * them: under `kisflow dev` a flow's steps share a thread, and so its group commits and what it
 * knows of the fan-outs it announced (a chain that ends at another step then costs no correction).
 */
export function sharedLedger(dynamodb: DynamoDBClient, tableName: string): DynamoRunLedger {
  let byTable = ledgers.get(dynamodb);
  if (byTable === undefined) {
    byTable = new Map();
    ledgers.set(dynamodb, byTable);
  }
  let ledger = byTable.get(tableName);
  if (ledger === undefined) {
    ledger = new DynamoRunLedger({
      dynamodb,
      tableName,
      // A Lambda container runs one invocation at a time: waiting would gather nothing and be
      // billed. Under `kisflow dev` the steps' pollers share this ledger, so it pays.
      groupCommitMs: process.env.AWS_LAMBDA_FUNCTION_NAME === undefined ? DEV_GROUP_COMMIT_MS : 0,
    });
    byTable.set(tableName, ledger);
  }
  return ledger;
}
