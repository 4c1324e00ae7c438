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
    const checked = connector.check(scope.flow.batchId, row);
    if ('key' in checked) {
      saves.push({ key: checked.key, row });
      kept.push(row);
    } else {
      scope.reject(checked.code, checked.reason, row);
    }
  }
  return kept;
}
