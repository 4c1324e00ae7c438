import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import type { ProjectConfig } from '../kisflow/config/model.ts';
import { resourceNames, safeId } from '../kisflow/config/names.ts';
import { KisFlowTable } from './kisflow-table.ts';

export interface SharedStackProps extends StackProps {
  readonly project: ProjectConfig;
  /** Prefix of physical names. @default 'kisflow' */
  readonly prefix?: string;
  /** What happens to the tables when they leave the stack. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * What flows share: one DynamoDB table per `dynamodb` connector (a Save in one flow and a Load in
 * another meet there) and the keyed-state table. Connectors of other types are implemented in
 * code and get no table.
 */
export class SharedStack extends Stack {
  /** Table per connector id, for connectors of type `dynamodb`. */
  public readonly connectorTables: ReadonlyMap<string, Table>;
  public readonly stateTable: Table;

  constructor(scope: Construct, id: string, props: SharedStackProps) {
    super(scope, id, props);
    const names = resourceNames(props.prefix);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const tables = new Map<string, Table>();
    for (const conn of props.project.conns.values()) {
      if (conn.type !== 'dynamodb') continue;
      const { table } = new KisFlowTable(this, `Connector-${safeId(conn.cid)}`, {
        tableName: names.connectorTable(conn.cid),
        removalPolicy,
      });
      tables.set(conn.cid, table);
      new CfnOutput(this, `ConnectorTable-${safeId(conn.cid)}`, {
        description: `DynamoDB table of connector ${conn.cid}`,
        value: table.tableName,
      });
    }
    this.connectorTables = tables;
    this.stateTable = new KisFlowTable(this, 'State', { tableName: names.stateTable(), removalPolicy }).table;
    new CfnOutput(this, 'StateTable', {
      description: 'DynamoDB table of keyed state',
      value: this.stateTable.tableName,
    });
  }
}
