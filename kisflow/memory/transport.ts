import type { Destination, RejectedRow, Row, StepBatch, Transport } from '../ports.ts';

/**
 * The Transport of `kisflow run` and unit tests: batches for a step wait in one FIFO queue
 * (`take()` hands out the next), output rows and rejected rows are collected in arrival order.
 * Nothing is packed or serialised: a batch is handed on as it is.
 *
 * A batch id for the next step is derived from the input's, `<entry id>.<hops>` (`run-1#0.1`,
 * `run-1#0.2`, ...): deterministic, so the same run id replays onto the same keyed state.
 *
 * @example
 * const transport = new MemoryTransport();
 * await new Delivery(plan, transport).deliver(batch, outcome);
 * transport.take(); // the batch for the next step, if any
 */
export class MemoryTransport implements Transport {
  readonly output: Row[] = [];
  readonly rejected: RejectedRow[] = [];
  readonly #queue: StepBatch[] = [];

  send(to: Destination, batch: StepBatch): Promise<void> {
    if (to.kind === 'step') {
      // A literal of the batch's own shape, not a spread: see Delivery.deliver.
      this.#queue.push({
        flowId: batch.flowId,
        step: to.step,
        stepKey: batch.stepKey,
        runId: batch.runId,
        batchId: nextBatchId(batch.batchId, batch.hops ?? 0),
        hops: batch.hops,
        rows: batch.rows,
        meta: batch.meta,
        carry: batch.carry,
      });
    } else if (to.kind === 'output') {
      for (const row of batch.rows) this.output.push(row);
    } else {
      // Rejected rows travel with their reasons (`reject`); a bare batch has none to keep.
      return Promise.reject(
        new TypeError('MemoryTransport.send: rejected rows go through reject(), with reasons'),
      );
    }
    return Promise.resolve();
  }

  reject(_to: Destination, rows: readonly RejectedRow[], _batch?: StepBatch): Promise<void> {
    for (const r of rows) this.rejected.push(r);
    return Promise.resolve();
  }

  /** The oldest batch waiting for a step, removed from the queue. */
  take(): StepBatch | undefined {
    return this.#queue.shift();
  }

  /** Batches waiting for a step. */
  get pending(): number {
    return this.#queue.length;
  }
}

// The first hop appends `.1`; later hops replace the count the previous hop appended.
function nextBatchId(batchId: string, hops: number): string {
  if (hops <= 1) return `${batchId}.${hops}`;
  const dot = batchId.lastIndexOf('.');
  return `${dot < 0 ? batchId : batchId.slice(0, dot)}.${hops}`;
}
