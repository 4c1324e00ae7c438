import { Stack } from 'aws-cdk-lib';
import { CfnEndpoint, CfnReplicationConfig, CfnReplicationSubnetGroup } from 'aws-cdk-lib/aws-dms';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { type IStream, Stream, StreamEncryption, StreamMode } from 'aws-cdk-lib/aws-kinesis';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { DMS_BEFORE_IMAGE_FIELD } from '../kisflow/sources/dms-record.ts';

export interface KisFlowDmsSourceProps {
  /**
   * The source database's login in Secrets Manager, as DMS reads it: a JSON secret with
   * `host`, `port`, `username`, `password` (what RDS-managed secrets hold).
   */
  readonly sourceSecret: ISecret;
  /** @default 'mysql' (also MariaDB and Aurora MySQL) */
  readonly engine?: 'mysql' | 'aurora' | 'postgres' | 'aurora-postgresql';
  /** Database name, for PostgreSQL engines. @default - none (MySQL reads every schema the mapping names) */
  readonly databaseName?: string;
  /** Schemas whose tables are replicated (every table of each). */
  readonly schemas: readonly string[];
  /** Subnets DMS Serverless runs in: they must reach the database. */
  readonly subnetIds: readonly string[];
  /** @default - the VPC's default security group */
  readonly securityGroupIds?: readonly string[];
  /** The Kinesis target. @default - a new on-demand stream, encrypted with the AWS managed key */
  readonly stream?: IStream;
  /** DMS capacity units at most (1, 2, 4, 8, 16, 32, 64, 128, 192, 256, 384). @default 4 */
  readonly maxCapacityUnits?: number;
  /** `full-load-and-cdc` (default): the tables as they are, then every change; `cdc`: changes only. */
  readonly replicationType?: 'full-load-and-cdc' | 'cdc' | 'full-load';
}

/**
 * Recipe: MySQL (or PostgreSQL) changes into a flow, without a Kafka cluster. DMS Serverless reads
 * the binlog (full load, then CDC) and writes each change as JSON to a Kinesis stream, with the row
 * before an update (`before-image`), the table and the commit time; a flow with
 * `source: { kinesis: { stream_arn: <stream>, format: dms } }` reads them as change rows.
 *
 * This construct is optional and is checked by synth only (cdk-nag, template tests): no test here
 * runs DMS. The database must have binary logging on in ROW format (`binlog_format=ROW`,
 * `binlog_row_image=FULL`) and keep binlogs long enough for DMS.
 *
 * @example
 * const cdc = new KisFlowDmsSource(stack, 'ShopCdc', { sourceSecret, schemas: ['shop'], subnetIds });
 * // flows/orders-cdc.yml: source: { kinesis: { stream_arn: <cdc.stream.streamArn>, format: dms } }
 */
export class KisFlowDmsSource extends Construct {
  public readonly stream: IStream;
  public readonly replication: CfnReplicationConfig;
  public readonly sourceEndpoint: CfnEndpoint;
  public readonly targetEndpoint: CfnEndpoint;

  constructor(scope: Construct, id: string, props: KisFlowDmsSourceProps) {
    super(scope, id);
    const engine = props.engine ?? 'mysql';
    this.stream =
      props.stream ??
      new Stream(this, 'Stream', { streamMode: StreamMode.ON_DEMAND, encryption: StreamEncryption.MANAGED });
    const dms = new ServicePrincipal(`dms.${Stack.of(this).region}.amazonaws.com`);

    const secretRole = new Role(this, 'SecretAccess', {
      assumedBy: dms,
      description: 'KisFlow DMS source: reads the source database login',
    });
    props.sourceSecret.grantRead(secretRole);
    const streamRole = new Role(this, 'StreamAccess', {
      assumedBy: dms,
      description: 'KisFlow DMS source: writes changes to the Kinesis target',
    });
    streamRole.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['kinesis:DescribeStream', 'kinesis:PutRecord', 'kinesis:PutRecords'],
        resources: [this.stream.streamArn],
      }),
    );

    const secretSettings = {
      secretsManagerSecretId: props.sourceSecret.secretArn,
      secretsManagerAccessRoleArn: secretRole.roleArn,
    };
    const postgres = engine === 'postgres' || engine === 'aurora-postgresql';
    this.sourceEndpoint = new CfnEndpoint(this, 'SourceEndpoint', {
      endpointType: 'source',
      engineName: engine,
      sslMode: 'require',
      ...(props.databaseName === undefined ? {} : { databaseName: props.databaseName }),
      ...(postgres ? { postgreSqlSettings: secretSettings } : { mySqlSettings: secretSettings }),
    });
    this.targetEndpoint = new CfnEndpoint(this, 'TargetEndpoint', {
      endpointType: 'target',
      engineName: 'kinesis',
      kinesisSettings: {
        streamArn: this.stream.streamArn,
        serviceAccessRoleArn: streamRole.roleArn,
        // The record shape kisflow/sources/dms-record.ts decodes.
        messageFormat: 'json',
        includeTransactionDetails: true,
        includePartitionValue: true,
        // One partition key per table: changes to a table stay in order on one shard.
        partitionIncludeSchemaTable: true,
        includeControlDetails: true,
        includeTableAlterOperations: true,
      },
    });
    const subnets = new CfnReplicationSubnetGroup(this, 'Subnets', {
      replicationSubnetGroupDescription: 'KisFlow DMS source',
      subnetIds: [...props.subnetIds],
    });
    this.replication = new CfnReplicationConfig(this, 'Replication', {
      replicationConfigIdentifier: `kisflow-${Stack.of(this).stackName}-${id}`
        .replace(/[^A-Za-z0-9-]/g, '-')
        .slice(0, 255),
      replicationType: props.replicationType ?? 'full-load-and-cdc',
      sourceEndpointArn: this.sourceEndpoint.ref,
      targetEndpointArn: this.targetEndpoint.ref,
      computeConfig: {
        maxCapacityUnits: props.maxCapacityUnits ?? 4,
        replicationSubnetGroupId: subnets.ref,
        ...(props.securityGroupIds === undefined ? {} : { vpcSecurityGroupIds: [...props.securityGroupIds] }),
      },
      tableMappings: {
        rules: props.schemas.map((schema, i) => ({
          'rule-type': 'selection',
          'rule-id': String(i + 1),
          'rule-name': `kisflow-${i + 1}`,
          'object-locator': { 'schema-name': schema, 'table-name': '%' },
          'rule-action': 'include',
        })),
      },
      replicationSettings: {
        // The row before an update, which dmsChange reads as `before`.
        BeforeImageSettings: {
          EnableBeforeImage: true,
          FieldName: DMS_BEFORE_IMAGE_FIELD,
          ColumnFilter: 'all',
        },
        Logging: { EnableLogging: true },
      },
    });
  }
}
