import type { JobSpec, Params } from '../config/model.ts';
import { safeId } from '../config/names.ts';
import type { StepBatch } from '../ports.ts';
import { jobPolicy } from './job-policy.ts';
import { decideOverlap } from './overlap.ts';
import type { RunLedger, RunRecord, RunStart, RunTrigger } from './run-ledger.ts';
import { type ShardTick, shardTicks } from './shard-ticks.ts';

export interface Fire {
  readonly job: JobSpec;
  /** The schedule time this fire is for (a manual trigger: now). */
  readonly scheduledAt: Date;
  readonly trigger: RunTrigger;
  /** Params given with a manual trigger; they override the job's. */
  readonly params?: Params;
  /** @default fireRunId(job, scheduledAt) (manual triggers should give a fresh id) */
  readonly runId?: string;
  readonly parentRunId?: string;
}

export type FireOutcome =
  /** Send `ticks` into the flow's first step. `covered`: the run cancelled to make room (cover_early). */
  | {
      readonly kind: 'started';
      readonly run: RunRecord;
      readonly ticks: readonly ShardTick[];
      readonly covered?: string;
    }
  /** This fire was seen before (a redelivered schedule event): send nothing. */
  | { readonly kind: 'duplicate'; readonly run: RunRecord }
  /** overlap `serial`: queued behind `behind`; `startQueued` starts it when that run ends. */
  | { readonly kind: 'queued'; readonly runId: string; readonly behind: string }
  /** overlap `discard_later`: recorded as a skipped run. */
  | { readonly kind: 'skipped'; readonly run: RunRecord };

/** The run id of a scheduled fire: the same as the tick batch id the local scheduler gives it. */
export function fireRunId(job: JobSpec, scheduledAt: Date): string {
  return `job-${safeId(job.jobId, 60)}-${scheduledAt.getTime()}`;
}

function runStart(fire: Fire): RunStart {
  const policy = jobPolicy(fire.job);
  return {
    runId: fire.runId ?? fireRunId(fire.job, fire.scheduledAt),
    flowId: fire.job.flowId,
    jobId: fire.job.jobId,
    trigger: fire.trigger,
    params: { ...fire.job.params, ...fire.params },
    roots: policy.shards,
    scheduledAt: fire.scheduledAt.getTime(),
    exclusive: true,
    ...(policy.timeoutMs === undefined ? {} : { timeoutMs: policy.timeoutMs }),
    ...(policy.scene === undefined ? {} : { scene: policy.scene }),
    ...(fire.parentRunId === undefined ? {} : { parentRunId: fire.parentRunId }),
  };
}

function ticksOf(fire: Fire, run: RunRecord): ShardTick[] {
  const job = { ...fire.job, params: run.params as Params };
  return shardTicks(job, run.id, fire.scheduledAt, run.batches.roots);
}

/**
 * Starts a job's run through the ledger, applying its overlap policy against the run that holds
 * the job for the whole deployment (the ledger's exclusive slot, not a per-machine lock).
 *
 * @example
 * const outcome = await fireJob(ledger, { job, scheduledAt, trigger: 'schedule' });
 * if (outcome.kind === 'started') for (const tick of outcome.ticks) await send(tick);
 */
export async function fireJob(ledger: RunLedger, fire: Fire): Promise<FireOutcome> {
  const start = runStart(fire);
  // A schedule's fire for a paused job (on AWS the schedule's own state change may lag the
  // ledger's) is kept as skipped, and not noted as fired: on resume it counts as missed.
  const scheduled = fire.trigger === 'schedule' || fire.trigger === 'misfire';
  if (scheduled) {
    const state = await ledger.jobState(fire.job.jobId);
    if (state.state === 'paused') {
      const why = `job paused${state.reason === undefined ? '' : `: ${state.reason}`}`;
      return { kind: 'skipped', run: await ledger.skip({ ...start, exclusive: false }, why) };
    }
  }
  const outcome = await startFire(ledger, fire, start);
  if (scheduled) await ledger.noteFire(fire.job.jobId, fire.scheduledAt.getTime());
  return outcome;
}

async function startFire(ledger: RunLedger, fire: Fire, start: RunStart): Promise<FireOutcome> {
  let covered: string | undefined;
  // Bounded: each round either starts, or cancels one holder (cover_early) and tries again.
  for (let round = 0; round < 3; round++) {
    const result = await ledger.start(start);
    if (result.kind === 'started') {
      return {
        kind: 'started',
        run: result.run,
        ticks: ticksOf(fire, result.run),
        ...(covered ? { covered } : {}),
      };
    }
    if (result.kind === 'exists') return { kind: 'duplicate', run: result.run };
    const decision = decideOverlap(jobPolicy(fire.job).overlap, result.holder, start.runId);
    if (decision.action === 'queue') {
      await ledger.enqueue(start, fire.scheduledAt.getTime());
      return { kind: 'queued', runId: start.runId, behind: decision.behind };
    }
    if (decision.action === 'skip') {
      return { kind: 'skipped', run: await ledger.skip({ ...start, exclusive: false }, decision.reason) };
    }
    await ledger.cancel(decision.cancel, decision.reason);
    covered = decision.cancel;
  }
  const run = await ledger.skip(
    { ...start, exclusive: false },
    'the job stayed held while covering (overlap: cover_early)',
  );
  return { kind: 'skipped', run };
}

/**
 * When a run of a `serial` job ends: starts the oldest fire queued behind it. A fire that finds
 * the job held again (another process got there first) goes back to the queue.
 */
export async function startQueued(
  ledger: RunLedger,
  job: JobSpec,
): Promise<Extract<FireOutcome, { kind: 'started' }> | undefined> {
  const queued = await ledger.dequeue(job.jobId);
  if (!queued) return undefined;
  const scheduledAt = queued.scheduledAt ?? Date.now();
  const result = await ledger.start(queued);
  if (result.kind === 'blocked') {
    await ledger.enqueue(queued, scheduledAt);
    return undefined;
  }
  if (result.kind === 'exists') return undefined;
  const params = result.run.params as Params;
  return {
    kind: 'started',
    run: result.run,
    ticks: shardTicks({ ...job, params }, result.run.id, new Date(scheduledAt), result.run.batches.roots),
  };
}

/** The batches a started fire sends into its flow's first step: one per shard. */
export function fireBatches(job: JobSpec, outcome: Extract<FireOutcome, { kind: 'started' }>): StepBatch[] {
  return outcome.ticks.map((tick) => ({
    flowId: job.flowId,
    step: 0,
    runId: outcome.run.id,
    batchId: tick.batchId,
    rows: tick.rows.map((r) => ({ ...r })),
    meta: tick.meta,
  }));
}
