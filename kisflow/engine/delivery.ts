import { stepKeys } from '../config/names.ts';
import { StepError } from '../errors.ts';
import type { Destination, RejectedRow, StepBatch, Transport } from '../ports.ts';
import type { FlowPlan } from './plan.ts';
import type { StepOutcome } from './step-runner.ts';

/** Step runs a batch may go through when the flow sets no `tuning.max_hops`: far above any sane flow. */
export const DEFAULT_MAX_HOPS = 1000;

/** The code of rows (or a batch) stopped by the hop limit. */
export const HOP_LIMIT = 'HOP_LIMIT';

export interface DeliveryOptions {
  /** @default - the flow's `tuning.max_hops`, else DEFAULT_MAX_HOPS */
  readonly maxHops?: number;
}

/**
 * Turns what a step did with a batch into Transport calls: the emitted rows to the next step
 * (or the flow's output when the flow ends), the rejected rows to the step's dead letters. The one
 * delivery path of `kisflow run` (memory transport), `kisflow dev` and Lambda (SQS transport), so
 * the hop limit and step addressing behave the same everywhere.
 *
 * A batch for the next step carries that step's stable key and its hop count. Rows that would go
 * past `max_hops` step runs are rejected with `HOP_LIMIT` instead (a `jumpTo` loop that never
 * ends costs money and never reaches a DLQ otherwise); an empty batch over the limit, which has no
 * rows to reject, fails its message with a permanent StepError `HOP_LIMIT`.
 *
 * @example
 * const delivery = new Delivery(plan, transport);
 * await delivery.deliver(batch, await runner.run(batch));
 */
export class Delivery {
  readonly plan: FlowPlan;
  readonly maxHops: number;
  readonly #transport: Transport;
  readonly #keys: readonly string[];

  constructor(plan: FlowPlan, transport: Transport, options: DeliveryOptions = {}) {
    this.plan = plan;
    this.#transport = transport;
    this.maxHops = options.maxHops ?? plan.flow.tuning.maxHops ?? DEFAULT_MAX_HOPS;
    this.#keys = stepKeys(plan.steps.map((s) => s.fid));
  }

  /** The stable key of step `index` (see `stepKeys`). */
  keyOf(index: number): string | undefined {
    return this.#keys[index];
  }

  /** The index of the step with key `key`, or -1. */
  indexOfKey(key: string): number {
    return this.#keys.indexOf(key);
  }

  /**
   * Sends an outcome on. Sends run in parallel; when one fails the first failure is thrown after
   * all settled (the input message is then retried or dead-lettered as a whole: redelivered sends
   * carry the same batch ids, so nothing downstream is applied twice).
   */
  async deliver(batch: StepBatch, outcome: StepOutcome): Promise<void> {
    const flowId = this.plan.flow.flowId;
    const hops = (batch.hops ?? 0) + 1;
    const rejected: RejectedRow[] = outcome.rejected.slice();
    const sends: Promise<void>[] = [];
    const header = { flowId, runId: batch.runId, batchId: batch.batchId, hops, meta: outcome.meta };
    if (outcome.next !== null) {
      const next = outcome.next;
      if (hops >= this.maxHops) {
        const reason = this.#hopReason(batch, hops, next);
        if (outcome.emitted.length === 0) {
          throw new StepError(HOP_LIMIT, reason, {
            flowId,
            step: batch.step,
            batchId: batch.batchId,
            hops,
          });
        }
        const fid = this.plan.steps[batch.step]?.fid ?? '';
        for (const row of outcome.emitted)
          rejected.push({ flowId, step: batch.step, fid, code: HOP_LIMIT, reason, row });
      } else {
        const key = this.#keys[next];
        sends.push(
          this.#transport.send(
            { kind: 'step', flowId, step: next },
            { ...header, step: next, ...(key === undefined ? {} : { stepKey: key }), rows: outcome.emitted },
          ),
        );
      }
    } else if (outcome.emitted.length > 0) {
      // Output envelopes carry the step index one past the last: they are addressed to no step.
      sends.push(
        this.#transport.send(
          { kind: 'output', flowId },
          { ...header, step: this.plan.steps.length, rows: outcome.emitted },
        ),
      );
    }
    if (rejected.length > 0) {
      const to: Destination = { kind: 'rejected', flowId, step: batch.step };
      sends.push(this.#transport.reject(to, rejected, batch));
    }
    const settled = await Promise.allSettled(sends);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
  }

  #hopReason(batch: StepBatch, hops: number, next: number): string {
    const from = this.plan.steps[batch.step]?.fid ?? String(batch.step);
    const to = this.plan.steps[next]?.fid ?? String(next);
    return `Batch ${batch.batchId} of flow '${this.plan.flow.flowId}' has run through ${hops} steps, the flow's limit (tuning.max_hops: ${this.maxHops}); it was going from '${from}' to '${to}'. A jumpTo loop that never ends? Stop calling jumpTo when the work is done, or raise tuning.max_hops, then redrive.`;
  }
}
