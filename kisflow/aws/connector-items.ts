import { type AttributeValue, type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { InfrastructureError } from '../errors.ts';
import { TABLE_KEY } from '../wire/table-keys.ts';
import { ROW_ATTRIBUTE } from './dynamodb-connector-store.ts';

/** One item of a connector table as an operator browses it. */
export interface ConnectorItem {
  readonly key: string;
  readonly sort: string;
  readonly row: unknown;
}

export interface ConnectorPage {
  readonly items: ConnectorItem[];
  /** Pass back as `after` for the next page; undefined on the last one. */
  readonly next?: string;
}

// DynamoConnectorStore writes keys as '#' + key, so an empty key stays a valid DynamoDB string.
const KEY_PREFIX = '#';

/**
 * A page of a connector table's items (a Scan, optionally narrowed to keys starting with
 * `keyPrefix`): what the console's Connectors page lists. Reads only; never on a hot path.
 *
 * @example const { items, next } = await scanConnectorItems(dynamodb, 'kisflow-conn-orders', { limit: 50 });
 */
export async function scanConnectorItems(
  dynamodb: DynamoDBClient,
  tableName: string,
  options: { readonly limit?: number; readonly keyPrefix?: string; readonly after?: string } = {},
): Promise<ConnectorPage> {
  const limit = options.limit ?? 50;
  const items: ConnectorItem[] = [];
  let start: Record<string, AttributeValue> | undefined =
    options.after === undefined ? undefined : (JSON.parse(options.after) as Record<string, AttributeValue>);
  try {
    do {
      const out = await dynamodb.send(
        new ScanCommand({
          TableName: tableName,
          Limit: limit - items.length,
          ...(options.keyPrefix
            ? {
                FilterExpression: 'begins_with(#pk, :prefix)',
                ExpressionAttributeNames: { '#pk': TABLE_KEY.partition },
                ExpressionAttributeValues: { ':prefix': { S: KEY_PREFIX + options.keyPrefix } },
              }
            : {}),
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        }),
      );
      for (const item of out.Items ?? []) {
        const text = item[ROW_ATTRIBUTE]?.S;
        let row: unknown = text;
        try {
          row = text === undefined ? null : JSON.parse(text);
        } catch {
          // Not written by KisFlow: shown as the text it holds.
        }
        items.push({
          key: (item[TABLE_KEY.partition]?.S ?? '').slice(KEY_PREFIX.length),
          sort: (item[TABLE_KEY.sort]?.S ?? '').slice(KEY_PREFIX.length),
          row,
        });
      }
      start = out.LastEvaluatedKey;
    } while (start !== undefined && items.length < limit);
  } catch (error) {
    throw new InfrastructureError(
      'DYNAMODB_SCAN_FAILED',
      `Scan of connector table ${tableName} failed: ${(error as Error).name}: ${(error as Error).message}`,
      { tableName },
      { cause: error },
    );
  }
  return { items, ...(start === undefined ? {} : { next: JSON.stringify(start) }) };
}
