import type { JobSpec, Params, ProjectConfig } from '../config/model.ts';
import { KisFlowError } from '../errors.ts';
import type { StepBatch } from '../ports.ts';
import {
  CONTROL_VERSION,
  type ControlMessage,
  type FireMessage,
  type RetryMessage,
  SQS_MAX_DELAY_SECONDS,
} from '../wire/control-message.ts';
import type { Alert } from './alerts.ts';
import { type FireOutcome, fireBatches, fireJob } from './fire-job.ts';
import { runEnded } from './run-ended.ts';
import type { RunLedger } from './run-ledger.ts';
import { shardTicks } from './shard-ticks.ts';

/**
 * How long a handler holds a run's end. Longer than any handling takes (a few ledger calls and
 * sends), short enough that an end whose handler died is taken again within minutes.
 */
export const END_LEASE_MS = 120_000;

/** What job control reaches the world through: the same ports under `kisflow dev` and on AWS. */
export interface JobControlOptions {
  readonly project: ProjectConfig;
  readonly ledger: RunLedger;
  /** Sends a started run's tick batches into its flow's first step queue. */
  readonly sendTicks: (flowId: string, batches: readonly StepBatch[]) => Promise<void>;
  /** Puts a message on the control queue, `delaySeconds` (≤ 900) from now. */
  readonly sendControl: (message: ControlMessage, delaySeconds: number) => Promise<void>;
  /** Publishes one alert (the alert topic). */
  readonly publish: (alert: Alert) => Promise<void>;
  /** One line per thing done, for the dev console and Lambda logs. @default - dropped */
  readonly log?: (line: string) => void;
  /** Epoch ms. @default Date.now */
  readonly now?: () => number;
}

/** What handling one message did (logs and tests read it). */
export type ControlResult =
  | { readonly kind: 'fired'; readonly outcome: FireOutcome['kind']; readonly runId: string }
  | { readonly kind: 'delayed'; readonly dueInMs: number }
  | {
      readonly kind: 'ended';
      readonly runId: string;
      readonly started: readonly string[];
      readonly alerts: number;
    }
  | { readonly kind: 'end_skipped'; readonly runId: string; readonly why: 'handled' | 'not_ended' }
  | { readonly kind: 'swept'; readonly timedOut: readonly string[]; readonly repaired: readonly string[] };

/**
 * Job control: every job fire becomes a run through `fireJob` (overlap, shards, timeout), and
 * every run end is handed on once through `runEnded` (the queued `serial` fire, child jobs, the
 * retry, alerts). One handler of the deployment's control queue, SDK-free: the Lambda adapter
 * (kisflow/lambda/job-control-handler.ts) and `kisflow dev` give it the ports.
 *
 * A run's end is handled exactly once: `claimEnd` is a conditional lease on the run, released for
 * good by `endHandled` after every action is done. A handler that dies mid-way leaves the lease to
 * run out; a `run-ended` that finds it held is retried by SQS, and the repair pass (`sweep`)
 * finds ends no message announced (a crash between the final write and the send, a CLI cancel).
 * Every start it makes is idempotent by run id, so a retried half-done handling starts nothing twice;
 * an alert may then be published twice, never not at all.
 *
 * @example
 * const control = new JobControl({ project, ledger, sendTicks, sendControl, publish });
 * await control.handle(decodeControl(record.body));
 */
export class JobControl {
  readonly #o: JobControlOptions;
  readonly #now: () => number;
  readonly #log: (line: string) => void;

  constructor(options: JobControlOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#log = options.log ?? (() => {});
  }

  /**
   * @throws KisFlowError `UNKNOWN_JOB` (permanent: the message names a job the project lacks),
   *   `RUN_END_HELD` (retryable: another handler holds the run's end), and the ports' errors.
   */
  async handle(message: ControlMessage): Promise<ControlResult> {
    switch (message.kind) {
      case 'fire':
        return this.#fire(message);
      case 'retry':
        return this.#retry(message);
      case 'run-ended':
        return this.#ended(message.run);
      case 'sweep':
        return this.sweep();
    }
  }

  /**
   * The timeout sweep, then the repair pass: every ended run whose end nobody handled is handled
   * now. One run's failure does not stop the others (it is found again next time).
   */
  async sweep(): Promise<Extract<ControlResult, { kind: 'swept' }>> {
    const timedOut = await this.#o.ledger.sweep();
    for (const id of timedOut) this.#log(`run ${id} timed out (no progress for its timeout)`);
    const repaired: string[] = [];
    for (const id of await this.#o.ledger.unhandledEnds()) {
      try {
        const result = await this.#ended(id);
        if (result.kind === 'ended') repaired.push(id);
      } catch (error) {
        this.#log(`run ${id}: handling its end failed, tried again at the next sweep: ${describe(error)}`);
      }
    }
    return { kind: 'swept', timedOut, repaired };
  }

