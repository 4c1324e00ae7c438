import { stepKeys } from '../config/names.ts';
import { StepError } from '../errors.ts';
import type { CarriedCompletion, Destination, RejectedRow, StepBatch, Transport } from '../ports.ts';
import type { FlowPlan } from './plan.ts';
import type { StepOutcome } from './step-runner.ts';

/** Step runs a batch may go through when the flow sets no `tuning.max_hops`: far above any sane flow. */
export const DEFAULT_MAX_HOPS = 1000;

/** The code of rows (or a batch) stopped by the hop limit. */
export const HOP_LIMIT = 'HOP_LIMIT';

/**
 * How long a run's status read is reused. A cancel reaches a warm step within this; in exchange a
 * busy step reads each run's status about once a second instead of once per message.
 */
const STATUS_TTL_MS = 1000;

/** Run statuses whose remaining batches are dropped instead of run. */
const ENDED_EARLY: ReadonlySet<string> = new Set(['cancelled', 'timed_out']);

/** Completions one batch hands on at most: a longer chain (a jumpTo loop) is written instead. */
const MAX_CARRY = 16;
/**
 * A chain whose oldest completion is older than this is written instead of handed on, so that
 * `runs show` and the timeout sweep see a slow run's progress within about this long.
 */
const MAX_CARRY_AGE_MS = 10_000;

/** A completion of one batch of the run `runId`. */
export type RunCompletion = CarriedCompletion & { readonly runId: string };

/**
 * The part of the run ledger (kisflow/runs/run-ledger.ts `RunLedger`) delivery records into,
 * stated here so the engine imports nothing of the scheduling layer.
 */
export interface CompletionLedger {
  completeMany(batches: readonly RunCompletion[]): Promise<{ readonly finished?: string }>;
  status(runId: string): Promise<string | undefined>;
}

export interface DeliveryOptions {
  /** @default - the flow's `tuning.max_hops`, else DEFAULT_MAX_HOPS */
  readonly maxHops?: number;
  /** Where each batch's completion is recorded (see `deliver`). @default - none */
  readonly ledger?: CompletionLedger;
  /**
   * Messages a batch for a step becomes when sent: SQS packs a large batch into several (and
   * none when every row is too large). @default - 1
   */
  readonly messagesOf?: (batch: StepBatch) => number;
  /**
   * Called once a completion moved its run to a final status (job control's `run-ended`), after
   * the batch's sends. A failure here is the caller's to report: the repair pass finds the end.
   * @default - none
   */
  readonly onRunEnded?: (runId: string, status: string) => Promise<void>;
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
  readonly #ledger: CompletionLedger | undefined;
  readonly #messagesOf: (batch: StepBatch) => number;
  readonly #onRunEnded: ((runId: string, status: string) => Promise<void>) | undefined;
  /** Children announced in the ledger whose send then failed, by batch id, for `deadLettered`. */
  readonly #unsent = new Map<string, number>();
  readonly #statuses = new Map<string, { status: Promise<string | undefined>; at: number }>();

