import type { StepBatch } from '../ports.ts';
import type { RunLedger, StepCounters } from '../runs/run-ledger.ts';
import { streamRunMinute } from '../wire/stream-run.ts';

/**
 * Counts a batch of a continuous source in the ledger's stream buckets (a redelivered batch is
 * counted once there); a batch of no stream (its run is one the ledger tracks, or none: a schedule
 * tick, an event) is left alone.
 */
export type StreamCounter = (batch: StepBatch, counters: Partial<StepCounters>) => Promise<void>;

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
    if (at === undefined) return;
    await ledger.recordStream({
      flowId: batch.flowId,
      batchId: batch.batchId,
      step: batch.step,
      at,
      counters,
    });
  };
}
