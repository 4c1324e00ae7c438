import {
  BatchWriteItemCommand,
  type DynamoDBClient,
  QueryCommand,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { ConnectorError, InfrastructureError } from '../errors.ts';
import type { ConnectorStore, Row, StoredItem } from '../ports.ts';
import {
  DYNAMODB_BATCH_WRITE_MAX_ITEMS,
  DYNAMODB_MAX_ITEM_BYTES,
  DYNAMODB_MAX_PARTITION_KEY_BYTES,
  DYNAMODB_MAX_SORT_KEY_BYTES,
} from '../wire/limits.ts';
import { TABLE_KEY, TTL_ATTRIBUTE } from '../wire/table-keys.ts';
import { mapLimit } from './parallel.ts';
import { backoffDelay, type RetryPolicy, retryPolicy } from './retry.ts';

export const BATCH_WRITE_MAX_ITEMS = DYNAMODB_BATCH_WRITE_MAX_ITEMS;

/** The attribute holding a row as JSON text: a string round-trips every JSON value exactly. */
export const ROW_ATTRIBUTE = 'row';

// Keys are stored with a one-character prefix: DynamoDB refuses empty key values and the engine
// uses '' as the sort of one-row-per-key connectors; a shared prefix keeps sort-key order.
const KEY_PREFIX = '#';

export interface DynamoConnectorStoreOptions {
  readonly dynamodb: DynamoDBClient;
  /** The table of a connector (`resourceNames(prefix).connectorTable(cid)` in a deployment). */
  readonly tableName: (cid: string) => string;
  /** Seconds until a connector's items expire (`ConnSpec.ttlSeconds`); unset: kept. */
  readonly ttlSeconds?: (cid: string) => number | undefined;
  /**
   * Strongly consistent Queries, so a Load sees what a Save just wrote (twice the read cost).
   * @default true
   */
  readonly consistentRead?: boolean;
  /** @default - 6 attempts, 50 ms doubling to at most 2 s, full jitter */
  readonly retry?: Partial<RetryPolicy>;
  /** Requests in flight at once. @default 8 */
  readonly concurrency?: number;
  /** Epoch milliseconds (for `ttl`). @default Date.now */
  readonly now?: () => number;
}

function bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function describeError(error: unknown): string {
  return `${(error as Error)?.name ?? 'Error'}: ${(error as Error)?.message ?? String(error)}`;
}

/**
 * The ConnectorStore over DynamoDB: one table per connector, key `pk` (the connector key) +
 * `sk` (the sort), the row as a JSON string. Writes go in BatchWriteItem chunks of 25 with
 * duplicates (same key and sort) collapsed to the last (DynamoDB rejects a request that names an
 * item twice) and UnprocessedItems retried with backoff; a redelivered batch writes the same
 * items again, so the stored result does not change. Reads Query each key (paginated).
 *
 * @example
 * const store = new DynamoConnectorStore({ dynamodb, tableName: (cid) => names.connectorTable(cid) });
 * await store.put('orders', [{ key: 'u1', sort: '', row: { user: 'u1', total: 3 } }]);
 * (await store.get('orders', ['u1'])).get('u1') // [{ user: 'u1', total: 3 }]
 */
export class DynamoConnectorStore implements ConnectorStore {
  readonly #options: DynamoConnectorStoreOptions;
  readonly #retry: RetryPolicy;

  constructor(options: DynamoConnectorStoreOptions) {
    this.#options = options;
    this.#retry = retryPolicy(options.retry);
  }

  async put(cid: string, items: readonly StoredItem[]): Promise<void> {
    if (items.length === 0) return;
    const table = this.#options.tableName(cid);
    const ttlSeconds = this.#options.ttlSeconds?.(cid);
    const expires =
      ttlSeconds === undefined
        ? undefined
        : String(Math.floor((this.#options.now ?? Date.now)() / 1000) + ttlSeconds);
    // Later items win, as sequential writes would; Map keeps the first position of each item.
    const unique = new Map<string, WriteRequest>();
    for (const item of items) {
      const pk = KEY_PREFIX + item.key;
      const sk = KEY_PREFIX + item.sort;
      const row = JSON.stringify(item.row);
      checkItem(cid, item, pk, sk, row);
      unique.set(JSON.stringify([pk, sk]), {
        PutRequest: {
          Item: {
            [TABLE_KEY.partition]: { S: pk },
            [TABLE_KEY.sort]: { S: sk },
            [ROW_ATTRIBUTE]: { S: row },
            ...(expires === undefined ? {} : { [TTL_ATTRIBUTE]: { N: expires } }),
          },
        },
      });
    }
    const requests = [...unique.values()];
    const chunks: WriteRequest[][] = [];
    for (let i = 0; i < requests.length; i += BATCH_WRITE_MAX_ITEMS) {
      chunks.push(requests.slice(i, i + BATCH_WRITE_MAX_ITEMS));
    }
    await mapLimit(chunks, this.#options.concurrency ?? 8, (chunk) => this.#writeChunk(cid, table, chunk));
  }

  async #writeChunk(cid: string, table: string, chunk: WriteRequest[]): Promise<void> {
    let pending = chunk;
    for (let attempt = 0; ; attempt++) {
      let unprocessed: WriteRequest[];
      try {
        const out = await this.#options.dynamodb.send(
          new BatchWriteItemCommand({ RequestItems: { [table]: pending } }),
        );
        unprocessed = out.UnprocessedItems?.[table] ?? [];
      } catch (error) {
        throw new InfrastructureError(
          'DYNAMODB_WRITE_FAILED',
          `BatchWriteItem to table ${table} (connector ${cid}) failed: ${describeError(error)}. The message will be retried.`,
          { cid, table, items: pending.length },
          { cause: error },
        );
      }
      if (unprocessed.length === 0) return;
      if (attempt + 1 >= this.#retry.attempts) {
        throw new InfrastructureError(
          'DYNAMODB_UNPROCESSED',
          `${unprocessed.length} of ${chunk.length} items for table ${table} (connector ${cid}) were still unprocessed after ${attempt + 1} BatchWriteItem attempts (throttled). The message will be retried.`,
          { cid, table, unprocessed: unprocessed.length, attempts: attempt + 1 },
        );
      }
      pending = unprocessed;
      await this.#retry.sleep(backoffDelay(this.#retry, attempt));
    }
  }

  /** Why `item` can never be written to DynamoDB (key or item over its limits), or undefined. */
  problem(cid: string, item: StoredItem): { code: string; reason: string } | undefined {
    return itemProblem(cid, item, KEY_PREFIX + item.key, KEY_PREFIX + item.sort, JSON.stringify(item.row));
  }

  async get(cid: string, keys: readonly string[]): Promise<Map<string, Row[]>> {
    const table = this.#options.tableName(cid);
    const unique = [...new Set(keys)];
    const found = await mapLimit(unique, this.#options.concurrency ?? 8, (key) =>
      this.#query(cid, table, key),
    );
    const result = new Map<string, Row[]>();
    unique.forEach((key, i) => {
      result.set(key, found[i] ?? []);
    });
    return result;
  }

  async #query(cid: string, table: string, key: string): Promise<Row[]> {
    const rows: Row[] = [];
    let start: Record<string, { S: string }> | undefined;
    do {
      try {
        const out = await this.#options.dynamodb.send(
          new QueryCommand({
            TableName: table,
            KeyConditionExpression: '#pk = :pk',
            ExpressionAttributeNames: { '#pk': TABLE_KEY.partition },
            ExpressionAttributeValues: { ':pk': { S: KEY_PREFIX + key } },
            ConsistentRead: this.#options.consistentRead ?? true,
            ...(start === undefined ? {} : { ExclusiveStartKey: start }),
          }),
        );
        for (const item of out.Items ?? []) {
          const text = item[ROW_ATTRIBUTE]?.S;
          if (text !== undefined) rows.push(JSON.parse(text) as Row);
        }
        start = out.LastEvaluatedKey as Record<string, { S: string }> | undefined;
      } catch (error) {
        throw new InfrastructureError(
          'DYNAMODB_READ_FAILED',
          `Query of table ${table} (connector ${cid}) for key ${JSON.stringify(key)} failed: ${describeError(error)}. The message will be retried.`,
          { cid, table, key },
          { cause: error },
        );
      }
    } while (start !== undefined);
    return rows;
  }
}

function checkItem(cid: string, item: StoredItem, pk: string, sk: string, row: string): void {
  const problem = itemProblem(cid, item, pk, sk, row);
  if (problem) throw new ConnectorError(problem.code, problem.reason, { cid, key: item.key.slice(0, 200) });
}

function itemProblem(
  cid: string,
  item: StoredItem,
  pk: string,
  sk: string,
  row: string,
): { code: string; reason: string } | undefined {
  if (bytes(pk) > DYNAMODB_MAX_PARTITION_KEY_BYTES || bytes(sk) > DYNAMODB_MAX_SORT_KEY_BYTES) {
    return {
      code: 'KEY_TOO_LONG',
      reason: `Connector ${cid}: the key ${JSON.stringify(item.key.slice(0, 80))} (${bytes(item.key)} bytes) or its sort (${bytes(item.sort)} bytes) is longer than DynamoDB allows (${DYNAMODB_MAX_PARTITION_KEY_BYTES - 1} and ${DYNAMODB_MAX_SORT_KEY_BYTES - 1} bytes). Build the key from fewer or shorter fields.`,
    };
  }
  // Item size: attribute names plus values (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html).
  const size = 2 + bytes(pk) + 2 + bytes(sk) + 3 + bytes(row) + 3 + 21;
  if (size > DYNAMODB_MAX_ITEM_BYTES) {
    return {
      code: 'ITEM_TOO_LARGE',
      reason: `Connector ${cid}: the row under key ${JSON.stringify(item.key.slice(0, 80))} takes ${size} bytes as a DynamoDB item, more than the ${DYNAMODB_MAX_ITEM_BYTES}-byte item limit. Save fewer fields.`,
    };
  }
  return undefined;
}
