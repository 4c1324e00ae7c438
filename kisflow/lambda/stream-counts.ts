import type { StepBatch } from '../ports.ts';
import type { RunLedger, StepCounters } from '../runs/run-ledger.ts';
import { streamRunMinute } from '../wire/stream-run.ts';

/**
 * Counts a batch of a continuous source in the ledger's stream buckets: true when counted, false
 * when that batch was counted before (a redelivery), undefined when the batch is of no stream
 * (its run is one the ledger tracks, or none: a schedule tick, an event).
 */
export type StreamCounter = (
  batch: StepBatch,
  counters: Partial<StepCounters>,
) => Promise<boolean | undefined>;

/**
 * The stream counter over a ledger. Stream batches are no runs (a stream never ends), so the
 * delivery's run completion skips them; this is where their rows are counted instead, per step
 * and per minute of arrival (kisflow/wire/stream-run.ts), idempotently by batch id.
 *
 * @example
 * const count = streamCounter(ledger);
 * await count(batch, { in: 10, out: 9, rejected: 1 });
 */
export function streamCounter(ledger: Pick<RunLedger, 'recordStream'>): StreamCounter {
  return async (batch, counters) => {
    const at = streamRunMinute(batch.runId);
    if (at === undefined) return undefined;
    return ledger.recordStream({
      flowId: batch.flowId,
      batchId: batch.batchId,
      step: batch.step,
      at,
      counters,
    });
  };
}
