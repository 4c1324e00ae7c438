/*
 * The RunLedger port on DynamoDB. Over 250 lines on purpose: every operation of the ledger is a
 * conditional write on one item layout (RUN_TABLE below), and its exactness rests on those
 * conditions reading together; split by operation, each part would restate the layout.
 */

import { randomUUID } from 'node:crypto';
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { InfrastructureError } from '../errors.ts';
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
  sumCompletions,
} from '../runs/run-accounting.ts';
import {
  type BatchCompletion,
  type CompletionResult,
  type EndClaim,
  type JobRunState,
  type JobState,
  type RunLedger,
  type RunQuery,
  type RunRecord,
  type RunStart,
  type RunStatus,
  type RunTrigger,
  type RunUsage,
  STEP_COUNTERS,
  type StartResult,
  type StepCounters,
  type StreamBatch,
  type StreamBucket,
  type StreamQuery,
  USAGE_FIELDS,
} from '../runs/run-ledger.ts';
import { DEFAULT_RETENTION_SECONDS, listMatches, skippedRecord, startedRecord } from '../runs/run-records.ts';
import { decodeCompletions, encodeCompletions } from '../wire/completion-record.ts';
import { TTL_ATTRIBUTE } from '../wire/table-keys.ts';

/**
 * The runs table, in one place: key `pk` (S, HASH) + `sk` (S, RANGE), TTL on `ttl`.
 * - `run#<id>` / `run`: the run record (status, params, times, roots);
 * - `run#<id>` / `recs#<written>#<uuid>`: a bundle of batch completions written together (its
 *   `recs`: completion-record.ts's JSON); the run's counters are summed from them, each batch id once;
 *   the run item's `t_net` tallies them (see `#commit`) to tell when the exact sum is worth reading;
 * - `day#<yyyy-mm-dd>` / `<started>#<id>`: the list index by start day;
 * - `active` / `<id>`: runs running, or ended with their end not yet handled (the timeout sweep
 *   and the repair pass read it; `endHandled` removes it);
 * - `job#<job>` / `slot`: the run holding an exclusive job;
 * - `job#<job>` / `queue#<queued>#<id>`: fires queued behind it (overlap `serial`);
 * - `job#<job>` / `state`: paused or enabled, why, and the last fire handled (no TTL: it outlives runs);
 * - `stream#<flow>` / `<minute>#recs#<uuid>`: a bundle of a continuous stream's batches of that
 *   minute (completion-record.ts's JSON, each with its step and counters), summed per step;
 * - `claim#<key>` / `claim`: who holds an operation (`claim`), until when.
 */
export const RUN_TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  // Every KisFlow table's TTL attribute: the CDK table (infra/kisflow-table.ts) turns TTL on by it.
  ttlAttribute: TTL_ATTRIBUTE,
  runItem: (id: string) => ({ pk: `run#${id}`, sk: 'run' }),
  bundleItem: (id: string, written: number, unique: string) => ({
    pk: `run#${id}`,
    sk: `recs#${pad(written, 15)}#${unique}`,
  }),
  dayItem: (id: string, started: number) => ({
    pk: `day#${new Date(started).toISOString().slice(0, 10)}`,
    sk: `${pad(started, 15)}#${id}`,
  }),
  activeItem: (id: string) => ({ pk: 'active', sk: id }),
  slotItem: (jobId: string) => ({ pk: `job#${jobId}`, sk: 'slot' }),
  jobStateItem: (jobId: string) => ({ pk: `job#${jobId}`, sk: 'state' }),
  queueItem: (jobId: string, queuedAt: number, runId: string) => ({
    pk: `job#${jobId}`,
    sk: `queue#${pad(queuedAt, 15)}#${runId}`,
  }),
  claimItem: (claimKey: string) => ({ pk: `claim#${claimKey}`, sk: 'claim' }),
  streamBundleItem: (flowId: string, minute: number, unique: string) => ({
    pk: `stream#${flowId}`,
    sk: `${pad(minute, 15)}#recs#${unique}`,
  }),
} as const;

/** When a tally says a run may be complete and the sum says not yet: the waits before each look. */
const CHECK_AGAIN_MS = [0, 50, 200];
/** Completions per bundle item: about 150 bytes each, well inside DynamoDB's 400 KB item limit. */
const BUNDLE_RECORDS = 1000;
const DAY_MS = 86_400_000;
/** Fan-out ids remembered as announced: one forgotten costs a second update, never a wrong count. */
const ANNOUNCED_KEPT = 10_000;

export interface DynamoRunLedgerOptions {
  readonly dynamodb: DynamoDBClient;
  readonly tableName: string;
  /** Seconds a run is kept when its start gives none. @default 30 days */
  readonly retentionSeconds?: number;
  /** Epoch milliseconds. @default Date.now */
  readonly now?: () => number;
  /**
   * How long completions wait to be written together (group commit). 0: those of one turn of the
   * event loop (the parallel records of one invocation). More gathers several invocations' where
   * they overlap in one process (`kisflow dev`'s pollers), each waiting up to that long. @default 0
   */
  readonly groupCommitMs?: number;
}