  #job(jobId: string): JobSpec {
    const job = this.#o.project.jobs.get(jobId);
    if (job === undefined) {
      throw new KisFlowError(
        'UNKNOWN_JOB',
        `The control message names job '${jobId}', which this deployment does not have (jobs: ${[...this.#o.project.jobs.keys()].join(', ') || 'none'}). Redeploy the shared stack after adding a job.`,
        { jobId },
        { retryable: false },
      );
    }
    return job;
  }

  async #fire(message: FireMessage): Promise<ControlResult> {
    const job = this.#job(message.job);
    const scheduledAt = new Date(message.at);
    if (Number.isNaN(scheduledAt.getTime())) {
      throw new KisFlowError(
        'INVALID_CONTROL_MESSAGE',
        `The fire of job '${job.jobId}' has no valid time: ${JSON.stringify(message.at)} (ISO 8601 expected).`,
        { jobId: job.jobId, at: message.at },
        { retryable: false },
      );
    }
    const outcome = await fireJob(this.#o.ledger, {
      job,
      scheduledAt,
      trigger: message.trigger ?? 'schedule',
      ...(message.params === undefined ? {} : { params: message.params as Params }),
      ...(message.run === undefined ? {} : { runId: message.run }),
    });
    return this.#afterFire(job, outcome);
  }

  async #retry(message: RetryMessage): Promise<ControlResult> {
    const wait = message.due - this.#now();
    // SQS may hand a delayed message over up to a second early; that is close enough.
    if (wait > 1000) {
      const delay = Math.min(SQS_MAX_DELAY_SECONDS, Math.ceil(wait / 1000));
      await this.#o.sendControl(message, delay);
      return { kind: 'delayed', dueInMs: wait };
    }
    const job = this.#job(message.job);
    const outcome = await fireJob(this.#o.ledger, {
      job,
      scheduledAt: new Date(message.due),
      trigger: 'retry',
      runId: message.run,
      parentRunId: message.parent,
      ...(message.params === undefined ? {} : { params: message.params as Params }),
    });
    return this.#afterFire(job, outcome);
  }

  async #afterFire(job: JobSpec, outcome: FireOutcome): Promise<ControlResult> {
    const runId = outcome.kind === 'queued' ? outcome.runId : outcome.run.id;
    if (outcome.kind === 'started') {
      await this.#o.sendTicks(job.flowId, fireBatches(job, outcome));
      this.#log(
        `job ${job.jobId}: run ${runId} started in flow ${job.flowId} (${outcome.ticks.length} shard(s))`,
      );
      // The covered run was cancelled here: its end is handed on like any other.
      if (outcome.covered !== undefined) {
        this.#log(`job ${job.jobId}: run ${outcome.covered} cancelled for ${runId} (cover_early)`);
        await this.#ended(outcome.covered).catch((error: unknown) =>
          this.#log(`run ${outcome.covered}: its end is left to the repair pass: ${describe(error)}`),
        );
      }
    } else if (outcome.kind === 'duplicate') {
      // A redelivered fire whose first handling may have died between the start and the sends:
      // a run with no batch counted yet gets its ticks again (batch ids are the same, so a tick
      // that did arrive is counted once).
      const run = outcome.run;
      if (run.status === 'running' && run.batches.done === 0 && run.jobId === job.jobId) {
        await this.#o.sendTicks(
          job.flowId,
          fireBatches(job, {
            kind: 'started',
            run,
            ticks: shardTicks(
              { ...job, params: run.params as Params },
              run.id,
              new Date(run.scheduledAt ?? run.started),
              run.batches.roots,
            ),
          }),
        );
      }
    } else if (outcome.kind === 'queued') {
      this.#log(`job ${job.jobId}: fire ${runId} queued behind run ${outcome.behind}`);
    } else {
      this.#log(`job ${job.jobId}: fire ${runId} skipped (${outcome.run.reason ?? 'overlap'})`);
    }
    return { kind: 'fired', outcome: outcome.kind, runId };
  }

  async #ended(runId: string): Promise<ControlResult> {
    const { ledger, project } = this.#o;
    const claim = await ledger.claimEnd(runId, END_LEASE_MS);
    if (claim.kind === 'handled' || claim.kind === 'not_ended')
      return { kind: 'end_skipped', runId, why: claim.kind };
    if (claim.kind === 'held') {
      throw new KisFlowError(
        'RUN_END_HELD',
        `The end of run ${runId} is being handled elsewhere (lease until ${new Date(claim.until).toISOString()}); retried later.`,
        { runId, until: claim.until },
        { retryable: true },
      );
    }
    const run = claim.run;
    const actions = await runEnded(ledger, project, run);
    for (const started of actions.started) {
      const job = project.jobs.get(started.run.jobId ?? '');
      if (job === undefined) continue;
      await this.#o.sendTicks(job.flowId, fireBatches(job, started));
      this.#log(`job ${job.jobId}: run ${started.run.id} started (${started.run.trigger}, after ${run.id})`);
    }
    for (const deferred of actions.deferred) {
      const id = deferred.kind === 'queued' ? deferred.runId : deferred.run.id;
      this.#log(`run ${id} (after ${run.id}): ${deferred.kind}`);
    }
    if (actions.retry !== undefined) {
      const { fire, delayMs } = actions.retry;
      const message: RetryMessage = {
        v: CONTROL_VERSION,
        kind: 'retry',
        job: fire.job.jobId,
        run: fire.runId as string,
        parent: run.id,
        due: this.#now() + delayMs,
        ...(fire.params === undefined ? {} : { params: fire.params }),
      };
      await this.#o.sendControl(message, Math.min(SQS_MAX_DELAY_SECONDS, Math.ceil(delayMs / 1000)));
      this.#log(`run ${run.id} ${run.status}: retry ${message.run} in ${Math.round(delayMs / 1000)} s`);
    }
    for (const alert of actions.alerts) {
      await this.#o.publish(alert);
      this.#log(`ALERT ${alert.rule}: ${alert.message}`);
    }
    await ledger.endHandled(run.id);
    return {
      kind: 'ended',
      runId: run.id,
      started: actions.started.map((s) => s.run.id),
      alerts: actions.alerts.length,
    };
  }
}

function describe(error: unknown): string {
  if (error instanceof KisFlowError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