  constructor(plan: FlowPlan, transport: Transport, options: DeliveryOptions = {}) {
    this.plan = plan;
    this.#transport = transport;
    this.#ledger = options.ledger;
    this.#messagesOf = options.messagesOf ?? (() => 1);
    this.#onRunEnded = options.onRunEnded;
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
   *
   * With a ledger, the batch's completion (its counters and the number of messages sent on) is
   * recorded no later than its children's: the batch hands its completion, with those handed to
   * it, on in every message it sends (`StepBatch.carry`), and the end of each chain writes what it
   * carries. A child is then never counted done without the parent that announced it (the ledger
   * counts each batch id once, and a fan-out's announcement once: see the run ledger), and a flow
   * writes once per chain instead of once per step. A carry that would cost a message more, or
   * that is long or old (MAX_CARRY, MAX_CARRY_AGE_MS), is written before the sends instead.
   */
  async deliver(batch: StepBatch, outcome: StepOutcome, usage?: CarriedCompletion['usage']): Promise<void> {
    const flowId = this.plan.flow.flowId;
    const hops = (batch.hops ?? 0) + 1;
    const { runId, batchId } = batch;
    let rejected: RejectedRow[] = outcome.rejected as RejectedRow[];
    let to: Destination | undefined;
    let sent: StepBatch | undefined;
    let children = 0;
    let hopRejected = 0;
    const tracked = this.#ledger !== undefined && (await this.#tracked(runId));
    const { stats } = outcome;
    const own = (n: number): CarriedCompletion => ({
      batchId,
      step: batch.step,
      fid: this.plan.steps[batch.step]?.fid,
      counters: {
        in: stats.in,
        out: stats.out - hopRejected,
        rejected: stats.rejected + hopRejected,
        dropped: stats.dropped,
      },
      children: n,
      durationMs: stats.ms,
      at: Date.now(),
      usage,
    });
    let handedOn = false;
    // Batches are built as whole literals of one shape (no spreads): every step of every flow then
    // reads them through the same hidden class, which is most of what delivery costs per batch.
    if (outcome.next !== null) {
      const next = outcome.next;
      if (hops >= this.maxHops) {
        const reason = this.#hopReason(batch, hops, next);
        if (outcome.emitted.length === 0) {
          throw new StepError(HOP_LIMIT, reason, { flowId, step: batch.step, batchId, hops });
        }
        const fid = this.plan.steps[batch.step]?.fid ?? '';
        rejected = rejected.slice();
        for (const row of outcome.emitted)
          rejected.push({ flowId, step: batch.step, fid, code: HOP_LIMIT, reason, row });
        hopRejected = outcome.emitted.length;
      } else {
        to = { kind: 'step', flowId, step: next };
        const nextBatch = (carry: readonly CarriedCompletion[] | undefined): StepBatch => ({
          flowId,
          step: next,
          stepKey: this.#keys[next],
          runId,
          batchId,
          hops,
          rows: outcome.emitted,
          meta: outcome.meta,
          carry,
        });
        sent = nextBatch(undefined);
        if (tracked) {
          children = this.#messagesOf(sent);
          const carry = batch.carry ?? [];
          if (
            children > 0 &&
            carry.length < MAX_CARRY &&
            Date.now() - (carry[0]?.at ?? Date.now()) < MAX_CARRY_AGE_MS
          ) {
            const carrying = nextBatch([...carry, own(children)]);
            if (this.#packsTo(carrying, children)) {
              sent = carrying;
              handedOn = true;
            }
          }
        }
      }
    } else if (outcome.emitted.length > 0) {
      // Output envelopes carry the step index one past the last: they are addressed to no step.
      to = { kind: 'output', flowId };
      sent = {
        flowId,
        step: this.plan.steps.length,
        stepKey: undefined,
        runId,
        batchId,
        hops,
        rows: outcome.emitted,
        meta: outcome.meta,
        carry: undefined,
      };
    }
    const recording =
      tracked && !handedOn
        ? (this.#ledger as CompletionLedger).completeMany(
            this.#withRun(runId, [...(batch.carry ?? []), own(children)]),
          )
        : undefined;
    // A batch with children records them before any is sent (none may be counted before the parent
    // that announced it); the end of a chain writes while it sends: a crash in between redelivers
    // it, and its output goes out again under the same batch id.
    let completion = children > 0 && recording !== undefined ? await recording : undefined;
    const sending = to === undefined ? undefined : this.#transport.send(to, sent as StepBatch);
    const rejecting =
      rejected.length > 0
        ? this.#transport.reject({ kind: 'rejected', flowId, step: batch.step }, rejected, batch)
        : undefined;
    // Sends (and an end's write) run in parallel; the first failure is thrown once all settled.
    let failure: { reason: unknown } | undefined;
    if (sending !== undefined) await sending.catch((reason: unknown) => (failure ??= { reason }));
    if (rejecting !== undefined) await rejecting.catch((reason: unknown) => (failure ??= { reason }));
    if (children === 0 && recording !== undefined) {
      completion = await recording.catch((reason: unknown) => {
        failure ??= { reason };
        return undefined;
      });
    }
    // Before a failed send is thrown: a redelivery finds the run already final and never says so again.
    if (completion?.finished !== undefined) await this.#ended(runId, completion.finished);
    if (failure !== undefined) {
      // Handed on to one message, nothing was written: a dead letter then records the chain itself.
      // Handed on to several, some may have left carrying the chain: it is written now, and a dead
      // letter takes back the children (the sent ones are counted when they end, as any child).
      if (handedOn && children > 1) {
        await (this.#ledger as CompletionLedger).completeMany(
          this.#withRun(runId, [...(batch.carry ?? []), own(children)]),
        );
      }
      if (children > 1 || (children > 0 && !handedOn)) this.#remember(batchId, children);
      throw failure.reason;
    }
  }

  /**
   * When the batch's run was cancelled or timed out: records the batch done with its rows counted
   * as dropped (so the run's accounting stays exact) and returns the run's status, for the caller
   * to drop the batch instead of running it. Otherwise (running, or no ledger/run known) undefined.
   */
  async ended(batch: StepBatch, usage?: CarriedCompletion['usage']): Promise<string | undefined> {
    if (this.#ledger === undefined) return undefined;
    const status = await this.#statusOf(batch.runId);
    if (status === undefined || !ENDED_EARLY.has(status)) return undefined;
    await this.#ledger.completeMany(
      this.#withRun(batch.runId, [
        ...(batch.carry ?? []),
        {
          batchId: batch.batchId,
          step: batch.step,
          fid: this.plan.steps[batch.step]?.fid,
          counters: { in: batch.rows.length, dropped: batch.rows.length },
          children: 0,
          usage,
        },
      ]),
    );
    return status;
  }

