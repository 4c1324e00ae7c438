import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';

/** Key and TTL attributes the DynamoDB stores in kisflow/aws read and write. */
export const TABLE_PARTITION_KEY = 'pk';
export const TABLE_SORT_KEY = 'sk';
export const TABLE_TTL_ATTRIBUTE = 'ttl';

export interface KisFlowTableProps {
  /** Physical name (`resourceNames().connectorTable(cid)` or `.stateTable()`). */
  readonly tableName: string;
  /**
   * What happens to the table and its rows when it leaves the stack.
   * @default RemovalPolicy.RETAIN - connector rows are what flows exchange; losing them is not undoable
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A connector's (or the keyed state's) table: `pk`/`sk` strings, on-demand, encrypted at rest,
 * point-in-time recovery, TTL on `ttl`.
 */
export class KisFlowTable extends Construct {
  public readonly table: Table;

  constructor(scope: Construct, id: string, props: KisFlowTableProps) {
    super(scope, id);
    this.table = new Table(this, 'Table', {
      tableName: props.tableName,
      partitionKey: { name: TABLE_PARTITION_KEY, type: AttributeType.STRING },
      sortKey: { name: TABLE_SORT_KEY, type: AttributeType.STRING },
      // On-demand: flows are bursty (jobs, batch imports) and idle in between.
      billingMode: BillingMode.PAY_PER_REQUEST,
      // The AWS managed key (aws/dynamodb): key use shows in CloudTrail, no key policy to maintain,
      // no grant per consumer (a customer key would need one for every step's role).
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TABLE_TTL_ATTRIBUTE,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
  }
}