type Item = Record<string, AttributeValue>;

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function key(k: { pk: string; sk: string }): Item {
  return { pk: { S: k.pk }, sk: { S: k.sk } };
}

const num = (item: Item | undefined, name: string) => Number(item?.[name]?.N ?? 0);
const str = (item: Item | undefined, name: string) => item?.[name]?.S;

function isConditionFailure(error: unknown): boolean {
  return (
    error instanceof ConditionalCheckFailedException ||
    (error as { name?: string })?.name === 'ConditionalCheckFailedException'
  );
}

function failure(operation: string, runId: string | undefined, error: unknown): InfrastructureError {
  const message = (error as Error)?.message ?? String(error);
  // The run item past 400 KB: its `fanned` set holds about 10,000 ids of batches that fanned out.
  const code = /item size/i.test(message) ? 'RUN_TOO_LARGE' : 'RUN_LEDGER_FAILED';
  return new InfrastructureError(
    code,
    `run ledger ${operation} failed for run ${runId ?? '-'}: ${message}`,
    {
      operation,
      runId,
    },
    { cause: error },
  );
}

function recordItem(r: RunRecord, ttl: number): Item {
  const item: Item = {
    ...key(RUN_TABLE.runItem(r.id)),
    flowId: { S: r.flowId },
    trigger: { S: r.trigger },
    status: { S: r.status },
    params: { S: JSON.stringify(r.params) },
    started: { N: String(r.started) },
    roots: { N: String(r.batches.roots) },
    // The completion tally (see `#commit`): 0 once as many batches are done as were announced.
    t_net: { N: String(-r.batches.roots) },
    ttl: { N: String(ttl) },
  };
  if (r.jobId !== undefined) item.jobId = { S: r.jobId };
  if (r.finished !== undefined) item.finished = { N: String(r.finished) };
  if (r.timeoutMs !== undefined) item.timeoutMs = { N: String(r.timeoutMs) };
  if (r.parentRunId !== undefined) item.parentRunId = { S: r.parentRunId };
  if (r.scene !== undefined) item.scene = { S: r.scene };
  if (r.scheduledAt !== undefined) item.scheduledAt = { N: String(r.scheduledAt) };
  if (r.reason !== undefined) item.reason = { S: r.reason };
  // A skipped fire started nothing, so its end has nothing to hand on.
  if (r.status === 'skipped') item.endHandled = { BOOL: true };
  return item;
}

function decodeJobState(jobId: string, item: Item | undefined): JobState {
  const reason = str(item, 'reason');
  return {
    jobId,
    state: str(item, 'state') === 'paused' ? 'paused' : 'enabled',
    ...(reason === undefined ? {} : { reason }),
    ...(item?.changedAt ? { changedAt: num(item, 'changedAt') } : {}),
    ...(item?.lastFire ? { lastFire: num(item, 'lastFire') } : {}),
  };
}

/** A run record from its item and its completion bundles (one Query of the run's partition). */
function decodeRun(items: readonly Item[]): RunRecord | undefined {
  const run = items.find((i) => str(i, 'sk') === 'run');
  if (!run) return undefined;
  // Bundles come in `sk` order, oldest first: of a batch's repeats, the first written counts.
  const completions = items
    .filter((i) => str(i, 'sk')?.startsWith('recs#'))
    .flatMap((i) => decodeCompletions(JSON.parse(str(i, 'recs') ?? '[]')));
  const summed = sumCompletions(completions, num(run, 'roots'));
  const optional = (name: string) => (str(run, name) === undefined ? {} : { [name]: str(run, name) });
  return {
    id: (str(run, 'pk') as string).slice('run#'.length),
    flowId: str(run, 'flowId') as string,
    ...optional('jobId'),
    trigger: str(run, 'trigger') as RunTrigger,
    status: str(run, 'status') as RunStatus,
    params: JSON.parse(str(run, 'params') ?? '{}'),
    started: num(run, 'started'),
    ...(run.finished ? { finished: num(run, 'finished') } : {}),
    lastProgress: Math.max(num(run, 'started'), num(run, 'lastAt'), summed.lastAt),
    ...(run.timeoutMs ? { timeoutMs: num(run, 'timeoutMs') } : {}),
    ...optional('parentRunId'),
    ...optional('scene'),
    ...(run.scheduledAt ? { scheduledAt: num(run, 'scheduledAt') } : {}),
    ...optional('reason'),
    batches: summed.batches,
    steps: summed.steps,
    usage: addUsage(
      summed.usage,
      Object.fromEntries(USAGE_FIELDS.map((f) => [f, num(run, `u_${f}`)])) as Partial<RunUsage>,
    ),
  };
}

