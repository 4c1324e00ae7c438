import { type KeptDurations, keepDuration, stepTimings } from './batch-durations.ts';
import {
  addCounters,
  addUsage,
  bucketStart,
  finalStatus,
  HOUR_MS,
  isComplete,
  MINUTE_MS,
  NO_COUNTS,
  rollUp,
} from './run-accounting.ts';
import type {
  BatchCompletion,
  CompletionResult,
  EndClaim,
  JobRunState,
  JobState,
  RunLedger,
  RunQuery,
  RunRecord,
  RunStart,
  RunStatus,
  StartResult,
  StepRecord,
  StepTimings,
  StreamBatch,
  StreamBucket,
  StreamQuery,
} from './run-ledger.ts';
import { listMatches, skippedRecord, startedRecord } from './run-records.ts';

interface MemoryRun {
  record: RunRecord;
  done: Set<string>;
  /** Who handles the run's end: absent until claimed. */
  end?: { handled: boolean; until: number };
  /** Per step: what its timings are computed from. */
  durations?: Map<number, KeptDurations>;
}

export interface MemoryRunLedgerOptions {
  /** Epoch milliseconds. @default Date.now */
  readonly now?: () => number;
}

/**
 * The run ledger in process memory, for `kisflow run` and tests. Each call is atomic (no await
 * between its read and its write), which is what the DynamoDB ledger gets from conditional writes.
 *
 * @example
 * const ledger = new MemoryRunLedger();
 * await ledger.start({ runId: 'r1', flowId: 'Orders', trigger: 'manual', roots: 1 });
 */
export class MemoryRunLedger implements RunLedger {
  readonly #runs = new Map<string, MemoryRun>();
  readonly #slots = new Map<string, string>();
  readonly #claims = new Map<string, { holder: string; until: number }>();
  readonly #queues = new Map<string, { run: RunStart; queuedAt: number }[]>();
  readonly #minutes = new Map<string, { bucket: StreamBucket; done: Set<string> }>();
  readonly #jobs = new Map<string, JobState>();
  readonly #now: () => number;

