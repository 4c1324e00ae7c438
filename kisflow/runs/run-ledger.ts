/**
 * The run ledger port: what the scheduling layer records about runs. This file imports nothing
 * of the project; the memory ledger (kisflow/runs/memory-run-ledger.ts) and the DynamoDB one
 * (kisflow/aws/dynamodb-run-ledger.ts) implement it and pass the same contract suite.
 */

/** What started a run (XXL-JOB's trigger types). */
export type RunTrigger = 'schedule' | 'manual' | 'api' | 'retry' | 'child' | 'misfire';
export const RUN_TRIGGERS: readonly RunTrigger[] = ['schedule', 'manual', 'api', 'retry', 'child', 'misfire'];

/**
 * `skipped`: a fire an overlap policy (`discard_later`) did not start; recorded so the job's
 * history shows it. Every status but `running` is final.
 */
export type RunStatus =
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'partial'
  | 'timed_out'
  | 'cancelled'
  | 'skipped';
export const RUN_STATUSES: readonly RunStatus[] = [
  'running',
  'succeeded',
  'failed',
  'partial',
  'timed_out',
  'cancelled',
  'skipped',
];

/** Rows one step handled. `dropped`: left out on purpose (a timed-out run's rows, `abort`). */
export interface StepCounters {
  readonly in: number;
  readonly out: number;
  readonly rejected: number;
  readonly dropped: number;
  readonly deadLettered: number;
  readonly errors: number;
}
export const STEP_COUNTERS: readonly (keyof StepCounters)[] = [
  'in',
  'out',
  'rejected',
  'dropped',
  'deadLettered',
  'errors',
];

/** The AWS requests a run caused, as billed (see cost.ts). */
export interface RunUsage {
  /** SQS requests, each 64 KB chunk of a payload counted as one request (as SQS bills them). */
  readonly sqsRequests: number;
  readonly lambdaInvocations: number;
  readonly lambdaGbSeconds: number;
  readonly dynamodbReadUnits: number;
  readonly dynamodbWriteUnits: number;
}
export const USAGE_FIELDS: readonly (keyof RunUsage)[] = [
  'sqsRequests',
  'lambdaInvocations',
  'lambdaGbSeconds',
  'dynamodbReadUnits',
  'dynamodbWriteUnits',
];

export interface RunStart {
  readonly runId: string;
  readonly flowId: string;
  readonly jobId?: string;
  readonly trigger: RunTrigger;
  readonly params?: Readonly<Record<string, unknown>>;
  /** Batches the trigger sends into the flow's first step (`shards: N` sends N). 0 finishes at once. */
  readonly roots: number;
  /** No progress for this long and the sweep marks the run `timed_out`. Unset: never. */
  readonly timeoutMs?: number;
  /** Seconds the record is kept after it starts (DynamoDB TTL). Unset: the ledger's default. */
  readonly retentionSeconds?: number;
  /** The run this one repairs (`retry`) or follows (`child`). */
  readonly parentRunId?: string;
  readonly scene?: string;
  /** The schedule time a job's fire is for (epoch ms); it orders fires queued behind a run. */
  readonly scheduledAt?: number;
  /**
   * Hold the job's slot while running: a start while another run of the same job holds it
   * returns `blocked` instead of starting. This is what makes overlap policies deployment-wide.
   */
  readonly exclusive?: boolean;
}

export type StartResult =
  | { readonly kind: 'started'; readonly run: RunRecord }
  /** The same run id was started before (a redelivered fire): nothing changed. */
  | { readonly kind: 'exists'; readonly run: RunRecord }
  /** `exclusive` and another run of the job is running: nothing was started. */
  | { readonly kind: 'blocked'; readonly holder: string };

/**
 * One batch of a run, done. Record it BEFORE sending the batch's children: the run is complete
 * when roots + Σ children == batches done, so a child must never be counted done before the
 * parent that announced it. A redelivered batch recomputes the same children (deterministic
 * batch ids) and its completion is a no-op.
 */
export interface BatchCompletion {
  readonly runId: string;
  readonly batchId: string;
  /** Index of the step that processed the batch. */
  readonly step: number;
  readonly fid?: string;
  readonly counters?: Partial<StepCounters>;
  /** Batches this one sent on (to the next step, or fanned out by Expand). */
  readonly children?: number;
  readonly usage?: Partial<RunUsage>;
  /** `dead_lettered`: the batch failed every attempt and went to its DLQ. @default 'processed' */
  readonly outcome?: 'processed' | 'dead_lettered';
  /** How long the step ran on the batch (ms): the step's timings count batches that give it. */
  readonly durationMs?: number;
  /** When the batch was done (epoch ms): a completion handed on in a child is recorded later. @default - now */
  readonly at?: number;
}

