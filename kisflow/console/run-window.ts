import { mapLimit } from '../aws/parallel.ts';
import type { RunLedger, RunQuery, RunRecord } from '../runs/run-ledger.ts';
import { listMatches } from '../runs/run-records.ts';

export interface RunWindowOptions {
  /** How far back runs are kept in memory. @default 31 days (the Overview's 30-day chart) */
  readonly windowMs?: number;
  /** A list within this long of the last refresh reads memory only. @default 1000 */
  readonly freshMs?: number;
  readonly now?: () => number;
}

// Runs recorded a little out of start order (clocks, slow writers) are still picked up.
const OVERLAP_MS = 60_000;

/**
 * The run ledger with its recent runs held in memory, for the pages that ask for hundreds of
 * runs on every view (the Overview's 30-day chart, the Jobs page's success ratios). A finished run
 * never changes, so a refresh reads only the runs started since the last one and those that were
 * still running; the ledger's list would read every run again (one GetItem each). Every other
 * operation, and a list reaching before the window, goes to the ledger itself. A list may be up
 * to one refresh behind (about `freshMs` plus the refresh's own time).
 *
 * @example const ledger = runWindow(new DynamoRunLedger({ dynamodb, tableName }));
 */
export function runWindow(ledger: RunLedger, options: RunWindowOptions = {}): RunLedger {
  const windowMs = options.windowMs ?? 31 * 86_400_000;
  const freshMs = options.freshMs ?? 1_000;
  const now = options.now ?? Date.now;
  const runs = new Map<string, RunRecord>();
  let filledFrom: number | undefined;
  let refreshedAt = 0;
  let refreshing: Promise<void> | undefined;

  const refresh = async () => {
    const at = now();
    const from = at - windowMs;
    if (filledFrom === undefined) {
      for (const r of await ledger.list({ since: from, limit: Number.MAX_SAFE_INTEGER })) runs.set(r.id, r);
      filledFrom = from;
    } else {
      const newest = Math.max(filledFrom, ...[...runs.values()].map((r) => r.started));
      const fresh = await ledger.list({ since: newest - OVERLAP_MS, limit: Number.MAX_SAFE_INTEGER });
      const seen = new Set(fresh.map((r) => r.id));
      const open = [...runs.values()].filter((r) => r.status === 'running' && !seen.has(r.id));
      const again = await mapLimit(open, 8, (r) => ledger.get(r.id));
      for (const r of [...fresh, ...again]) if (r) runs.set(r.id, r);
      for (const r of runs.values()) if (r.started < from) runs.delete(r.id);
      filledFrom = from;
    }
    refreshedAt = at;
  };

  const list = async (query: RunQuery = {}): Promise<RunRecord[]> => {
    const at = now();
    if (query.since === undefined || query.since < at - windowMs) return ledger.list(query);
    if (at - refreshedAt > freshMs) {
      refreshing ??= refresh().finally(() => {
        refreshing = undefined;
      });
      // Once filled, answer from memory while the refresh runs: a page never waits for the
      // ledger, and the event stream tells it when the refresh changed something.
      if (filledFrom === undefined) await refreshing;
      else refreshing.catch(() => {});
    }
    return listMatches([...runs.values()], query, at);
  };

  return new Proxy(ledger, {
    get(target, property) {
      if (property === 'list') return list;
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
