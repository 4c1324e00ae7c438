import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { Effect, PolicyStatement, type Role } from 'aws-cdk-lib/aws-iam';
import {
  EventSourceMapping,
  FilterCriteria,
  type IFunction,
  SourceAccessConfigurationType,
  StartingPosition,
} from 'aws-cdk-lib/aws-lambda';
import { SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { StringParameter } from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import type {
  FlowSourceSpec,
  StartingPosition as Position,
  ProvisionedPollers,
} from '../kisflow/config/model.ts';
import { resourceNames, safeId } from '../kisflow/config/names.ts';
import { kafkaReportsItemFailures } from '../kisflow/sources/source-event.ts';

/**
 * The SSM parameter holding the stream ARN of a connector's table. DynamoDB names a stream only
 * when it enables it, and flow stacks find shared resources by name rather than by exports (an
 * export cannot change while another stack imports it); the parameter is resolved at deploy time.
 */
export function connectorStreamParameter(prefix: string | undefined, cid: string): string {
  return `/${resourceNames(prefix).prefix}/connector-stream/${safeId(cid, 100)}`;
}

/**
 * What Lambda's poller needs to read each kind, on the source's own ARN. The lists follow the
 * managed policies AWSLambdaKinesisExecutionRole, AWSLambdaDynamoDBExecutionRole,
 * AWSLambdaMSKExecutionRole and AWSLambdaSQSQueueExecutionRole, cut to the one resource.
 */
export const KINESIS_READ_ACTIONS: readonly string[] = [
  'kinesis:DescribeStream',
  'kinesis:DescribeStreamSummary',
  'kinesis:GetRecords',
  'kinesis:GetShardIterator',
  'kinesis:ListShards',
  'kinesis:SubscribeToShard',
];
export const DYNAMODB_STREAM_READ_ACTIONS: readonly string[] = [
  'dynamodb:DescribeStream',
  'dynamodb:GetRecords',
  'dynamodb:GetShardIterator',
  'dynamodb:ListStreams',
];
export const MSK_CLUSTER_ACTIONS: readonly string[] = [
  'kafka:DescribeClusterV2',
  'kafka:GetBootstrapBrokers',
];
/** MSK with IAM authentication: connect, read the topic, commit the group's offsets. */
export const MSK_IAM_ACTIONS: readonly string[] = [
  'kafka-cluster:Connect',
  'kafka-cluster:DescribeGroup',
  'kafka-cluster:AlterGroup',
  'kafka-cluster:DescribeTopic',
  'kafka-cluster:ReadData',
  'kafka-cluster:DescribeClusterDynamicConfiguration',
];
/** Lambda's MSK poller reaches the brokers through network interfaces in the cluster's VPC. */
export const MSK_NETWORK_ACTIONS: readonly string[] = [
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeVpcs',
  'ec2:DeleteNetworkInterface',
  'ec2:DescribeSubnets',
  'ec2:DescribeSecurityGroups',
];
export const SQS_SOURCE_ACTIONS: readonly string[] = [
  'sqs:ReceiveMessage',
  'sqs:DeleteMessage',
  'sqs:GetQueueAttributes',
  'sqs:ChangeMessageVisibility',
];

export interface FlowSourceMappingProps {
  readonly flowId: string;
  /** The flow's `source` with one mapped kind (kinesis, dynamodbStream, kafka or sqs). */
  readonly source: FlowSourceSpec;
  /** The flow's first step function, and its role (the grants go there). */
  readonly function: IFunction;
  readonly role: Role;
  /**
   * Where Lambda sends what it gave up on (a batch's shard and sequence range after its retries,
   * or a record too old): the flow's ingress DLQ. Unused by `sqs`, whose queue has its own.
   */
  readonly deadLetterQueue: IQueue;
  /** Whether the mapping reads (`status: 0` flows deploy it disabled). @default true */
  readonly enabled?: boolean;
  /** Resource name prefix, for a connector's stream parameter. @default 'kisflow' */
  readonly prefix?: string;
}

/**
 * A flow's source as Lambda's native event source mapping on its first step: the kind's tuning,
 * partial batch responses (where the kind has them), the failure destination on the flow's DLQ,
 * and read access to that one stream, cluster, secret or queue.
 */
export class FlowSourceMapping extends Construct {
  public readonly mapping: EventSourceMapping;
  /** The ARN the mapping reads (a deploy-time token for a connector's stream). */
  public readonly eventSourceArn?: string;

  constructor(scope: Construct, id: string, props: FlowSourceMappingProps) {
    super(scope, id);
    const { source, role } = props;
    const enabled = props.enabled ?? true;
    const onFailure = new SqsDlq(props.deadLetterQueue);
    const grant = (actions: readonly string[], resources: string[]) =>
      role.addToPrincipalPolicy(
        new PolicyStatement({ effect: Effect.ALLOW, actions: [...actions], resources }),
      );

    if (source.kinesis) {
      const k = source.kinesis;
      this.eventSourceArn = k.streamArn;
      this.mapping = new EventSourceMapping(this, 'Mapping', {
        target: props.function,
        eventSourceArn: k.streamArn,
        enabled,
        startingPosition: startingPosition(k.startingPosition),
        ...timestamp(k.startingTimestamp),
        ...streamTuning(k),
        reportBatchItemFailures: true,
        onFailure,
      });
      const consumer = /^(.*:stream\/[^/]+)\/consumer\//.exec(k.streamArn);
      grant(KINESIS_READ_ACTIONS, consumer ? [consumer[1] as string, k.streamArn] : [k.streamArn]);
      if (consumer) grant(['kinesis:DescribeStreamConsumer'], [k.streamArn]);
    } else if (source.dynamodbStream) {
      const d = source.dynamodbStream;
      const arn =
        d.streamArn ??
        StringParameter.valueForStringParameter(
          this,
          connectorStreamParameter(props.prefix, d.connector ?? ''),
        );
      this.eventSourceArn = arn;
      this.mapping = new EventSourceMapping(this, 'Mapping', {
        target: props.function,
        eventSourceArn: arn,
        enabled,
        startingPosition: startingPosition(d.startingPosition),
        ...streamTuning(d),
        reportBatchItemFailures: true,
        onFailure,
      });
      if (d.streamArn) {
        grant(DYNAMODB_STREAM_READ_ACTIONS, [d.streamArn]);
      } else {
        const table = resourceNames(props.prefix).connectorTable(d.connector ?? '');
        grant(DYNAMODB_STREAM_READ_ACTIONS, [
          Stack.of(this).formatArn({
            service: 'dynamodb',
            resource: 'table',
            resourceName: `${table}/stream/*`,
          }),
        ]);
        Validations.of(role).acknowledge({
          id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:dynamodb:<AWS::Region>:<AWS::AccountId>:table/${table}/stream/*]`,
          reason: `DynamoDB labels a table's stream when it enables it; the grant is on the streams of the one table ${table}.`,
        });
      }
    } else if (source.kafka) {
      const f = source.kafka;
      const secret = f.secretArn
        ? [{ type: SourceAccessConfigurationType.SASL_SCRAM_512_AUTH, uri: f.secretArn }]
        : undefined;
      this.eventSourceArn = f.mskClusterArn;
      this.mapping = new EventSourceMapping(this, 'Mapping', {
        target: props.function,
        ...(f.mskClusterArn
          ? { eventSourceArn: f.mskClusterArn }
          : { kafkaBootstrapServers: [...(f.bootstrapServers ?? [])] }),
        kafkaTopic: f.topic,
        kafkaConsumerGroupId: f.consumerGroup,
        enabled,
        startingPosition: startingPosition(f.startingPosition),
        ...timestamp(f.startingTimestamp),
        ...(f.batchSize === undefined ? {} : { batchSize: f.batchSize }),
        ...(f.batchingWindowSeconds === undefined
          ? {}
          : { maxBatchingWindow: Duration.seconds(f.batchingWindowSeconds) }),
        ...filters(f.filters),
        ...pollers(f.provisionedPollers),
        // Lambda has these for Kafka in provisioned mode only (config/flow-source.ts checks that).
        ...(f.bisectOnError === undefined ? {} : { bisectBatchOnError: f.bisectOnError }),
        ...(f.maxRetries === undefined ? {} : { retryAttempts: f.maxRetries }),
        ...(f.maxRecordAgeSeconds === undefined || f.maxRecordAgeSeconds < 0
          ? {}
          : { maxRecordAge: Duration.seconds(f.maxRecordAgeSeconds) }),
        ...(secret ? { sourceAccessConfigurations: secret } : {}),
        // Provisioned mode only; the source handler answers in the matching shape.
        reportBatchItemFailures: kafkaReportsItemFailures(f),
        onFailure,
      });
      if (f.mskClusterArn) {
        grant(MSK_CLUSTER_ACTIONS, [f.mskClusterArn]);
        if (!f.secretArn) {
          // IAM authentication: the cluster, this topic and this consumer group only.
          const [, head, name, uuid] =
            /^(arn:[^:]+:kafka:[^:]+:[^:]+):cluster\/([^/]+)\/(.+)$/.exec(f.mskClusterArn) ?? [];
          grant(MSK_IAM_ACTIONS, [
            f.mskClusterArn,
            `${head}:topic/${name}/${uuid}/${f.topic}`,
            `${head}:group/${name}/${uuid}/${f.consumerGroup}`,
          ]);
        }
        grant(MSK_NETWORK_ACTIONS, ['*']);
        Validations.of(role).acknowledge({
          id: 'AwsSolutions-IAM5[Resource::*]',
          reason:
            "Lambda's MSK poller creates and describes network interfaces in the cluster's VPC; these EC2 actions take no resource-level permissions.",
        });
      }
      if (f.secretArn) grant(['secretsmanager:GetSecretValue'], [f.secretArn]);
    } else if (source.sqs) {
      const q = source.sqs;
      this.eventSourceArn = q.queueArn;
      this.mapping = new EventSourceMapping(this, 'Mapping', {
        target: props.function,
        eventSourceArn: q.queueArn,
        enabled,
        ...(q.batchSize === undefined ? {} : { batchSize: q.batchSize }),
        ...(q.batchingWindowSeconds === undefined
          ? {}
          : { maxBatchingWindow: Duration.seconds(q.batchingWindowSeconds) }),
        ...(q.maxConcurrency === undefined ? {} : { maxConcurrency: q.maxConcurrency }),
        ...filters(q.filters),
        ...pollers(q.provisionedPollers),
        // The queue's own redrive policy dead-letters what keeps failing; an SQS mapping has no
        // on-failure destination.
        reportBatchItemFailures: true,
      });
      grant(SQS_SOURCE_ACTIONS, [q.queueArn]);
    } else {
      throw new Error(`infra: flow '${props.flowId}' has no source an event source mapping reads`);
    }
  }
}

function startingPosition(position: Position): StartingPosition {
  return position === 'latest'
    ? StartingPosition.LATEST
    : position === 'at_timestamp'
      ? StartingPosition.AT_TIMESTAMP
      : StartingPosition.TRIM_HORIZON;
}

function timestamp(iso: string | undefined): { startingPositionTimestamp?: number } {
  return iso === undefined ? {} : { startingPositionTimestamp: Math.floor(Date.parse(iso) / 1000) };
}

function filters(list: readonly Record<string, unknown>[] | undefined): {
  filters?: Array<Record<string, unknown>>;
} {
  return list === undefined ? {} : { filters: list.map((pattern) => FilterCriteria.filter(pattern)) };
}

function pollers(p: ProvisionedPollers | undefined) {
  if (p === undefined) return {};
  return {
    provisionedPollerConfig: {
      ...(p.minimum === undefined ? {} : { minimumPollers: p.minimum }),
      ...(p.maximum === undefined ? {} : { maximumPollers: p.maximum }),
    },
  };
}

/** The Kinesis and DynamoDB Streams settings (same names, same limits). */
function streamTuning(t: {
  readonly batchSize?: number;
  readonly batchingWindowSeconds?: number;
  readonly parallelizationFactor?: number;
  readonly bisectOnError?: boolean;
  readonly maxRetries?: number;
  readonly maxRecordAgeSeconds?: number;
  readonly filters?: readonly Record<string, unknown>[];
}) {
  return {
    ...(t.batchSize === undefined ? {} : { batchSize: t.batchSize }),
    ...(t.batchingWindowSeconds === undefined
      ? {}
      : { maxBatchingWindow: Duration.seconds(t.batchingWindowSeconds) }),
    ...(t.parallelizationFactor === undefined ? {} : { parallelizationFactor: t.parallelizationFactor }),
    ...(t.bisectOnError === undefined ? {} : { bisectBatchOnError: t.bisectOnError }),
    ...(t.maxRetries === undefined ? {} : { retryAttempts: t.maxRetries }),
    // -1 is Lambda's default (no limit); the L2 takes only a duration.
    ...(t.maxRecordAgeSeconds === undefined || t.maxRecordAgeSeconds < 0
      ? {}
      : { maxRecordAge: Duration.seconds(t.maxRecordAgeSeconds) }),
    ...filters(t.filters),
  };
}
