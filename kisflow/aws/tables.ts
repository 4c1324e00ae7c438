import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { InfrastructureError } from '../errors.ts';
import { TABLE_KEY, TTL_ATTRIBUTE } from '../wire/table-keys.ts';

export { TABLE_KEY, TTL_ATTRIBUTE };

/** How `ensureTable` left a table. */
export interface EnsuredTable {
  readonly name: string;
  readonly created: boolean;
  /**
   * `enabled`: DynamoDB expires items by `ttlAttribute`; `unsupported`: the server has no
   * UpdateTimeToLive (dynalite): records keep their `ttl` attribute but never expire; `off`: not asked.
   */
  readonly ttl: 'enabled' | 'unsupported' | 'off';
}

function errorName(error: unknown): string {
  return (error as { name?: string })?.name ?? '';
}

async function waitActive(dynamodb: DynamoDBClient, name: string): Promise<void> {
  // On-demand tables are usually ACTIVE within seconds; dynalite (createTableMs: 0) at once.
  const deadline = Date.now() + 120_000;
  for (let delay = 20; ; delay = Math.min(delay * 2, 2_000)) {
    const out = await dynamodb.send(new DescribeTableCommand({ TableName: name }));
    if (out.Table?.TableStatus === 'ACTIVE') return;
    if (Date.now() > deadline) {
      throw new InfrastructureError(
        'TABLE_NOT_ACTIVE',
        `DynamoDB table ${name} is still ${out.Table?.TableStatus} after 120 s`,
        { table: name, status: out.Table?.TableStatus },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

async function enableTtl(
  dynamodb: DynamoDBClient,
  name: string,
  attribute: string,
): Promise<EnsuredTable['ttl']> {
  try {
    const current = await dynamodb.send(new DescribeTimeToLiveCommand({ TableName: name }));
    const description = current.TimeToLiveDescription;
    if (
      description?.AttributeName === attribute &&
      (description.TimeToLiveStatus === 'ENABLED' || description.TimeToLiveStatus === 'ENABLING')
    ) {
      return 'enabled';
    }
    await dynamodb.send(
      new UpdateTimeToLiveCommand({
        TableName: name,
        TimeToLiveSpecification: { AttributeName: attribute, Enabled: true },
      }),
    );
    return 'enabled';
  } catch (error) {
    // dynalite has no UpdateTimeToLive (localstack/README.md): nothing KisFlow does relies on
    // expiry for correctness, so a local table simply keeps its records.
    if (errorName(error) === 'UnknownOperationException') return 'unsupported';
    throw error;
  }
}

/**
 * Creates a KisFlow table (on-demand, key `pk`/`sk`) unless it exists, waits until it is ACTIVE,
 * and turns on TTL by `ttlAttribute` when given. Idempotent. Encryption at rest is DynamoDB's
 * default; point-in-time recovery and the rest of the production settings belong to the CDK stack.
 *
 * @throws InfrastructureError `TABLE_SCHEMA_MISMATCH` when a table of that name has another key.
 * @example await ensureTable(dynamodb, 'kisflow-state', { ttlAttribute: 'ttl' });
 */
export async function ensureTable(
  dynamodb: DynamoDBClient,
  name: string,
  options: { readonly ttlAttribute?: string } = {},
): Promise<EnsuredTable> {
  let created = true;
  try {
    await dynamodb.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: TABLE_KEY.partition, AttributeType: 'S' },
          { AttributeName: TABLE_KEY.sort, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: TABLE_KEY.partition, KeyType: 'HASH' },
          { AttributeName: TABLE_KEY.sort, KeyType: 'RANGE' },
        ],
      }),
    );
  } catch (error) {
    if (errorName(error) !== 'ResourceInUseException') throw error;
    created = false;
  }
  await waitActive(dynamodb, name);
  if (!created) {
    const out = await dynamodb.send(new DescribeTableCommand({ TableName: name }));
    const keys = (out.Table?.KeySchema ?? []).map((k) => `${k.AttributeName}:${k.KeyType}`).sort();
    const expected = [`${TABLE_KEY.partition}:HASH`, `${TABLE_KEY.sort}:RANGE`].sort();
    if (keys.join(',') !== expected.join(',')) {
      throw new InfrastructureError(
        'TABLE_SCHEMA_MISMATCH',
        `DynamoDB table ${name} exists with key ${keys.join(', ')}; KisFlow tables need ${expected.join(', ')}. Delete or rename that table, or use another --prefix.`,
        { table: name, keys, expected },
      );
    }
  }
  const ttl =
    options.ttlAttribute === undefined ? 'off' : await enableTtl(dynamodb, name, options.ttlAttribute);
  return { name, created, ttl };
}