/**
 * A redelivered batch's completion changes nothing, but is not reported as such: the DynamoDB
 * ledger appends completions and counts each batch id once when it sums them.
 */
export interface CompletionResult {
  /** Set when this call moved the run to its final status. */
  readonly finished?: RunStatus;
}

/** When a step ran and how long its batches took (batches that reported a duration). */
export interface StepTimings {
  /** Start of the first batch counted (epoch ms). */
  readonly firstAt: number;
  /** End of the last batch counted (epoch ms). */
  readonly lastAt: number;
  readonly batches: number;
  readonly totalMs: number;
  /** At most 9 % above the true p95 (see batch-durations.ts). */
  readonly p95Ms: number;
}

export interface StepRecord extends StepCounters {
  readonly index: number;
  readonly fid?: string;
  readonly timings?: StepTimings;
}

export interface RunRecord {
  readonly id: string;
  readonly flowId: string;
  readonly jobId?: string;
  readonly trigger: RunTrigger;
  readonly status: RunStatus;
  readonly params: Readonly<Record<string, unknown>>;
  /** Epoch milliseconds. */
  readonly started: number;
  readonly finished?: number;
  /** Last batch completion (or the start): what the timeout sweep measures. */
  readonly lastProgress: number;
  readonly timeoutMs?: number;
  readonly parentRunId?: string;
  readonly scene?: string;
  /** The schedule time of a job's fire (epoch ms): where misfire detection starts counting. */
  readonly scheduledAt?: number;
  /** Why the run ended as it did (cancel reason, timeout), when not from its counters. */
  readonly reason?: string;
  readonly batches: {
    readonly roots: number;
    readonly spawned: number;
    readonly done: number;
    readonly deadLettered: number;
  };
  readonly steps: readonly StepRecord[];
  readonly usage: RunUsage;
}

export interface RunQuery {
  readonly flowId?: string;
  readonly jobId?: string;
  readonly status?: RunStatus;
  readonly trigger?: RunTrigger;
  /** Started at or after (epoch ms). @default - the ledger's retention window */
  readonly since?: number;
  /** Started before (epoch ms). */
  readonly until?: number;
  /** @default 1000 */
  readonly limit?: number;
}

/**
 * One batch of a continuous stream (a queue or event source with no end). `at` is when the
 * batch was made (its first send), never when it was processed, so a redelivery lands in the
 * same bucket and is recognised there.
 */
export interface StreamBatch {
  readonly flowId: string;
  readonly batchId: string;
  readonly step: number;
  readonly at: number;
  readonly counters: Partial<StepCounters>;
}

export interface StreamBucket extends StepCounters {
  readonly flowId: string;
  readonly step: number;
  /** Start of the bucket, epoch ms. */
  readonly start: number;
  readonly batches: number;
}

export interface StreamQuery {
  readonly flowId: string;
  readonly granularity: 'minute' | 'hour';
  readonly since: number;
  readonly until: number;
}

/**
 * A job's operating state, kept deployment-wide in the ledger. `paused` (`kisflow jobs pause`):
 * its fires are not started; YAML `status: 0` is another matter (the job is not deployed at all).
 */
export type JobRunState = 'enabled' | 'paused';

export interface JobState {
  readonly jobId: string;
  /** `enabled` for a job never paused. */
  readonly state: JobRunState;
  /** Why it was paused or resumed, as the operator gave it. */
  readonly reason?: string;
  /** When the state last changed (epoch ms). */
  readonly changedAt?: number;
  /**
   * The latest schedule time a fire of the job was handled for (started, queued or skipped by an
   * overlap policy; epoch ms): where misfire detection starts counting after a restart or a resume.
   */
  readonly lastFire?: number;
}

/**
 * Who handles a run's end (job-control.ts): the first caller of `claimEnd` holds it for a lease;
 * `endHandled` makes it final. A claim whose holder died (its lease ran out) can be taken again.
 */
