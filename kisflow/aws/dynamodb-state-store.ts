// Over the usual size on purpose: exactly-once keyed state (read-before-apply, the applied-batch
// ring, optimistic versions, size checks) is one protocol over DynamoDB, clearer read in one file.
import {
  type AttributeValue,
  BatchGetItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { InfrastructureError } from '../errors.ts';
import type { StateEntry, StateStore, StateWrite } from '../ports.ts';
import {
  DYNAMODB_BATCH_GET_MAX_KEYS,
  DYNAMODB_MAX_ITEM_BYTES,
  DYNAMODB_MAX_PARTITION_KEY_BYTES,
} from '../wire/limits.ts';
import { TABLE_KEY, TTL_ATTRIBUTE } from '../wire/table-keys.ts';
import { mapLimit } from './parallel.ts';
import { backoffDelay, type RetryPolicy, retryPolicy } from './retry.ts';

export const BATCH_GET_MAX_KEYS = DYNAMODB_BATCH_GET_MAX_KEYS;

/** The sort key of every state item (one item per scope and key). */
export const STATE_SORT_KEY = 'state';

/** Attribute names of a state item. */
export const STATE_ATTRIBUTES = {
  value: 'value',
  version: 'version',
  lastBatch: 'lastBatch',
  prevValue: 'prevValue',
  prevVersion: 'prevVersion',
  applied: 'applied',
} as const;

export interface DynamoStateStoreOptions {
  readonly dynamodb: DynamoDBClient;
  /** The state table (`resourceNames(prefix).stateTable()`). */
  readonly tableName: string;
  /**
   * How many batch ids each key remembers as applied. A batch redelivered after this many later
   * batches changed the same key is no longer recognised (SQS redelivers within the visibility
   * timeout × maxReceiveCount, so keep it above the batches per key in that window).
   * @default 32
   */
  readonly appliedBatchesKept?: number;
  /** Seconds until a key's state expires after its last write (`ttl` attribute); unset: kept. */
  readonly ttlSeconds?: number;
  /** @default - 6 attempts, 50 ms doubling to at most 2 s, full jitter */
  readonly retry?: Partial<RetryPolicy>;
  /** Requests in flight at once. @default 8 */
  readonly concurrency?: number;
  /** Epoch milliseconds (for `ttl`). @default Date.now */
  readonly now?: () => number;
}

type Item = Record<string, AttributeValue>;

// One item per (scope, key), spread over partitions (a scope's keys are often hot together). The
// scope is URI-encoded so that the first '#' ends it: distinct (scope, key) pairs never collide.
function partitionKey(scope: string, key: string): string {
  return `${encodeURIComponent(scope)}#${key}`;
}

function encodeValue(value: unknown): AttributeValue {
  const json = value === undefined ? undefined : JSON.stringify(value);
  return json === undefined ? { NULL: true } : { S: json };
}

function decodeValue(attribute: AttributeValue | undefined): unknown {
  return attribute?.S === undefined ? undefined : JSON.parse(attribute.S);
}

function describeError(error: unknown): string {
  return `${(error as Error)?.name ?? 'Error'}: ${(error as Error)?.message ?? String(error)}`;
}

function appliedBatches(item: Item | undefined): string[] {
  return (item?.[STATE_ATTRIBUTES.applied]?.L ?? []).flatMap((v) => (v.S === undefined ? [] : [v.S]));
}

/**
 * The StateStore over DynamoDB, exactly-once per batch without transactions (dynalite has no
 * TransactWriteItems, and one conditional UpdateItem per key is cheaper anyway).
 *
 * Each key is one item: `value`, `version`, `lastBatch` (the batch that wrote `value`),
 * `prevValue`/`prevVersion` (what that batch replaced) and `applied`, the last N batch ids that
 * changed the key (a list used as a ring: version v writes slot (v-1) mod N).
 * - `read(k, batch)`: when `batch` is the key's `lastBatch`, the value *before* it, so a
 *   redelivered batch recomputes the same result; otherwise the current value.
 * - `write`: `UpdateItem` conditioned on `version = expected` (or no item for 0) and `batch`
 *   not in `applied`. When the condition fails, the item is read again: `batch` in `applied`
 *   means the write was already made (no-op); otherwise another writer got there first and
 *   InfrastructureError `STATE_CONFLICT` makes the message retry with fresh reads.
 * Keys are independent: after a conflict on one key, the keys already written stay written and
 * the retry finds them applied.
 *
 * Limit: a batch redelivered after another batch changed the key reads the current value (its
 * write is still a no-op, so the state stays right; only the rows it emits may differ).
 *
 * @example
 * const state = new DynamoStateStore({ dynamodb, tableName: names.stateTable() });
 * const got = await state.read('orders/count', ['u1'], batchId);
 * await state.write('orders/count', batchId, [{ key: 'u1', value: 3, expectedVersion: got.get('u1')!.version }]);
 */
export class DynamoStateStore implements StateStore {
  readonly #options: DynamoStateStoreOptions;
  readonly #retry: RetryPolicy;
  readonly #kept: number;

  constructor(options: DynamoStateStoreOptions) {
    this.#options = options;
    this.#retry = retryPolicy(options.retry);
    this.#kept = options.appliedBatchesKept ?? 32;
    if (!Number.isInteger(this.#kept) || this.#kept < 1) {
      throw new RangeError(`appliedBatchesKept must be a positive integer, received ${this.#kept}`);
    }
  }

  async read(scope: string, keys: readonly string[], batchId: string): Promise<Map<string, StateEntry>> {
    const unique = [...new Set(keys)];
    const items = new Map<string, Item>();
    const chunks: string[][] = [];
    for (let i = 0; i < unique.length; i += BATCH_GET_MAX_KEYS)
      chunks.push(unique.slice(i, i + BATCH_GET_MAX_KEYS));
    await mapLimit(chunks, this.#options.concurrency ?? 8, async (chunk) => {
      for (const item of await this.#batchGet(scope, chunk)) {
        const pk = item[TABLE_KEY.partition]?.S;
        if (pk !== undefined) items.set(pk, item);
      }
    });
    const result = new Map<string, StateEntry>();
    for (const key of unique) result.set(key, this.#entry(items.get(partitionKey(scope, key)), batchId));
    return result;
  }

  #entry(item: Item | undefined, batchId: string): StateEntry {
    if (item === undefined) return { value: undefined, version: 0 };
    if (item[STATE_ATTRIBUTES.lastBatch]?.S === batchId) {
      return {
        value: decodeValue(item[STATE_ATTRIBUTES.prevValue]),
        version: Number(item[STATE_ATTRIBUTES.prevVersion]?.N ?? 0),
      };
    }
    return {
      value: decodeValue(item[STATE_ATTRIBUTES.value]),
      version: Number(item[STATE_ATTRIBUTES.version]?.N ?? 0),
    };
  }

  async #batchGet(scope: string, keys: readonly string[]): Promise<Item[]> {
    const table = this.#options.tableName;
    let pending = keys.map((key) => ({
      [TABLE_KEY.partition]: { S: partitionKey(scope, key) },
      [TABLE_KEY.sort]: { S: STATE_SORT_KEY },
    })) as Item[];
    const found: Item[] = [];
    for (let attempt = 0; ; attempt++) {
      let unprocessed: Item[];
      try {
        const out = await this.#options.dynamodb.send(
          new BatchGetItemCommand({ RequestItems: { [table]: { Keys: pending, ConsistentRead: true } } }),
        );
        found.push(...(out.Responses?.[table] ?? []));
        unprocessed = out.UnprocessedKeys?.[table]?.Keys ?? [];
      } catch (error) {
        throw new InfrastructureError(
          'DYNAMODB_READ_FAILED',
          `BatchGetItem of state table ${table} (scope ${scope}) failed: ${describeError(error)}. The message will be retried.`,
          { table, scope, keys: pending.length },
          { cause: error },
        );
      }
      if (unprocessed.length === 0) return found;
      if (attempt + 1 >= this.#retry.attempts) {
        throw new InfrastructureError(
          'DYNAMODB_UNPROCESSED',
          `${unprocessed.length} state keys of scope ${scope} were still unprocessed after ${attempt + 1} BatchGetItem attempts (throttled). The message will be retried.`,
          { table, scope, unprocessed: unprocessed.length, attempts: attempt + 1 },
        );
      }
      pending = unprocessed;
      await this.#retry.sleep(backoffDelay(this.#retry, attempt));
    }
  }

  async write(scope: string, batchId: string, writes: readonly StateWrite[]): Promise<void> {
    const last = new Map<string, StateWrite>();
    for (const w of writes) last.set(w.key, w);
    const outcomes = await mapLimit([...last.values()], this.#options.concurrency ?? 8, (w) =>
      this.#writeKey(scope, batchId, w),
    );
    const conflicts = outcomes.filter((o): o is Conflict => o !== undefined);
    if (conflicts.length > 0) {
      const listed = conflicts
        .slice(0, 5)
        .map(
          (c) => `${JSON.stringify(c.key)} (expected version ${c.expectedVersion}, found ${c.actualVersion})`,
        )
        .join(', ');
      throw new InfrastructureError(
        'STATE_CONFLICT',
        `State of ${scope} changed under batch ${batchId} for ${conflicts.length} key(s): ${listed}${conflicts.length > 5 ? ', …' : ''}. Another batch wrote them concurrently; the message will be retried with fresh state.`,
        { scope, batchId, conflicts },
      );
    }
  }

  async #writeKey(scope: string, batchId: string, w: StateWrite): Promise<Conflict | undefined> {
    const table = this.#options.tableName;
    const pk = partitionKey(scope, w.key);
    const value = encodeValue(w.value);
    checkSize(scope, w.key, pk, value);
    const names: Record<string, string> = {
      '#value': STATE_ATTRIBUTES.value,
      '#version': STATE_ATTRIBUTES.version,
      '#lastBatch': STATE_ATTRIBUTES.lastBatch,
      '#prevValue': STATE_ATTRIBUTES.prevValue,
      '#prevVersion': STATE_ATTRIBUTES.prevVersion,
      '#applied': STATE_ATTRIBUTES.applied,
    };
    const values: Record<string, AttributeValue> = {
      ':value': value,
      ':next': { N: String(w.expectedVersion + 1) },
      ':batch': { S: batchId },
    };
    let update: string;
    let condition: string;
    if (w.expectedVersion === 0) {
      update =
        'SET #value = :value, #version = :next, #lastBatch = :batch, #prevValue = :none, #prevVersion = :zero, #applied = :applied';
      condition = 'attribute_not_exists(#pk)';
      names['#pk'] = TABLE_KEY.partition;
      values[':none'] = { NULL: true };
      values[':zero'] = { N: '0' };
      values[':applied'] = { L: [{ S: batchId }] };
    } else {
      // The new version's ring slot; SET past the end of a list appends, so the ring fills up first.
      const slot = w.expectedVersion % this.#kept;
      update = `SET #prevValue = #value, #prevVersion = #version, #value = :value, #version = :next, #lastBatch = :batch, #applied[${slot}] = :batch`;
      condition = '#version = :expected AND NOT contains(#applied, :batch)';
      values[':expected'] = { N: String(w.expectedVersion) };
    }
    if (this.#options.ttlSeconds !== undefined) {
      update += ', #ttl = :ttl';
      names['#ttl'] = TTL_ATTRIBUTE;
      const now = (this.#options.now ?? Date.now)();
      values[':ttl'] = { N: String(Math.floor(now / 1000) + this.#options.ttlSeconds) };
    }
    try {
      await this.#options.dynamodb.send(
        new UpdateItemCommand({
          TableName: table,
          Key: { [TABLE_KEY.partition]: { S: pk }, [TABLE_KEY.sort]: { S: STATE_SORT_KEY } },
          UpdateExpression: update,
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return undefined;
    } catch (error) {
      if ((error as Error)?.name !== 'ConditionalCheckFailedException') {
        throw new InfrastructureError(
          'DYNAMODB_WRITE_FAILED',
          `UpdateItem of state ${scope}/${JSON.stringify(w.key)} in table ${table} failed: ${describeError(error)}. The message will be retried.`,
          { table, scope, key: w.key },
          { cause: error },
        );
      }
    }
    // The condition failed: applied already (a redelivery, or a duplicate delivery racing us), or stale.
    const current = await this.#get(scope, w.key, pk);
    if (appliedBatches(current).includes(batchId)) return undefined;
    return {
      key: w.key,
      expectedVersion: w.expectedVersion,
      actualVersion: Number(current?.[STATE_ATTRIBUTES.version]?.N ?? 0),
    };
  }

  async #get(scope: string, key: string, pk: string): Promise<Item | undefined> {
    try {
      const out = await this.#options.dynamodb.send(
        new GetItemCommand({
          TableName: this.#options.tableName,
          Key: { [TABLE_KEY.partition]: { S: pk }, [TABLE_KEY.sort]: { S: STATE_SORT_KEY } },
          ConsistentRead: true,
        }),
      );
      return out.Item;
    } catch (error) {
      throw new InfrastructureError(
        'DYNAMODB_READ_FAILED',
        `GetItem of state ${scope}/${JSON.stringify(key)} failed: ${describeError(error)}. The message will be retried.`,
        { table: this.#options.tableName, scope, key },
        { cause: error },
      );
    }
  }
}

interface Conflict {
  readonly key: string;
  readonly expectedVersion: number;
  readonly actualVersion: number;
}

function checkSize(scope: string, key: string, pk: string, value: AttributeValue): void {
  if (Buffer.byteLength(pk, 'utf8') > DYNAMODB_MAX_PARTITION_KEY_BYTES) {
    throw new InfrastructureError(
      'STATE_KEY_TOO_LONG',
      `State key ${JSON.stringify(key.slice(0, 80))} of ${scope} is longer than DynamoDB's ${DYNAMODB_MAX_PARTITION_KEY_BYTES}-byte partition key. Use shorter state keys.`,
      { scope, key },
      { retryable: false },
    );
  }
  // The item holds the value twice at most (value and prevValue) plus small fields and the ring.
  const size = 2 * Buffer.byteLength(value.S ?? '', 'utf8') + Buffer.byteLength(pk, 'utf8') + 8_192;
  if (size > DYNAMODB_MAX_ITEM_BYTES) {
    throw new InfrastructureError(
      'STATE_TOO_LARGE',
      `State value of ${scope}/${JSON.stringify(key.slice(0, 80))} takes ${Buffer.byteLength(value.S ?? '', 'utf8')} bytes; with the previous value kept for redeliveries the item would exceed DynamoDB's ${DYNAMODB_MAX_ITEM_BYTES}-byte limit. Keep per-key state under ~190 KB.`,
      { scope, key, limit: DYNAMODB_MAX_ITEM_BYTES },
      { retryable: false },
    );
  }
}
