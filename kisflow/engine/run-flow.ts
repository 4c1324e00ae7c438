import { randomUUID } from 'node:crypto';
import { ConnectorError, isRetryable, KisFlowError, UsageError } from '../errors.ts';
// The in-process run is the memory transport's reason to exist: it is the one adapter the engine runs on.
import { MemoryTransport } from '../memory/transport.ts';
import type { RejectedRow, Row, StepBatch } from '../ports.ts';
import { type CompletionLedger, Delivery } from './delivery.ts';
import type { EngineDeps } from './deps.ts';
import type { FlowPlan } from './plan.ts';
import type { Registry } from './registry.ts';
import { StepRunner } from './step-runner.ts';

export interface StepStats {
  readonly step: number;
  readonly fid: string;
  in: number;
  out: number;
  rejected: number;
  /** Rows that left on purpose; by reason code in `drops`. `in + created = out + rejected + dropped`. */
  dropped: number;
  created: number;
  readonly drops: Record<string, number>;
  ms: number;
}

/** What an in-process run of a flow produced. */
export interface FlowResult {
  /** Rows the flow's last step (or a step ending the flow) emitted, in input order per batch. */
  readonly output: Row[];
  readonly rejected: RejectedRow[];
  readonly runId: string;
  readonly stats: {
    readonly rowsIn: number;
    readonly rowsOut: number;
    readonly rejected: number;
    readonly dropped: number;
    readonly ms: number;
    /** One entry per step of the plan, in step order (zeros for steps no batch reached). */
    readonly steps: StepStats[];
    /** True when the flow has `status: 0`: nothing ran. */
    readonly disabled: boolean;
  };
}

export interface RunFlowOptions {
  /** Default: a random UUID. */
  readonly runId?: string;
  /** Rows per batch entering the flow (default 1000), as a message would carry them. */
  readonly batchRows?: number;
  /** Flow metadata each batch starts with. */
  readonly meta?: Readonly<Record<string, unknown>>;
  /** Called after each input batch went through the flow, with the number of input rows done. */
  readonly onBatch?: (done: number) => void;
  /**
   * Step runs allowed per input batch; rows that would go further are rejected with `HOP_LIMIT`,
   * as they are dead-lettered under `kisflow dev` and in Lambda: a guard against a `jumpTo` loop
   * the user did not end. @default - the flow's `tuning.max_hops`, else 1000
   */
  readonly maxHops?: number;
  /**
   * `memory` (default): rows pass from step to step by reference, unchecked, for speed.
   * `serialized`: every step checks its rows as they would travel between Lambda steps (see
   * StepRunnerOptions.handoff), so a row JSON cannot carry fails where it would in AWS.
   */
  readonly handoff?: 'memory' | 'serialized';
  /**
   * Where every batch of the run is recorded (a MemoryRunLedger under `kisflow run`). The caller
   * starts the run with `roots: rootBatches(rows.length, batchRows)`. @default - none
   */
  readonly ledger?: CompletionLedger;
  /** Called once a batch's completion moved its run to a final status (see DeliveryOptions). */
  readonly onRunEnded?: (runId: string, status: string) => Promise<void>;
}

/** Batches `rows` input rows enter a flow as: a run's root batch count. */
export function rootBatches(rows: number, batchRows = 1000): number {
  return Math.ceil(rows / batchRows);
}

/**
 * Runs a flow in-process: the input is cut into batches and each batch goes through the steps,
 * following each step's `next` (jumps included), delivered by the same `Delivery` as between
 * Lambda steps, over a MemoryTransport. One StepRunner per step serves the whole run. Batch ids
 * are deterministic (`${runId}#${batch}` entering the flow, `.${hops}` per step run after the
 * first), so the same run id replays onto the same state and connector items.
 *
 * @example
 * const registry = await loadFunctions(project, { flowIds: ['orders'] });
 * const store = new MemoryConnectorStore();
 * const result = await runFlow(FlowPlan.build(project, 'orders'), rows, registry, {
 *   store, state: new MemoryStateStore(),
 * });
 * console.log(result.output, result.rejected);
 */
export async function runFlow(
  plan: FlowPlan,
  rows: readonly Row[],
  registry: Registry,
  deps: EngineDeps,
  options: RunFlowOptions = {},
): Promise<FlowResult> {
  const flowId = plan.flow.flowId;
  const runId = options.runId ?? randomUUID();
  const batchRows = options.batchRows ?? 1000;
  if (!Number.isInteger(batchRows) || batchRows < 1) {
    throw new UsageError('BAD_BATCH_ROWS', `batchRows must be a positive integer, received ${batchRows}.`, {
      batchRows,
    });
  }
  const meta = options.meta ?? {};
  const roots: StepBatch[] = [];
  for (let b = 0, start = 0; start < rows.length; b++, start += batchRows) {
    roots.push({
      flowId,
      step: 0,
      runId,
      batchId: `${runId}#${b}`,
      rows: rows.slice(start, start + batchRows),
      meta,
    });
  }
  return runBatches(plan, roots, registry, deps, { ...options, runId });
}