export type EndClaim =
  | { readonly kind: 'claimed'; readonly run: RunRecord }
  /** Handled before (a redelivered `run-ended`, the repair pass after the message). */
  | { readonly kind: 'handled' }
  /** Another handler holds it until `until` (epoch ms). */
  | { readonly kind: 'held'; readonly until: number }
  /** Still running, or no such run. */
  | { readonly kind: 'not_ended' };

/**
 * Where runs are tracked: once per batch, idempotently by batch id, so completion is exact.
 *
 * @example
 * await ledger.start({ runId, flowId: 'Orders', trigger: 'manual', roots: 1 });
 * await ledger.complete({ runId, batchId, step: 0, counters: { in: 10, out: 10 }, children: 1 });
 */
export interface RunLedger {
  start(run: RunStart): Promise<StartResult>;
  complete(batch: BatchCompletion): Promise<CompletionResult>;
  /**
   * Completions of one run recorded together, in order (a batch's own and those handed on to it:
   * ports.ts `StepBatch.carry`), as atomically as the store allows: parents are never counted
   * without the children they announced being countable after them.
   */
  completeMany(batches: readonly BatchCompletion[]): Promise<CompletionResult>;
  /** Records a fire an overlap policy skipped, as a run with status `skipped`. */
  skip(run: RunStart, reason: string): Promise<RunRecord>;
  /** Moves a running run to `cancelled`; false when it was not running. */
  cancel(runId: string, reason?: string): Promise<boolean>;
  get(runId: string): Promise<RunRecord | undefined>;
  /**
   * Only the status (one small read): what a step checks before processing a batch, to drop the
   * batches of a cancelled or timed-out run with a reason instead of running them.
   */
  status(runId: string): Promise<RunStatus | undefined>;
  /** Claims the handling of an ended run's end (see EndClaim). */
  claimEnd(runId: string, leaseMs: number): Promise<EndClaim>;
  /** Marks a claimed end handled: no claim succeeds again and `unhandledEnds` leaves it out. */
  endHandled(runId: string): Promise<void>;
  /**
   * Runs that ended with their end neither handled nor held (a crash between the final write and
   * the `run-ended` send, a `cancel` from the CLI): what the repair pass hands to job control.
   * Skipped runs are born handled.
   */
  unhandledEnds(): Promise<string[]>;
  /** Newest first. */
  list(query?: RunQuery): Promise<RunRecord[]>;
  /** Marks `timed_out` every running run with no progress for its timeout; returns their ids. */
  sweep(): Promise<string[]>;
  /**
   * Queues a fire behind the run holding its job (overlap `serial`), oldest `queuedAt` first;
   * queuing the same run id twice keeps one.
   */
  enqueue(run: RunStart, queuedAt: number): Promise<void>;
  /** Takes the oldest queued fire of a job, once: two callers never get the same one. */
  dequeue(jobId: string): Promise<RunStart | undefined>;
  /**
   * Counts a stream batch in its minute. A batch recorded again (a redelivery: the same `at`, so
   * the same minute) is counted once in `streamBuckets`.
   */
  recordStream(batch: StreamBatch): Promise<void>;
  /** Per-step buckets, oldest first. */
  streamBuckets(query: StreamQuery): Promise<StreamBucket[]>;

  // Job state: pause/resume and the last fire misfire detection counts from.
  /** The job's state; `{ state: 'enabled' }` for a job the ledger has never seen. */
  jobState(jobId: string): Promise<JobState>;
  /** Pauses or resumes a job for the whole deployment; returns the state now stored. */
  setJobState(jobId: string, state: JobRunState, reason?: string): Promise<JobState>;
  /** Records that a fire for `scheduledAt` (epoch ms) was handled; an older time never overwrites a newer one. */
  noteFire(jobId: string, scheduledAt: number): Promise<void>;

  // Claims: one holder at a time of an operation on a key (`runs retry` moving a run's dead letters).
  /**
   * Takes `key` for `holder` until now + `leaseMs`; false while another holder's lease runs. The
   * lease is what frees a key whose holder crashed; the same holder may take it again (renew).
   */
  claim(key: string, holder: string, leaseMs: number): Promise<boolean>;
  /** Gives `key` back, if `holder` still holds it. */
  release(key: string, holder: string): Promise<void>;
  /** Whether the fire `runId` waits queued behind a run of its job (overlap `serial`). */
  isQueued(jobId: string, runId: string): Promise<boolean>;
}