  constructor(options: MemoryRunLedgerOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  async start(run: RunStart): Promise<StartResult> {
    const existing = this.#runs.get(run.runId);
    if (existing) return { kind: 'exists', run: existing.record };
    if (run.exclusive && run.jobId !== undefined) {
      const holder = this.#slots.get(run.jobId);
      if (holder !== undefined && this.#runs.get(holder)?.record.status === 'running') {
        return { kind: 'blocked', holder };
      }
      this.#slots.set(run.jobId, run.runId);
    }
    const entry = { record: startedRecord(run, this.#now()), done: new Set<string>() };
    this.#runs.set(run.runId, entry);
    if (run.roots === 0) this.#finish(entry, 'succeeded');
    return { kind: 'started', run: entry.record };
  }

  async skip(run: RunStart, reason: string): Promise<RunRecord> {
    const existing = this.#runs.get(run.runId);
    if (existing) return existing.record;
    const record = skippedRecord(run, this.#now(), reason);
    this.#runs.set(run.runId, { record, done: new Set(), end: { handled: true, until: 0 } });
    return record;
  }

  async completeMany(batches: readonly BatchCompletion[]): Promise<CompletionResult> {
    let result: CompletionResult = {};
    for (const batch of batches) {
      const one = await this.complete(batch);
      if (one.finished !== undefined) result = one;
    }
    return result;
  }

  async complete(batch: BatchCompletion): Promise<CompletionResult> {
    const entry = this.#runs.get(batch.runId);
    if (!entry) return {};
    if (entry.done.has(batch.batchId)) return {};
    entry.done.add(batch.batchId);
    const r = entry.record;
    const deadLettered = batch.outcome === 'dead_lettered' ? 1 : 0;
    const steps = new Map(r.steps.map((s) => [s.index, s]));
    // A completion with neither counters nor fid (a retry's announcement) is no step's work.
    if (batch.counters !== undefined || batch.fid !== undefined || batch.durationMs !== undefined) {
      const step = steps.get(batch.step) ?? { index: batch.step, fid: batch.fid, ...NO_COUNTS };
      const timings = this.#time(entry, batch);
      steps.set(batch.step, {
        ...step,
        fid: step.fid ?? batch.fid,
        ...addCounters(step, batch.counters),
        ...(timings === undefined ? {} : { timings }),
      });
    }
    entry.record = {
      ...r,
      lastProgress: this.#now(),
      batches: {
        roots: r.batches.roots,
        spawned: r.batches.spawned + (batch.children ?? 0),
        done: r.batches.done + 1,
        deadLettered: r.batches.deadLettered + deadLettered,
      },
      steps: [...steps.values()].sort((a, b) => a.index - b.index) as StepRecord[],
      usage: addUsage(r.usage, batch.usage),
    };
    if (entry.record.status !== 'running' || !isComplete(entry.record.batches)) return {};
    const status = finalStatus(entry.record.batches, entry.record.steps);
    this.#finish(entry, status);
    return { finished: status };
  }

  async cancel(runId: string, reason = 'cancelled'): Promise<boolean> {
    const entry = this.#runs.get(runId);
    if (entry?.record.status !== 'running') return false;
    this.#finish(entry, 'cancelled', reason);
    return true;
  }

  async claimEnd(runId: string, leaseMs: number): Promise<EndClaim> {
    const entry = this.#runs.get(runId);
    if (entry === undefined || entry.record.status === 'running') return { kind: 'not_ended' };
    const now = this.#now();
    if (entry.end?.handled) return { kind: 'handled' };
    if (entry.end !== undefined && entry.end.until > now) return { kind: 'held', until: entry.end.until };
    entry.end = { handled: false, until: now + leaseMs };
    return { kind: 'claimed', run: entry.record };
  }

  async endHandled(runId: string): Promise<void> {
    const entry = this.#runs.get(runId);
    if (entry !== undefined) entry.end = { handled: true, until: 0 };
  }

  async unhandledEnds(): Promise<string[]> {
    const now = this.#now();
    return [...this.#runs.values()]
      .filter((e) => e.record.status !== 'running' && !e.end?.handled && (e.end?.until ?? 0) <= now)
      .map((e) => e.record.id);
  }

  async get(runId: string): Promise<RunRecord | undefined> {
    return this.#runs.get(runId)?.record;
  }

  async status(runId: string): Promise<RunStatus | undefined> {
    return this.#runs.get(runId)?.record.status;
  }

  async list(query: RunQuery = {}): Promise<RunRecord[]> {
    const all = [...this.#runs.values()].map((e) => e.record);
    return listMatches(all, query, this.#now());
  }

  async sweep(): Promise<string[]> {
    const now = this.#now();
    const timedOut: string[] = [];
    for (const entry of this.#runs.values()) {
      const r = entry.record;
      if (r.status !== 'running' || r.timeoutMs === undefined || now - r.lastProgress <= r.timeoutMs)
        continue;
      this.#finish(entry, 'timed_out', `no progress for ${r.timeoutMs} ms (timeout)`);
      timedOut.push(r.id);
    }
    return timedOut;
  }

  async enqueue(run: RunStart, queuedAt: number): Promise<void> {
    const jobId = run.jobId ?? '';
    const queue = this.#queues.get(jobId) ?? [];
    if (queue.some((q) => q.run.runId === run.runId)) return;
    queue.push({ run, queuedAt });
    queue.sort((a, b) => a.queuedAt - b.queuedAt || (a.run.runId < b.run.runId ? -1 : 1));
    this.#queues.set(jobId, queue);
  }

  async dequeue(jobId: string): Promise<RunStart | undefined> {
    return this.#queues.get(jobId)?.shift()?.run;
  }

  async recordStream(batch: StreamBatch): Promise<void> {
    const start = bucketStart(batch.at, MINUTE_MS);
    const key = `${batch.flowId}\u0000${batch.step}\u0000${start}`;
    const minute = this.#minutes.get(key) ?? {
      bucket: { flowId: batch.flowId, step: batch.step, start, batches: 0, ...NO_COUNTS },
      done: new Set<string>(),
    };
    if (minute.done.has(batch.batchId)) return;
    minute.done.add(batch.batchId);
    const b = minute.bucket;
    minute.bucket = { ...b, ...addCounters(b, batch.counters), batches: b.batches + 1 };
    this.#minutes.set(key, minute);
  }

  async streamBuckets(query: StreamQuery): Promise<StreamBucket[]> {
    const minutes = [...this.#minutes.values()]
      .map((m) => m.bucket)
      .filter((b) => b.flowId === query.flowId && b.start >= query.since && b.start < query.until);
    return rollUp(minutes, query.granularity === 'hour' ? HOUR_MS : MINUTE_MS);
  }

  // Job state: pause/resume and the last fire.
  async jobState(jobId: string): Promise<JobState> {
    return this.#job(jobId);
  }

  #job(jobId: string): JobState {
    return this.#jobs.get(jobId) ?? { jobId, state: 'enabled' };
  }

  async setJobState(jobId: string, state: JobRunState, reason?: string): Promise<JobState> {
    const { reason: _old, ...kept } = this.#job(jobId);
    const next = { ...kept, state, changedAt: this.#now(), ...(reason === undefined ? {} : { reason }) };
    this.#jobs.set(jobId, next);
    return next;
  }

  async noteFire(jobId: string, scheduledAt: number): Promise<void> {
    const current = this.#job(jobId);
    if ((current.lastFire ?? -1) < scheduledAt) this.#jobs.set(jobId, { ...current, lastFire: scheduledAt });
  }

  #time(entry: MemoryRun, batch: BatchCompletion): StepTimings | undefined {
    entry.durations ??= new Map();
    let d = entry.durations.get(batch.step);
    if (batch.durationMs !== undefined) {
      d = keepDuration(d, batch.durationMs, batch.at ?? this.#now());
      entry.durations.set(batch.step, d);
    }
    return d === undefined ? undefined : stepTimings(d);
  }

  async claim(key: string, holder: string, leaseMs: number): Promise<boolean> {
    const now = this.#now();
    const held = this.#claims.get(key);
    if (held !== undefined && held.holder !== holder && held.until > now) return false;
    this.#claims.set(key, { holder, until: now + leaseMs });
    return true;
  }

  async isQueued(jobId: string, runId: string): Promise<boolean> {
    return this.#queues.get(jobId)?.some((q) => q.run.runId === runId) ?? false;
  }

  async release(key: string, holder: string): Promise<void> {
    if (this.#claims.get(key)?.holder === holder) this.#claims.delete(key);
  }

  #finish(entry: MemoryRun, status: RunStatus, reason?: string): void {
    const r = entry.record;
    entry.record = { ...r, status, finished: this.#now(), ...(reason === undefined ? {} : { reason }) };
    if (r.jobId !== undefined && this.#slots.get(r.jobId) === r.id) this.#slots.delete(r.jobId);
  }
}