/**
 * Runs batches already made (a job's tick batches, one per shard, each with its own id and
 * metadata) through a flow in-process, as `runFlow` does its input. A batch of a run that was
 * cancelled or timed out meanwhile is not run: it is recorded done with its rows dropped, as a
 * step does under `kisflow dev` and in Lambda.
 *
 * @example const result = await runBatches(plan, fireBatches(job, outcome), registry, deps, { ledger });
 */
export async function runBatches(
  plan: FlowPlan,
  roots: readonly StepBatch[],
  registry: Registry,
  deps: EngineDeps,
  options: Omit<RunFlowOptions, 'batchRows' | 'meta'> = {},
): Promise<FlowResult> {
  const started = performance.now();
  const flowId = plan.flow.flowId;
  const runId = options.runId ?? roots[0]?.runId ?? randomUUID();
  const rowsIn = roots.reduce((n, b) => n + b.rows.length, 0);
  const steps: StepStats[] = plan.steps.map((s) => ({
    step: s.index,
    fid: s.fid,
    in: 0,
    out: 0,
    rejected: 0,
    dropped: 0,
    created: 0,
    drops: {},
    ms: 0,
  }));
  const transport = new MemoryTransport();
  const { output, rejected } = transport;
  const result = (disabled: boolean): FlowResult => ({
    output,
    rejected,
    runId,
    stats: {
      rowsIn,
      rowsOut: output.length,
      rejected: rejected.length,
      dropped: steps.reduce((n, s) => n + s.dropped, 0),
      ms: performance.now() - started,
      steps,
      disabled,
    },
  });
  if (!plan.flow.enabled) {
    deps.log?.info('flow is disabled (status: 0); nothing ran', { flow: flowId, runId });
    return result(true);
  }

  const runners = plan.steps.map(
    (_, index) => new StepRunner(plan, index, registry, deps, { handoff: options.handoff ?? 'memory' }),
  );
  const delivery = new Delivery(plan, transport, {
    ...(options.maxHops === undefined ? {} : { maxHops: options.maxHops }),
    ...(options.ledger === undefined ? {} : { ledger: options.ledger }),
    ...(options.onRunEnded === undefined ? {} : { onRunEnded: options.onRunEnded }),
  });
  let done = 0;
  for (const root of roots) {
    let batch: StepBatch | undefined = root;
    for (; batch !== undefined; batch = transport.take()) {
      const s = steps[batch.step] as StepStats;
      const ended = await delivery.ended(batch);
      if (ended !== undefined) {
        s.in += batch.rows.length;
        s.dropped += batch.rows.length;
        const code = `RUN_${ended.toUpperCase()}`;
        s.drops[code] = (s.drops[code] ?? 0) + batch.rows.length;
        break;
      }
      let outcome: Awaited<ReturnType<StepRunner['run']>>;
      try {
        outcome = await (runners[batch.step] as StepRunner).run(batch);
      } catch (err) {
        // A batch failing for a reason a retry cannot fix (TIMEOUT, COMMIT_AFTER_RETURN...) is what a
        // dead-letter queue would get in AWS: its rows are rejected with the code, the run goes on.
        // A connector that cannot work at all (no implementation, no cid) fails the whole run instead:
        // every batch would meet it.
        const permanent =
          err instanceof KisFlowError &&
          !isRetryable(err) &&
          !(err instanceof ConnectorError) &&
          batch.rows.length > 0;
        if (!permanent) throw err;
        s.in += batch.rows.length;
        s.rejected += batch.rows.length;
        const at = plan.steps[batch.step] as (typeof plan.steps)[number];
        for (const row of batch.rows) {
          rejected.push({ flowId, step: batch.step, fid: at.fid, code: err.code, reason: err.message, row });
        }
        await delivery.deadLettered(batch);
        break;
      }
      s.in += outcome.stats.in;
      s.out += outcome.stats.out;
      s.rejected += outcome.stats.rejected;
      s.dropped += outcome.stats.dropped;
      s.created += outcome.stats.created;
      for (const d of outcome.dropped) s.drops[d.code] = (s.drops[d.code] ?? 0) + d.count;
      s.ms += outcome.stats.ms;
      await delivery.deliver(batch, outcome);
    }
    done += root.rows.length;
    options.onBatch?.(done);
  }
  return result(false);
}