/** A stream minute's bundle item as per-step buckets; `seen` keeps each step's batch ids across bundles. */
function sumStreamBundles(flowId: string, item: Item, seen: Set<string>): StreamBucket[] {
  const start = num(item, 'start');
  const steps = new Map<number, StreamBucket>();
  for (const c of decodeCompletions(JSON.parse(str(item, 'recs') ?? '[]'))) {
    const id = `${start}#${c.step}#${c.batchId}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const b = steps.get(c.step) ?? { flowId, step: c.step, start, batches: 0, ...NO_COUNTS };
    steps.set(c.step, { ...b, ...addCounters(b, c.counters), batches: b.batches + 1 });
  }
  return [...steps.values()];
}

/**
 * The run ledger in a DynamoDB table, exact without transactions (dynalite has no
 * TransactWriteItems): batch completions are appended as bundles (a redelivery appends its batch
 * again; sums count each batch id once), and a run is finished by one conditional update of its
 * item when the sum says every batch announced is done (see `#commit`).
 *
 * @example
 * const ledger = new DynamoRunLedger({ dynamodb, tableName: 'kisflow-runs' });
 */
export class DynamoRunLedger implements RunLedger {
  readonly #db: DynamoDBClient;
  readonly #table: string;
  readonly #retention: number;
  readonly #now: () => number;
  /** Completions waiting for this turn's group commit, by run. */
  readonly #pending = new Map<
    string,
    {
      batches: BatchCompletion[];
      waiters: { resolve: (r: CompletionResult) => void; reject: (e: unknown) => void }[];
    }
  >();
  /** Stream batches waiting for the same group commit, by flow and minute. */
  readonly #pendingStreams = new Map<
    string,
    {
      flowId: string;
      minute: number;
      batches: StreamBatch[];
      waiters: { resolve: (r: CompletionResult) => void; reject: (e: unknown) => void }[];
    }
  >();
  #flushing = false;
  readonly #groupCommitMs: number;
  /** Fan-outs whose announcement this ledger has sent (bounded; see `#commit`). */
  readonly #announced = new Set<string>();

  constructor(options: DynamoRunLedgerOptions) {
    this.#db = options.dynamodb;
    this.#table = options.tableName;
    this.#retention = options.retentionSeconds ?? DEFAULT_RETENTION_SECONDS;
    this.#now = options.now ?? Date.now;
    this.#groupCommitMs = options.groupCommitMs ?? 0;
  }

  #ttl(retentionSeconds?: number): number {
    return Math.floor(this.#now() / 1000) + (retentionSeconds ?? this.#retention);
  }

  async #put(
    item: Item,
    condition?: string,
    values?: Item,
    names?: Record<string, string>,
  ): Promise<boolean> {
    try {
      await this.#db.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: item,
          ...(condition ? { ConditionExpression: condition } : {}),
          ...(values ? { ExpressionAttributeValues: values } : {}),
          ...(names ? { ExpressionAttributeNames: names } : {}),
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  async #delete(k: { pk: string; sk: string }, condition?: string, values?: Item): Promise<void> {
    try {
      await this.#db.send(
        new DeleteItemCommand({
          TableName: this.#table,
          Key: key(k),
          ...(condition ? { ConditionExpression: condition } : {}),
          ...(values ? { ExpressionAttributeValues: values } : {}),
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }

  async #query(pk: string, range?: { from: string; to: string }, newestFirst = false): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const out = await this.#db.send(
        new QueryCommand({
          TableName: this.#table,
          ConsistentRead: true,
          KeyConditionExpression: range ? 'pk = :pk AND sk BETWEEN :from AND :to' : 'pk = :pk',
          ExpressionAttributeValues: {
            ':pk': { S: pk },
            ...(range ? { ':from': { S: range.from }, ':to': { S: range.to } } : {}),
          },
          ScanIndexForward: !newestFirst,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }

  async start(run: RunStart): Promise<StartResult> {
    try {
      const existing = await this.get(run.runId);
      if (existing) return { kind: 'exists', run: existing };
      if (run.exclusive && run.jobId !== undefined) {
        const holder = await this.#claimSlot(run.jobId, run.runId);
        if (holder !== undefined) return { kind: 'blocked', holder };
      }
      const record = startedRecord(run, this.#now());
      const ttl = this.#ttl(run.retentionSeconds);
      // The active entry first: a crash before the record leaves an entry the sweep removes, never
      // a running record the sweep cannot see.
      await this.#put({
        ...key(RUN_TABLE.activeItem(run.runId)),
        started: { N: String(record.started) },
        ttl: { N: String(ttl) },
      });
      await this.#put({ ...key(RUN_TABLE.dayItem(run.runId, record.started)), ttl: { N: String(ttl) } });
      if (!(await this.#put(recordItem(record, ttl), 'attribute_not_exists(pk)'))) {
        return { kind: 'exists', run: (await this.get(run.runId)) as RunRecord };
      }
      if (run.roots === 0) {
        await this.#finish(record, 'succeeded');
        return { kind: 'started', run: (await this.get(run.runId)) as RunRecord };
      }
      return { kind: 'started', run: record };
    } catch (error) {
      throw failure('start', run.runId, error);
    }
  }

  /** Undefined when the slot is now `runId`'s; else the run holding it. */
  async #claimSlot(jobId: string, runId: string): Promise<string | undefined> {
    const slot = key(RUN_TABLE.slotItem(jobId));
    for (let attempt = 0; attempt < 3; attempt++) {
      const claimed = await this.#put(
        { ...slot, holder: { S: runId }, claimedAt: { N: String(this.#now()) } },
        'attribute_not_exists(pk) OR holder = :me',
        { ':me': { S: runId } },
      );
      if (claimed) return undefined;
      const out = await this.#db.send(
        new GetItemCommand({ TableName: this.#table, Key: slot, ConsistentRead: true }),
      );
      const holder = str(out.Item, 'holder');
      if (holder === undefined) continue;
      const held = await this.get(holder);
      // A holder with no record yet is a start in progress, unless it claimed long ago and crashed.
      if (held?.status === 'running') return holder;
      if (!held && this.#now() - num(out.Item, 'claimedAt') <= MINUTE_MS) return holder;
      // The holder ended without releasing (a crash between its finish and the release).
      await this.#delete(RUN_TABLE.slotItem(jobId), 'holder = :old', { ':old': { S: holder } });
    }
    return str(
      (await this.#db.send(new GetItemCommand({ TableName: this.#table, Key: slot, ConsistentRead: true })))
        .Item,
      'holder',
    );
  }

  async skip(run: RunStart, reason: string): Promise<RunRecord> {
    try {
      const record = skippedRecord(run, this.#now(), reason);
      const ttl = this.#ttl(run.retentionSeconds);
      await this.#put({ ...key(RUN_TABLE.dayItem(run.runId, record.started)), ttl: { N: String(ttl) } });
      await this.#put(recordItem(record, ttl), 'attribute_not_exists(pk)');
      return (await this.get(run.runId)) as RunRecord;
    } catch (error) {
      throw failure('skip', run.runId, error);
    }
  }

  complete(batch: BatchCompletion): Promise<CompletionResult> {
    return this.completeMany([batch]);
  }

  /**
   * Queued, and written with every other completion of the run made in this turn of the event
   * loop (group commit: the records of a Lambda invocation's messages, processed in parallel,
   * share two requests). Resolves once they are durable; of the callers whose completions
   * finished the run, the last one is told so.
   */
  completeMany(batches: readonly BatchCompletion[]): Promise<CompletionResult> {
    if (batches.length === 0) return Promise.resolve({});
    return new Promise((resolve, reject) => {
      for (const batch of batches) {
        let pending = this.#pending.get(batch.runId);
        if (pending === undefined) {
          pending = { batches: [], waiters: [] };
          this.#pending.set(batch.runId, pending);
        }
        pending.batches.push(batch);
      }
      // Waits on the run of its last batch: delivery passes one run's batches per call.
      this.#pending.get(batches[batches.length - 1]?.runId as string)?.waiters.push({ resolve, reject });
      this.#scheduleFlush();
    });
  }

  #scheduleFlush(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    if (this.#groupCommitMs > 0) setTimeout(() => void this.#flush(), this.#groupCommitMs);
    else setImmediate(() => void this.#flush());
  }

  async #flush(): Promise<void> {
    this.#flushing = false;
    const pending = [...this.#pending];
    this.#pending.clear();
    const streams = [...this.#pendingStreams.values()];
    this.#pendingStreams.clear();
    const streamed = streams.map(async ({ flowId, minute, batches, waiters }) => {
      try {
        await this.#commitStream(flowId, minute, batches);
        for (const w of waiters) w.resolve({});
      } catch (error) {
        const failed = failure('recordStream', undefined, error);
        for (const w of waiters) w.reject(failed);
      }
    });
    await Promise.all(streamed);
    await Promise.all(
      pending.map(async ([runId, { batches, waiters }]) => {
        try {
          const finished = await this.#commit(runId, batches);
          waiters.forEach((w, i) => {
            w.resolve(finished !== undefined && i === waiters.length - 1 ? { finished } : {});
          });
        } catch (error) {
          const failed = failure('complete', runId, error);
          for (const w of waiters) w.reject(failed);
        }
      }),
    );
  }

  /**
   * Writes a run's completions as bundles, then tallies them on the run item: `t_net`, started at
   * −roots, adds 1 − children per batch, so it reaches 0 when every batch announced is done. The
   * exact sum (each batch id once) is read only then. A redelivered batch with one child or none
   * adds 0 or +1 again: at worst the sum is read early. A fan-out's announcement comes once per
   * chain through it (delivery hands it on in every child) and would hold the tally back, so
   * fan-out ids are kept in the item's `fanned` set and each announcement is counted once.
   * Bundles and tally are written in parallel (one round trip per commit, which a chain's end waits
   * for); the writer whose tally reaches 0 reads the sum, and looks again briefly when another
   * writer's bundle has not landed yet. The conditional finish moves the run once; a run complete
   * but unfinished after that (a bundle slower still, a crash) is finished by the sweep.
   */
  async #commit(runId: string, batches: readonly BatchCompletion[]): Promise<RunStatus | undefined> {
    const now = this.#now();
    const ttl = { N: String(this.#ttl()) };
    const seen = new Set<string>();
    const records = batches
      .filter((b) => !seen.has(b.batchId) && seen.add(b.batchId))
      .map((b) => ({ ...b, at: b.at ?? now }));
    const writes: Promise<unknown>[] = [];
    // The ledger's own cost, on the run: a write unit per KB of each bundle, one for the tally.
    let writeUnits = 1;
    for (let i = 0; i < records.length; i += BUNDLE_RECORDS) {
      const recs = JSON.stringify(encodeCompletions(records.slice(i, i + BUNDLE_RECORDS)));
      writeUnits += Math.ceil((recs.length + 100) / 1024);
      writes.push(
        this.#db.send(
          new PutItemCommand({
            TableName: this.#table,
            Item: { ...key(RUN_TABLE.bundleItem(runId, now, randomUUID())), recs: { S: recs }, ttl },
          }),
        ),
      );
    }
    const written = Promise.all(writes);
    // Awaited below; a path that leaves before (no run item, a failed tally) must not crash on it.
    written.catch(() => {});
    // A fan-out's announcement (1 − children) counts once, though every chain through it carries
    // it. A commit announces the fan-outs this ledger has not sent yet; those it has are left to
    // the commit that carried them (should that one fail, its batches are redelivered and carry
    // them again). Another process may have announced one first: the update's old `fanned` set
    // says so, and a second update takes it back.
    const fanned = records.filter((r) => (r.children ?? 0) > 1 && !this.#announced.has(r.batchId));
    const announcing = new Set(fanned.map((r) => r.batchId));
    for (const r of fanned) this.#announce(r.batchId);
    const contribution = (r: BatchCompletion) =>
      (r.children ?? 0) > 1 && !announcing.has(r.batchId) ? 0 : 1 - (r.children ?? 0);
    const values: Item = {
      ':net': { N: String(records.reduce((n, r) => n + contribution(r), 0)) },
      ':now': { N: String(now) },
      ':wu': { N: String(writeUnits) },
    };
    if (fanned.length > 0) values[':fanned'] = { SS: fanned.map((r) => r.batchId) };
    let net: number;
    try {
      const out = await this.#db.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: key(RUN_TABLE.runItem(runId)),
          UpdateExpression: `ADD t_net :net, u_dynamodbWriteUnits :wu${fanned.length > 0 ? ', fanned :fanned' : ''} SET lastAt = :now`,
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: values,
          ReturnValues: 'UPDATED_OLD',
        }),
      );
      net = num(out.Attributes, 't_net') + Number(values[':net']?.N);
      const before = new Set(out.Attributes?.fanned?.SS ?? []);
      // Announced already (by another process, or by this batch's earlier delivery): taken back.
      const fix = fanned.reduce((n, r) => n + (before.has(r.batchId) ? (r.children ?? 0) - 1 : 0), 0);
      if (fix !== 0) {
        const fixed = await this.#db.send(
          new UpdateItemCommand({
            TableName: this.#table,
            Key: key(RUN_TABLE.runItem(runId)),
            UpdateExpression: 'ADD t_net :fix',
            ExpressionAttributeValues: { ':fix': { N: String(fix) } },
            ReturnValues: 'UPDATED_NEW',
          }),
        );
        net = num(fixed.Attributes, 't_net');
      }
    } catch (error) {
      // A tally that failed may not have landed: its announcements are made again next time.
      for (const r of fanned) this.#announced.delete(r.batchId);
      // No run item: a run the ledger never started. Its bundles expire with their TTL.
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
    await written;
    if (net < 0) return undefined;
    // A concurrent writer's bundle may still be landing after its tally did: look again shortly
    // before leaving the run to the sweep (which finishes complete runs nobody finished).
    for (const wait of CHECK_AGAIN_MS) {
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const run = await this.get(runId);
      if (run?.status !== 'running') return undefined;
      if (isComplete(run.batches)) {
        const status = finalStatus(run.batches, run.steps);
        return (await this.#finish(run, status)) ? status : undefined;
      }
    }
    return undefined;
  }

  #announce(batchId: string): void {
    if (this.#announced.size >= ANNOUNCED_KEPT)
      this.#announced.delete(this.#announced.values().next().value as string);
    this.#announced.add(batchId);
  }

  /** Moves a running run to `status`; false when another call got there first. */
  async #finish(run: RunRecord, status: RunStatus, reason?: string): Promise<boolean> {
    const values: Item = {
      ':s': { S: status },
      ':now': { N: String(this.#now()) },
      ':running': { S: 'running' },
    };
    if (reason !== undefined) values[':reason'] = { S: reason };
    try {
      await this.#db.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: key(RUN_TABLE.runItem(run.id)),
          UpdateExpression: `SET #status = :s, finished = :now${reason === undefined ? '' : ', reason = :reason'}`,
          ConditionExpression: '#status = :running',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
    await this.#release(run);
    return true;
  }

  /** Frees the job's slot. The active entry stays until the run's end is handled (`endHandled`). */
  async #release(run: Pick<RunRecord, 'id' | 'jobId'>): Promise<void> {
    if (run.jobId !== undefined) {
      await this.#delete(RUN_TABLE.slotItem(run.jobId), 'holder = :me', { ':me': { S: run.id } });
    }
  }

  async cancel(runId: string, reason = 'cancelled'): Promise<boolean> {
    try {
      const run = await this.get(runId);
      return run?.status === 'running' ? await this.#finish(run, 'cancelled', reason) : false;
    } catch (error) {
      throw failure('cancel', runId, error);
    }
  }

  async claimEnd(runId: string, leaseMs: number): Promise<EndClaim> {
    const now = this.#now();
    try {
      await this.#db.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: key(RUN_TABLE.runItem(runId)),
          UpdateExpression: 'SET endUntil = :until',
          ConditionExpression:
            'attribute_exists(pk) AND #status <> :running AND attribute_not_exists(endHandled) AND (attribute_not_exists(endUntil) OR endUntil <= :now)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':until': { N: String(now + leaseMs) },
            ':now': { N: String(now) },
            ':running': { S: 'running' },
          },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw failure('claimEnd', runId, error);
      const out = await this.#db
        .send(
          new GetItemCommand({
            TableName: this.#table,
            Key: key(RUN_TABLE.runItem(runId)),
            ConsistentRead: true,
          }),
        )
        .catch((e: unknown) => {
          throw failure('claimEnd', runId, e);
        });
      const item = out.Item;
      if (item === undefined || str(item, 'status') === 'running') return { kind: 'not_ended' };
      if (item.endHandled?.BOOL) return { kind: 'handled' };
      return { kind: 'held', until: num(item, 'endUntil') };
    }
    const run = await this.get(runId);
    return run === undefined ? { kind: 'not_ended' } : { kind: 'claimed', run };
  }

  async endHandled(runId: string): Promise<void> {
    try {
      await this.#db.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: key(RUN_TABLE.runItem(runId)),
          UpdateExpression: 'SET endHandled = :yes',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':yes': { BOOL: true } },
        }),
      );
      await this.#delete(RUN_TABLE.activeItem(runId));
    } catch (error) {
      if (!isConditionFailure(error)) throw failure('endHandled', runId, error);
    }
  }

  async unhandledEnds(): Promise<string[]> {
    const now = this.#now();
    const ids: string[] = [];
    try {
      for (const entry of await this.#query('active')) {
        const id = str(entry, 'sk') as string;
        const out = await this.#db.send(
          new GetItemCommand({
            TableName: this.#table,
            Key: key(RUN_TABLE.runItem(id)),
            ConsistentRead: true,
          }),
        );
        const item = out.Item;
        if (item === undefined || str(item, 'status') === 'running' || item.endHandled?.BOOL) continue;
        if (num(item, 'endUntil') > now) continue;
        ids.push(id);
      }
    } catch (error) {
      throw failure('unhandledEnds', undefined, error);
    }
    return ids;
  }

  async get(runId: string): Promise<RunRecord | undefined> {
    return decodeRun(await this.#query(RUN_TABLE.runItem(runId).pk));
  }

  async status(runId: string): Promise<RunStatus | undefined> {
    try {
      const out = await this.#db.send(
        new GetItemCommand({
          TableName: this.#table,
          Key: key(RUN_TABLE.runItem(runId)),
          ConsistentRead: true,
          ProjectionExpression: '#status',
          ExpressionAttributeNames: { '#status': 'status' },
        }),
      );
      return str(out.Item, 'status') as RunStatus | undefined;
    } catch (error) {
      throw failure('status', runId, error);
    }
  }

  async list(query: RunQuery = {}): Promise<RunRecord[]> {
    const now = this.#now();
    const since = query.since ?? now - this.#retention * 1000;
    const until = query.until ?? now + 1;
    const limit = query.limit ?? 1000;
    const found: RunRecord[] = [];
    const listed = new Set<string>();
    try {
      for (let day = bucketStart(until - 1, DAY_MS); day >= bucketStart(since, DAY_MS); day -= DAY_MS) {
        const entries = await this.#query(
          RUN_TABLE.dayItem('', day).pk,
          { from: `${pad(since, 15)}#`, to: `${pad(until, 15)}#` },
          true,
        );
        // Two processes starting one run (a fire recovered by both) each index it at their own
        // start time; the record is one, and so is its line.
        const ids = entries
          .map((e) => (str(e, 'sk') as string).slice(16))
          .filter((id) => !listed.has(id) && listed.add(id));
        for (let i = 0; i < ids.length && found.length < limit; i += 8) {
          const runs = await Promise.all(ids.slice(i, i + 8).map((id) => this.get(id)));
          found.push(
            ...listMatches(
              runs.filter((r) => r !== undefined),
              { ...query, since },
              now,
            ),
          );
        }
        if (found.length >= limit) break;
      }
    } catch (error) {
      throw failure('list', undefined, error);
    }
    return listMatches(found, { ...query, since }, now);
  }

  async sweep(): Promise<string[]> {
    const now = this.#now();
    const timedOut: string[] = [];
    try {
      for (const entry of await this.#query('active')) {
        const id = str(entry, 'sk') as string;
        const run = await this.get(id);
        if (!run) {
          // A start that crashed before its record: forget it once it is clearly not in progress.
          if (now - num(entry, 'started') > MINUTE_MS) await this.#delete(RUN_TABLE.activeItem(id));
          continue;
        }
        if (run.status !== 'running') {
          await this.#release(run);
          continue;
        }
        // Complete but never finished (the process died between counting its last batch and the
        // check, and nothing was redelivered): finish it now rather than time it out.
        if (isComplete(run.batches)) {
          await this.#finish(run, finalStatus(run.batches, run.steps));
          continue;
        }
        if (run.timeoutMs === undefined || now - run.lastProgress <= run.timeoutMs) continue;
        if (await this.#finish(run, 'timed_out', `no progress for ${run.timeoutMs} ms (timeout)`)) {
          timedOut.push(id);
        }
      }
    } catch (error) {
      throw failure('sweep', undefined, error);
    }
    return timedOut;
  }

  async enqueue(run: RunStart, queuedAt: number): Promise<void> {
    try {
      const jobId = run.jobId ?? '';
      // Keyed by run id too: the same fire queued twice (a redelivered fire) is one item.
      const queued = (
        await this.#query(RUN_TABLE.slotItem(jobId).pk, { from: 'queue#', to: 'queue#~' })
      ).some((item) => str(item, 'runId') === run.runId);
      if (queued) return;
      await this.#put({
        ...key(RUN_TABLE.queueItem(jobId, queuedAt, run.runId)),
        runId: { S: run.runId },
        run: { S: JSON.stringify(run) },
        ttl: { N: String(this.#ttl(run.retentionSeconds)) },
      });
    } catch (error) {
      throw failure('enqueue', run.runId, error);
    }
  }

  async dequeue(jobId: string): Promise<RunStart | undefined> {
    try {
      for (const item of await this.#query(RUN_TABLE.slotItem(jobId).pk, { from: 'queue#', to: 'queue#~' })) {
        // The conditional delete is the claim: of two callers, one deletes, the other moves on.
        const taken = await this.#db
          .send(
            new DeleteItemCommand({
              TableName: this.#table,
              Key: { pk: item.pk as AttributeValue, sk: item.sk as AttributeValue },
              ConditionExpression: 'attribute_exists(pk)',
            }),
          )
          .then(
            () => true,
            (error) => {
              if (isConditionFailure(error)) return false;
              throw error;
            },
          );
        if (taken) return JSON.parse(str(item, 'run') as string) as RunStart;
      }
      return undefined;
    } catch (error) {
      throw failure('dequeue', undefined, error);
    }
  }

  /**
   * Queued and appended with the other stream batches of its flow and minute made in this turn
   * (group commit, as `completeMany`): one bundle item, no condition, so a write costs the units of
   * its own few records however busy the minute is. Sums count each step's batch id once.
   */
  recordStream(batch: StreamBatch): Promise<void> {
    const minute = bucketStart(batch.at, MINUTE_MS);
    const k = `${batch.flowId}\u0000${minute}`;
    return new Promise((resolve, reject) => {
      let pending = this.#pendingStreams.get(k);
      if (pending === undefined) {
        pending = { flowId: batch.flowId, minute, batches: [], waiters: [] };
        this.#pendingStreams.set(k, pending);
      }
      pending.batches.push(batch);
      pending.waiters.push({ resolve: () => resolve(), reject });
      this.#scheduleFlush();
    });
  }

  async #commitStream(flowId: string, minute: number, batches: readonly StreamBatch[]): Promise<void> {
    const recs = encodeCompletions(
      batches.map((b) => ({ batchId: b.batchId, step: b.step, counters: b.counters })),
    );
    await this.#db.send(
      new PutItemCommand({
        TableName: this.#table,
        Item: {
          ...key(RUN_TABLE.streamBundleItem(flowId, minute, randomUUID())),
          start: { N: String(minute) },
          recs: { S: JSON.stringify(recs) },
          ttl: { N: String(this.#ttl()) },
        },
      }),
    );
  }

  async streamBuckets(query: StreamQuery): Promise<StreamBucket[]> {
    try {
      const items = await this.#query(`stream#${query.flowId}`, {
        from: pad(bucketStart(query.since, MINUTE_MS), 15),
        to: `${pad(query.until - 1, 15)}~`,
      });
      const seen = new Set<string>();
      const minutes = [
        ...items
          .filter((item) => item.recs !== undefined)
          .flatMap((item) => sumStreamBundles(query.flowId, item, seen)),
        ...items
          .filter((item) => item.recs === undefined)
          .map((item) => {
            const counts = Object.fromEntries(
              STEP_COUNTERS.map((c) => [c, num(item, c)]),
            ) as unknown as StepCounters;
            return {
              flowId: query.flowId,
              step: num(item, 'step'),
              start: num(item, 'start'),
              batches: num(item, 'batches'),
              ...counts,
            };
          }),
      ].filter((b) => b.start >= query.since && b.start < query.until);
      return rollUp(minutes, query.granularity === 'hour' ? HOUR_MS : MINUTE_MS);
    } catch (error) {
      throw failure('streamBuckets', undefined, error);
    }
  }

  // Job state: pause/resume and the last fire, on one item per job.
  async jobState(jobId: string): Promise<JobState> {
    try {
      const out = await this.#db.send(
        new GetItemCommand({
          TableName: this.#table,
          Key: key(RUN_TABLE.jobStateItem(jobId)),
          ConsistentRead: true,
        }),
      );
      return decodeJobState(jobId, out.Item);
    } catch (error) {
      throw failure('jobState', undefined, error);
    }
  }

  async setJobState(jobId: string, state: JobRunState, reason?: string): Promise<JobState> {
    const values: Item = { ':s': { S: state }, ':now': { N: String(this.#now()) } };
    if (reason !== undefined) values[':r'] = { S: reason };
    try {
      const out = await this.#db.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: key(RUN_TABLE.jobStateItem(jobId)),
          UpdateExpression: `SET #state = :s, changedAt = :now${reason === undefined ? ' REMOVE reason' : ', reason = :r'}`,
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return decodeJobState(jobId, out.Attributes);
    } catch (error) {
      throw failure('setJobState', undefined, error);
    }
  }

  async noteFire(jobId: string, scheduledAt: number): Promise<void> {
    try {
      await this.#db.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: key(RUN_TABLE.jobStateItem(jobId)),
          UpdateExpression: 'SET lastFire = :t',
          // Monotonic: a late fire handled after a newer one leaves the newer time.
          ConditionExpression: 'attribute_not_exists(lastFire) OR lastFire < :t',
          ExpressionAttributeValues: { ':t': { N: String(scheduledAt) } },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw failure('noteFire', undefined, error);
    }
  }

  async claim(claimKey: string, holder: string, leaseMs: number): Promise<boolean> {
    const now = this.#now();
    try {
      return await this.#put(
        {
          ...key(RUN_TABLE.claimItem(claimKey)),
          holder: { S: holder },
          until: { N: String(now + leaseMs) },
          // Gone a day after the lease: a crashed holder leaves no item behind for ever.
          ttl: { N: String(Math.ceil((now + leaseMs) / 1000) + 86_400) },
        },
        'attribute_not_exists(pk) OR #until <= :now OR holder = :holder',
        { ':now': { N: String(now) }, ':holder': { S: holder } },
        { '#until': 'until' },
      );
    } catch (error) {
      throw failure('claim', undefined, error);
    }
  }

  async isQueued(jobId: string, runId: string): Promise<boolean> {
    try {
      return (await this.#query(RUN_TABLE.slotItem(jobId).pk, { from: 'queue#', to: 'queue#~' })).some(
        (item) => str(item, 'runId') === runId,
      );
    } catch (error) {
      throw failure('isQueued', runId, error);
    }
  }

  async release(claimKey: string, holder: string): Promise<void> {
    try {
      await this.#delete(RUN_TABLE.claimItem(claimKey), 'holder = :holder', { ':holder': { S: holder } });
    } catch (error) {
      if (!isConditionFailure(error)) throw failure('release', undefined, error);
    }
  }
}
