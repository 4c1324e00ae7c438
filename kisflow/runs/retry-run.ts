import { randomUUID } from 'node:crypto';
import { UsageError } from '../errors.ts';
import type { RunLedger, RunRecord } from './run-ledger.ts';

/**
 * `kisflow runs retry`: a run's dead letters redriven as a new run (trigger `retry`, parent = the
 * repaired run). The id of the n-th repair of run R is `retry-<n>-<R>`: deterministic, so a retry
 * that crashed is resumed under the same run (and the same batch ids) instead of starting another,
 * and `runs show R` finds its repairs by id without scanning the table.
 *
 * Exactness. The retry run starts with one root, the mover itself. Before a dead letter's messages
 * are sent, one completion with the dead letter's id as batch id announces them (children = its
 * messages + 1, the +1 being the completion itself): a crash between the send and the delete from
 * the DLQ moves the same letter again, and that completion is then a no-op in the ledger, the
 * messages carry the same batch ids (so their completions are no-ops too), and the run counts
 * every failed row once. The mover's own root completes last: until then the run cannot finish.
 */

/** The id of the `attempt`-th retry run of `parentRunId` (1-based). */
export function retryRunId(parentRunId: string, attempt: number): string {
  return `retry-${attempt}-${parentRunId}`;
}

/**
 * How long one `runs retry` holds its run's dead letters: two at once would each receive and send
 * the same letter before either deletes it. A holder that crashed frees them when this runs out.
 */
export const RETRY_CLAIM_LEASE_MS = 15 * 60_000;

/** Batch id of the mover's own root completion. */
const MOVER_BATCH = 'retry#mover';

/** What moves the parent run's dead letters: awaits `announce` before sending each one's messages. */
export type DeadLetterMove = (into: {
  readonly runId: string;
  readonly announce: (letterId: string, step: number, messages: number) => Promise<void>;
}) => Promise<number>;

export interface RetryRunOptions {
  readonly ledger: RunLedger;
  readonly parentRunId: string;
  /** How many of the parent's dead letters are waiting (a peek: nothing is moved). */
  readonly waiting: () => Promise<number>;
  readonly move: DeadLetterMove;
}

export interface RetryRunResult {
  readonly run: RunRecord;
  /** Dead letters moved by this call. */
  readonly moved: number;
  /** The retry run existed (a crashed retry) and was carried on. */
  readonly resumed: boolean;
}

/** The runs that repaired `runId` (`runs retry`), oldest first. */
export async function repairsOf(ledger: RunLedger, runId: string): Promise<RunRecord[]> {
  const found: RunRecord[] = [];
  for (let attempt = 1; ; attempt++) {
    const run = await ledger.get(retryRunId(runId, attempt));
    if (run === undefined) return found;
    found.push(run);
  }
}

/**
 * Re-runs only what failed in a run: its dead letters, as a new linked run.
 *
 * @throws UsageError `RUN_NOT_FOUND`, `RUN_STILL_RUNNING` (retry once it has ended, or cancel it),
 *   `NOTHING_TO_RETRY` (no dead letter of the run is waiting).
 * @example
 * const { run } = await retryRun({ ledger, parentRunId: 'send-1', waiting, move });
 */
export async function retryRun(options: RetryRunOptions): Promise<RetryRunResult> {
  const { ledger, parentRunId } = options;
  const parent = await ledger.get(parentRunId);
  if (parent === undefined) {
    throw new UsageError('RUN_NOT_FOUND', `No run '${parentRunId}' in the runs table.`, {
      runId: parentRunId,
    });
  }
  if (parent.status === 'running') {
    throw new UsageError(
      'RUN_STILL_RUNNING',
      `Run '${parentRunId}' is still running: its failures are not all known yet. Retry it once it has ended (\`kisflow runs show ${parentRunId}\`), or cancel it first.`,
      { runId: parentRunId },
    );
  }
  const claim = `retry#${parentRunId}`;
  const holder = randomUUID();
  if (!(await ledger.claim(claim, holder, RETRY_CLAIM_LEASE_MS))) {
    throw new UsageError(
      'RETRY_IN_PROGRESS',
      `Another \`runs retry ${parentRunId}\` is moving its dead letters now; run \`kisflow runs show ${retryRunId(parentRunId, 1)}\` (or the latest retry) to follow it. A retry that crashed frees the run after ${RETRY_CLAIM_LEASE_MS / 60_000} minutes.`,
      { runId: parentRunId },
    );
  }
  try {
    return await retryClaimed(options, parent);
  } finally {
    await ledger.release(claim, holder);
  }
}

async function retryClaimed(options: RetryRunOptions, parent: RunRecord): Promise<RetryRunResult> {
  const { ledger, parentRunId } = options;
  const repairs = await repairsOf(ledger, parentRunId);
  const last = repairs.at(-1);
  // A retry run still running is one whose mover may have crashed: carry it on.
  const resumed = last?.status === 'running';
  const runId = resumed ? (last as RunRecord).id : retryRunId(parentRunId, repairs.length + 1);
  if (!resumed) {
    if ((await options.waiting()) === 0) {
      throw new UsageError(
        'NOTHING_TO_RETRY',
        `Run '${parentRunId}' has no dead letters waiting in its flow's DLQs: nothing to retry.${repairs.length > 0 ? ` It was retried as ${repairs.map((r) => r.id).join(', ')}.` : ''}`,
        { runId: parentRunId },
      );
    }
    await ledger.start({
      runId,
      flowId: parent.flowId,
      ...(parent.jobId === undefined ? {} : { jobId: parent.jobId }),
      ...(parent.scene === undefined ? {} : { scene: parent.scene }),
      ...(parent.timeoutMs === undefined ? {} : { timeoutMs: parent.timeoutMs }),
      trigger: 'retry',
      params: parent.params,
      parentRunId,
      roots: 1,
    });
  }
  const moved = await options.move({
    runId,
    announce: async (letterId, step, messages) => {
      await ledger.complete({ runId, batchId: `retry#${letterId}`, step, children: messages + 1 });
    },
  });
  await ledger.complete({ runId, batchId: MOVER_BATCH, step: 0, children: 0 });
  return { run: (await ledger.get(runId)) as RunRecord, moved, resumed };
}
