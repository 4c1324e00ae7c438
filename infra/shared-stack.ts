import { dirname } from 'node:path';
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { type ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { StringParameter } from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import { streamedConnectors } from '../kisflow/config/flow-source.ts';
import type { ProjectConfig } from '../kisflow/config/model.ts';
import { logicalSafeId, resourceNames, safeId } from '../kisflow/config/names.ts';
import { CONTROL_MAX_RECEIVE_COUNT } from '../kisflow/wire/control-message.ts';
import { connectorStreamParameter } from './flow-source-mapping.ts';
import { JobControl } from './job-control.ts';
import { KisFlowTable } from './kisflow-table.ts';
import { deadLetterQueue, secureQueue } from './secure-queue.ts';
import { defaultEntriesDir, writeJobControlEntry } from './step-entry.ts';

export interface SharedStackProps extends StackProps {
  readonly project: ProjectConfig;
  /** Prefix of physical names. @default 'kisflow' */
  readonly prefix?: string;
  /** What happens to the tables when they leave the stack. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Create the topic the flows' alarms notify (`<prefix>-alarms`). `false` when
   * `kisflow:alarmTopicArn` names an existing one.
   * @default true
   */
  readonly alarmTopic?: boolean;
  /** Addresses the alarm topic emails (`-c kisflow:alarmEmail`, or `alarm_email` in global). @default [] */
  readonly alarmEmails?: readonly string[];
  /** The existing topic alarms and job alerts go to, when `alarmTopic` is false. @default - none */
  readonly alarmTopicArn?: string;
  /** Directory of generated entries, under the project root. @default <root>/cdk.out/.kisflow-entries */
  readonly entriesDir?: string;
  /** Bundle job control with esbuild; `false` is for template-shape tests only. @default true */
  readonly bundling?: boolean;
  /** @default false */
  readonly bundleAwsSdk?: boolean;
  /** @default - the lock file the CDK finds upwards from the working directory */
  readonly depsLockFilePath?: string;
}

/**
 * What flows share: one DynamoDB table per `dynamodb` connector (a Save in one flow and a Load in
 * another meet there), the keyed-state table, and the SNS topic every flow's alarms notify.
 * Connectors of other types are implemented in code and get no table.
 */
export class SharedStack extends Stack {
  /** Table per connector id, for connectors of type `dynamodb`. */
  public readonly connectorTables: ReadonlyMap<string, Table>;
  public readonly stateTable: Table;
  /** The run ledger (kisflow/aws/dynamodb-run-ledger.ts); its key and TTL attribute are RUN_TABLE's. */
  public readonly runsTable: Table;
  public readonly alarmTopic?: Topic;
  /** Job control's input: job fires, run ends, retries, sweeps (kisflow/wire/control-message.ts). */
  public readonly controlQueue: Queue;
  public readonly controlDeadLetterQueue: Queue;
  public readonly jobControl: JobControl;

  constructor(scope: Construct, id: string, props: SharedStackProps) {
    super(scope, id, props);
    const names = resourceNames(props.prefix);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const tables = new Map<string, Table>();
    const streamed = streamedConnectors(props.project.flows.values());
    for (const conn of props.project.conns.values()) {
      if (conn.type !== 'dynamodb') continue;
      // The table's construct id is what its logical id hashes: never change it, or CloudFormation
      // replaces a retained table. The output sits at the stack's top, where CloudFormation drops
      // `-` and `_` unhashed: its id must keep `orders-eu` and `orders_eu` apart itself.
      const { table } = new KisFlowTable(this, `Connector-${safeId(conn.cid)}`, {
        tableName: names.connectorTable(conn.cid),
        removalPolicy,
        stream: streamed.has(conn.cid),
      });
      tables.set(conn.cid, table);
      if (table.tableStreamArn !== undefined) {
        new StringParameter(this, `ConnectorStream${logicalSafeId(conn.cid)}`, {
          parameterName: connectorStreamParameter(props.prefix, conn.cid),
          description: `Stream of the table of connector ${safeId(conn.cid, 100)} (a flow's dynamodb_stream source)`,
          stringValue: table.tableStreamArn,
        });
      }
      new CfnOutput(this, `ConnectorTable${logicalSafeId(conn.cid)}`, {
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
    // Runs are history, not data a flow exchanges: TTL ends them (RUN_TABLE.ttlAttribute), and a
    // removed stack may take them along only when its tables go too.
    this.runsTable = new KisFlowTable(this, 'Runs', { tableName: names.runsTable(), removalPolicy }).table;
    new CfnOutput(this, 'RunsTable', {
      description: 'DynamoDB table of runs (kisflow runs / jobs)',
      value: this.runsTable.tableName,
    });
    if (props.alarmTopic !== false) {
      // Flow stacks find it by name (config/names.ts), not by an export a redeploy could not change.
      this.alarmTopic = new Topic(this, 'AlarmTopic', {
        topicName: names.alarmTopic(),
        displayName: `KisFlow alarms (${names.prefix})`,
        enforceSSL: true,
      });
      Validations.of(this.alarmTopic).acknowledge({
        id: 'AwsSolutions-SNS2',
        reason:
          'CloudWatch alarms cannot publish to a topic encrypted with the AWS managed SNS key, and the messages are alarm state changes only; TLS is enforced.',
      });
      for (const email of props.alarmEmails ?? [])
        this.alarmTopic.addSubscription(new EmailSubscription(email));
      new CfnOutput(this, 'AlarmTopicArn', {
        description: 'SNS topic the alarms of every flow notify',
        value: this.alarmTopic.topicArn,
      });
    }

    this.controlDeadLetterQueue = deadLetterQueue(this, 'ControlDeadLetterQueue', {
      queueName: names.controlDeadLetterQueue(),
    });
    this.controlQueue = secureQueue(this, 'ControlQueue', {
      queueName: names.controlQueue(),
      // Six times the function's timeout, as AWS recommends for a queue feeding Lambda.
      visibilityTimeout: Duration.seconds(360),
      deadLetterQueue: { queue: this.controlDeadLetterQueue, maxReceiveCount: CONTROL_MAX_RECEIVE_COUNT },
    });
    const alertTopic: ITopic | undefined =
      this.alarmTopic ??
      (props.alarmTopicArn === undefined
        ? undefined
        : Topic.fromTopicArn(this, 'AlertTopic', props.alarmTopicArn));
    this.jobControl = new JobControl(this, 'JobControl', {
      project: props.project,
      prefix: props.prefix,
      controlQueue: this.controlQueue,
      controlDeadLetterQueue: this.controlDeadLetterQueue,
      runsTable: this.runsTable,
      ...(alertTopic === undefined ? {} : { alertTopic }),
      entry: writeJobControlEntry({
        project: props.project,
        dir: props.entriesDir ?? defaultEntriesDir(props.project.root),
      }),
      projectRoot: props.depsLockFilePath ? dirname(props.depsLockFilePath) : props.project.root,
      depsLockFilePath: props.depsLockFilePath,
      bundling: props.bundling,
      bundleAwsSdk: props.bundleAwsSdk,
      logRemovalPolicy: removalPolicy,
    });
    new CfnOutput(this, 'ControlQueueUrl', {
      description: 'Job control queue (fires, run ends, retries)',
      value: this.controlQueue.queueUrl,
    });
  }
}
