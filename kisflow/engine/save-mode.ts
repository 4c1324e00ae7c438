import { RowRejectedError } from '../errors.ts';
import type { Row } from '../ports.ts';
import type { BatchScope } from './batch-scope.ts';
import type { StepConnector } from './step-connector.ts';

/**
 * Save mode, after the function succeeded: the rows it emitted (its commits, or the input on
 * `reuse()`) are due for the connector, minus those that can never be saved, which are rejected
 * alone with the reason (`MISSING_KEY_FIELD`, `BAD_ROW`, the store's `ITEM_TOO_LARGE`...) instead
 * of failing the batch on every retry. Returns the rows that go on.
 */
export function saveEmitted(scope: BatchScope, connector: StepConnector, rows: Row[]): Row[] {
  scope.saves ??= [];
  const saves = scope.saves;
  const kept: Row[] = [];
  for (const row of rows) {
    let key: string;
    try {
      key = connector.keyFor(row);
    } catch (err) {
      if (!(err instanceof RowRejectedError)) throw err;
      scope.reject(err.code, err.message, row);
      continue;
    }
    const problem = connector.problem(scope.flow.batchId, key, row);
    if (problem !== undefined) {
      scope.reject(problem.code, problem.reason, row);
      continue;
    }
    saves.push({ key, row });
    kept.push(row);
  }
  return kept;
}
