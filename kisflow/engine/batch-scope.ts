import type { Params } from '../config/model.ts';
import type { StepError } from '../errors.ts';
import type { Log, RejectedRow, Row, StateStore, StepBatch } from '../ports.ts';
import type { AttemptContext } from './attempt-context.ts';
import type { FlowInfo, FunctionCache, FunctionMetrics, KisFunction } from './function.ts';
import { BatchState } from './keyed-state.ts';
import type { FlowPlan, PlannedStep } from './plan.ts';
import type { PendingSave, StepConnector } from './step-connector.ts';

/** What a step is bound to for its whole life: built once by its StepRunner, read by every batch. */
export interface BoundStep {
  readonly plan: FlowPlan;
  readonly step: PlannedStep;
  readonly fn: KisFunction;
  /** The function-level cache: lives as long as the runner. */
  readonly cache: FunctionCache;
  readonly metrics: FunctionMetrics;
  readonly connector: StepConnector | undefined;
  readonly stateStore: StateStore;
  /** Keyed state scope: `${flowId}/${fid}`. */
  readonly stateScope: string;
  /**
   * True when the rows a step emits leave the process as JSON (a queue between Lambda steps):
   * every committed row is then checked to be one JSON can carry. False for an in-process run,
   * where rows pass to the next step by reference (see StepRunnerOptions.handoff).
   */
  readonly serialized: boolean;
}

/** Why rows left a step on purpose, by code: the `dropped` part of `in = out + rejected + dropped`. */
export const DROP_REASONS = {
  ABORTED: 'the function called abort() without committing these rows',
  FILTERED: 'filtered out by the Verify function (received, not committed)',
  NOT_COMMITTED: 'the function neither committed nor rejected these rows',
} as const;

export type DropCode = keyof typeof DROP_REASONS;

/** Rows a step dropped on purpose, counted per reason. */
export interface DroppedRows {
  readonly code: DropCode;
  readonly reason: string;
  readonly count: number;
}

/**
 * Everything one batch of one step accumulates — the results of its accepted attempts, its
 * rejected and dropped rows, the buffered saves and state — and the scope every attempt reads
 * (params, flow info, cache, log, connector) through `bound`.
 */
const NO_DROPS: readonly DroppedRows[] = Object.freeze([]);

export class BatchScope {
  readonly bound: BoundStep;
  readonly flow: FlowInfo;
  readonly log: Log;
  readonly rejected: RejectedRow[] = [];
  /** Output of accepted attempts, in input order. */
  readonly parts: Row[][] = [];
  meta: Record<string, unknown>;
  aborted = false;
  forced = false;
  jump: string | undefined;
  saves: PendingSave[] | undefined;
  state: BatchState | undefined;
  errors = 0;
  retries = 0;
  /** Rows the function committed beyond the ones it was given (a split, an Expand). */
  created = 0;
  drops: Map<DropCode, number> | undefined;
  /** A call on the context of an accepted attempt after its handler returned. */
  late: StepError | undefined;
  /** Set when the step ran out of time: whatever is still running is no longer listened to. */
  abandoned = false;
  /** The attempt running now, closed when the step is abandoned. */
  current: AttemptContext | undefined;

  constructor(bound: BoundStep, batch: StepBatch, log: Log) {
    const step = bound.step;
    this.bound = bound;
    this.flow = {
      id: batch.flowId,
      name: bound.plan.flow.flowName,
      runId: batch.runId,
      batchId: batch.batchId,
      step: step.index,
      fid: step.fid,
    };
    this.log = log;
    // Replaced, never written: each attempt works on its own copy (see the isolation phase).
    this.meta = batch.meta as Record<string, unknown>;
  }

  get params(): Params {
    return this.bound.step.params;
  }

  batchState(): BatchState {
    this.state ??= new BatchState(this.bound.stateStore, this.bound.stateScope, this.flow.batchId);
    return this.state;
  }

  reject(code: string, reason: string, row: Row): void {
    const { flow } = this;
    this.rejected.push({ flowId: flow.id, step: flow.step, fid: flow.fid, code, reason, row });
  }

  drop(code: DropCode, count: number): void {
    this.drops ??= new Map();
    this.drops.set(code, (this.drops.get(code) ?? 0) + count);
  }

  droppedRows(): readonly DroppedRows[] {
    if (this.drops === undefined) return NO_DROPS;
    return [...this.drops].map(([code, count]) => ({ code, reason: DROP_REASONS[code], count }));
  }

  get dropped(): number {
    let n = 0;
    if (this.drops !== undefined) for (const count of this.drops.values()) n += count;
    return n;
  }

  /** Takes in an attempt that succeeded on `originals` (the rows as they entered the step). */
  accept(ctx: AttemptContext, originals: Row[]): void {
    // reuse: the input goes on. jumpTo without commits: the input goes to the target, as the
    // previous step's output would in KisFlow (see StepRunner). Rows the function rejected never
    // go on. `originals` may be the caller's input array: emit a copy of it.
    const passInput = ctx.reused || (ctx.jump !== undefined && ctx.out.length === 0);
    let out: Row[];
    if (ctx.rejected === undefined) {
      out = passInput ? originals.slice() : ctx.out;
    } else {
      for (const r of ctx.rejected) this.rejected.push(r);
      out = (passInput ? originals : ctx.out).filter((row) => !ctx.wasRejected(row));
    }
    if (out.length > 0) this.parts.push(out);
    // Commits are not tied to the rows they came from, so the accounting is by count: fewer rows
    // out than kept in were dropped, more were created.
    const kept = originals.length - (ctx.rejected?.length ?? 0);
    if (out.length < kept) {
      this.drop(
        ctx.aborted ? 'ABORTED' : this.bound.step.func.fmode === 'Verify' ? 'FILTERED' : 'NOT_COMMITTED',
        kept - out.length,
      );
    } else {
      this.created += out.length - kept;
    }
    if (ctx.ownMeta !== undefined) this.meta = ctx.ownMeta;
    if (ctx.aborted) this.aborted = true;
    if (ctx.forced) this.forced = true;
    if (ctx.jump !== undefined) {
      if (this.jump !== undefined && this.jump !== ctx.jump) {
        this.log.warn('jumpTo called with different targets in one batch; the first wins', {
          first: this.jump,
          ignored: ctx.jump,
        });
      } else {
        this.jump = ctx.jump;
      }
    }
    ctx.attemptState?.commit();
    if (ctx.attemptConnector !== undefined && ctx.attemptConnector.saves.length > 0) {
      this.saves ??= [];
      for (const s of ctx.attemptConnector.saves) this.saves.push(s);
    }
  }

  emitted(): Row[] {
    const { parts } = this;
    if (parts.length === 1) return parts[0] as Row[];
    // Not parts.flat(): V8's flat is several times slower than this loop, and isolating a few
    // failing rows leaves a batch in many parts.
    const out: Row[] = [];
    for (const part of parts) for (let i = 0; i < part.length; i++) out.push(part[i] as Row);
    return out;
  }
}