  /**
   * Records a batch that went to its dead-letter queue: done, its rows dead-lettered, with the
   * completions handed on to it. When this attempt's delivery already recorded the batch done and
   * announced children it then failed to send, a second completion (its own id) takes those
   * children back, so the run still completes.
   */
  async deadLettered(batch: StepBatch, usage?: CarriedCompletion['usage']): Promise<void> {
    if (this.#ledger === undefined || !(await this.#tracked(batch.runId))) return;
    const unsent = this.#unsent.get(batch.batchId);
    this.#unsent.delete(batch.batchId);
    const completion = await this.#ledger.completeMany(
      this.#withRun(batch.runId, [
        ...(batch.carry ?? []),
        {
          batchId: unsent === undefined ? batch.batchId : `${batch.batchId}!dead-lettered`,
          step: batch.step,
          fid: this.plan.steps[batch.step]?.fid,
          counters: {
            ...(unsent === undefined ? { in: batch.rows.length } : {}),
            deadLettered: batch.rows.length,
          },
          // -1 more than announced: this completion counts as a batch done itself.
          children: unsent === undefined ? 0 : -(unsent + 1),
          outcome: 'dead_lettered',
          usage,
        },
      ]),
    );
    await this.#ended(batch.runId, completion.finished);
  }

  /**
   * Whether a batch carrying completions still makes `messages` messages: carrying then costs no
   * message. Not when the carry itself leaves no room under a small `max_message_bytes` (the
   * packer refuses such an envelope): the chain is then written instead.
   */
  #packsTo(batch: StepBatch, messages: number): boolean {
    try {
      return this.#messagesOf(batch) === messages;
    } catch (error) {
      if ((error as { code?: string })?.code === 'META_TOO_LARGE') return false;
      throw error;
    }
  }

  #withRun(runId: string, completions: readonly CarriedCompletion[]): RunCompletion[] {
    return completions.map((c) => ({ ...c, runId }));
  }

  async #ended(runId: string, finished: string | undefined): Promise<void> {
    if (finished !== undefined) await this.#onRunEnded?.(runId, finished);
  }

  /**
   * The run's status, read at most once per STATUS_TTL_MS. The read itself is what is kept, so
   * the records of one invocation (processed in parallel) share one request.
   */
  #statusOf(runId: string): Promise<string | undefined> {
    const now = Date.now();
    const cached = this.#statuses.get(runId);
    if (cached !== undefined && now - cached.at < STATUS_TTL_MS) return cached.status;
    const status = this.#ledger?.status(runId) ?? Promise.resolve(undefined);
    if (this.#statuses.size >= 1000) this.#statuses.delete(this.#statuses.keys().next().value as string);
    const entry = { status, at: now };
    this.#statuses.set(runId, entry);
    // A failed read is not kept: the next record reads again.
    status.catch(() => {
      if (this.#statuses.get(runId) === entry) this.#statuses.delete(runId);
    });
    return status;
  }

  /**
   * Whether the ledger tracks the run. A run is started before its first batch is sent (`kisflow
   * send`, a job's fire), so a run the ledger does not know (a tick of an AWS schedule, an event)
   * is not recorded: no items for nobody to read.
   */
  async #tracked(runId: string): Promise<boolean> {
    return this.#ledger !== undefined && (await this.#statusOf(runId)) !== undefined;
  }

  #remember(batchId: string, children: number): void {
    // Entries of batches retried rather than dead-lettered would pile up in a warm container.
    if (this.#unsent.size >= 1000) this.#unsent.delete(this.#unsent.keys().next().value as string);
    this.#unsent.set(batchId, children);
  }

  #hopReason(batch: StepBatch, hops: number, next: number): string {
    const from = this.plan.steps[batch.step]?.fid ?? String(batch.step);
    const to = this.plan.steps[next]?.fid ?? String(next);
    return `Batch ${batch.batchId} of flow '${this.plan.flow.flowId}' has run through ${hops} steps, the flow's limit (tuning.max_hops: ${this.maxHops}); it was going from '${from}' to '${to}'. A jumpTo loop that never ends? Stop calling jumpTo when the work is done, or raise tuning.max_hops, then redrive.`;
  }
}
