import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, StreamViewType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLE_KEY, TTL_ATTRIBUTE } from '../kisflow/wire/table-keys.ts';

export interface KisFlowTableProps {
  /** Physical name (`resourceNames().connectorTable(cid)` or `.stateTable()`). */
  readonly tableName: string;
  /**
   * What happens to the table and its rows when it leaves the stack.
   * @default RemovalPolicy.RETAIN - connector rows are what flows exchange; losing them is not undoable
   */
  readonly removalPolicy?: RemovalPolicy;
  /** Give the table a stream of new and old images (a flow's `dynamodb_stream` source reads it). @default false */
  readonly stream?: boolean;
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
      partitionKey: { name: TABLE_KEY.partition, type: AttributeType.STRING },
      sortKey: { name: TABLE_KEY.sort, type: AttributeType.STRING },
      // On-demand: flows are bursty (jobs, batch imports) and idle in between.
      billingMode: BillingMode.PAY_PER_REQUEST,
      // The AWS managed key (aws/dynamodb): key use shows in CloudTrail, no key policy to maintain,
      // no grant per consumer (a customer key would need one for every step's role).
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      ...(props.stream ? { stream: StreamViewType.NEW_AND_OLD_IMAGES } : {}),
    });
  }
}
