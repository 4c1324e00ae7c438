import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, type Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { safeId } from '../kisflow/config/names.ts';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../kisflow/wire/limits.ts';
import { type StepWiring, WIRING_ENV } from '../kisflow/wire/step-wiring.ts';
import { kisflowFunction, STEP_RUNTIME } from './bundling.ts';
import { METRICS_SERVICE } from './flow-monitoring.ts';
import type { StepQueues } from './step-queues.ts';

/**
 * The item-level calls kisflow/aws's DynamoDB stores make (test/infra checks the lists against
 * their code), by what a step does: a connector is read by Query and written by idempotent
 * BatchWriteItem; keyed state is read by key and changed by conditional UpdateItem. No Scan, no
 * delete, no table management.
 */
export const CONNECTOR_READ_ACTIONS: readonly string[] = ['dynamodb:Query'];
export const CONNECTOR_WRITE_ACTIONS: readonly string[] = ['dynamodb:BatchWriteItem'];
export const STATE_ACTIONS: readonly string[] = [
  'dynamodb:BatchGetItem',
  'dynamodb:GetItem',
  'dynamodb:UpdateItem',
];

/**
 * What a step does with the runs table (kisflow/aws/dynamodb-run-ledger.ts): a batch's completion
 * is an UpdateItem on its run's shard item, the run is read back by Query (and its status by
 * GetItem), and the last batch moves the run item to its final status — all under `run#<id>`.
 * Finishing a run also frees its job's slot (`job#<job>`); the `active` entry is job control's to
 * remove once the run's end is handled.
 */
export const RUN_ACTIONS: readonly string[] = ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem'];
export const RUN_FINISH_ACTIONS: readonly string[] = ['dynamodb:DeleteItem'];

/** What a step may do with its connector's table. */
export type ConnectorAccess = 'read' | 'write' | 'readWrite';

export interface KisFlowStepProps {
  readonly flowId: string;
  /** 0-based position of the step in its flow. */
  readonly step: number;
  readonly fid: string;
  /** The generated entry file (`writeStepEntry`). */
  readonly entry: string;
  /** Directory esbuild runs in; the entry must be under it. */
  readonly projectRoot: string;
  /** @default - the `package-lock.json` (or other lock file) found upwards from the working directory */
  readonly depsLockFilePath?: string;
  /**
   * The step's input queue and DLQ. The function's timeout and the event source's batching window
   * are theirs (`functionTimeout`, `batchingWindow`): the queue's visibility timeout was sized
   * from them.
   */
  readonly queues: StepQueues;
  /** Queues this step may send to, by step index: every step of its flow (`jumpTo`). @default {} */
  readonly stepQueues?: Readonly<Record<string, IQueue>>;
  /** The flow's output queue, for the last step. @default - none */
  readonly outputQueue?: IQueue;
  /** Tables of this step's connector, by connector id. @default {} */
  readonly connectorTables?: Readonly<Record<string, ITable>>;
  /** What the step does with `connectorTables`. @default 'readWrite' */
  readonly connectorAccess?: ConnectorAccess;
  /** The keyed-state table, for a function with `option.state: true`. @default - none: the step has no keyed state */
  readonly stateTable?: ITable;
  /**
   * The engine's state scope of this step (`<flow>/<fid>`): the step may touch only items whose
   * partition key starts with it (`dynamodb:LeadingKeys`). Required with `stateTable`.
   */
  readonly stateScope?: string;
  /** The run ledger's table: every batch the step handles is recorded there. @default - runs are not recorded */
  readonly runsTable?: ITable;
  /** Job control's queue: a batch that ends its run says so there (`run-ended`). @default - none */
  readonly controlQueue?: IQueue;
  /** Whether the event source mapping consumes the queue (`status: 0` flows deploy disabled). @default true */
  readonly enabled?: boolean;
  /** CloudWatch namespace of the step's EMF metrics (`global.metricsNamespace`). */
  readonly metricsNamespace: string;
  /** Messages per invocation (event source BatchSize, 1-10000). @default 10 */
  readonly batchSize?: number;
  /** Concurrent invocations the event source may use (2-1000). @default - the account's concurrency */
  readonly maxConcurrency?: number;
  /** @default 256 */
  readonly memorySize?: number;
  /** Packing limit for outgoing messages. @default 262144 */
  readonly maxMessageBytes?: number;
  /**
   * Bundle the entry with esbuild. `false` ships a stub handler and is meant only for tests that
   * assert the template's shape: the generated entry is still written.
   * @default true
   */
  readonly bundling?: boolean;
  /** Bundle `@aws-sdk/*` instead of using the runtime's. @default false */
  readonly bundleAwsSdk?: boolean;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** What happens to the log group when the step leaves the stack. @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * One step of a flow: an arm64 Node.js Lambda bundled from the step's generated entry, fed by its
 * input queue through an event source that reports partial batch failures, allowed to send only
 * to the queues it feeds and its own DLQ and to touch only its connector's table and the state
 * table.
 */
export class KisFlowStep extends Construct {
  public readonly function: LambdaFunction;
  public readonly role: Role;
  public readonly logGroup: LogGroup;
  public readonly eventSource: SqsEventSource;
  /** What the function finds in `KISFLOW_WIRING` (URLs and names are deploy-time tokens). */
  public readonly wiring: StepWiring;

  constructor(scope: Construct, id: string, props: KisFlowStepProps) {
    super(scope, id);
    const where = `step ${props.step} (${props.fid}) of flow '${props.flowId}'`;
    // IAM descriptions take Latin-1 only; fids and flow ids may be any Unicode.
    const asciiWhere = `step ${props.step} (${safeId(props.fid, 64)}) of flow ${safeId(props.flowId, 64)}`;
    const batchSize = props.batchSize ?? 10;
    const window = props.queues.batchingWindow?.toSeconds() ?? 0;
    validateTuning(where, batchSize, window, props.maxConcurrency, props.queues.fifo);

    const { queue, deadLetterQueue, maxReceiveCount } = props.queues;
    const stepQueues = props.stepQueues ?? {};
    const connectorTables = props.connectorTables ?? {};

    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });

    // A role of our own instead of AWSLambdaBasicExecutionRole: that managed policy lets the
    // function create any log group and write to all of them; this one writes to its log group.
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: truncate(`KisFlow ${asciiWhere}`, 1000),
    });
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );

    this.wiring = {
      inputQueue: queue.queueUrl,
      stepQueues: Object.fromEntries(Object.entries(stepQueues).map(([step, q]) => [step, q.queueUrl])),
      ...(props.outputQueue ? { outputQueue: props.outputQueue.queueUrl } : {}),
      deadLetterQueue: deadLetterQueue.queueUrl,
      connectorTables: Object.fromEntries(
        Object.entries(connectorTables).map(([cid, t]) => [cid, t.tableName]),
      ),
      ...(props.stateTable ? { stateTable: props.stateTable.tableName } : {}),
      ...(props.runsTable ? { runsTable: props.runsTable.tableName } : {}),
      ...(props.controlQueue ? { controlQueue: props.controlQueue.queueUrl } : {}),
      maxReceiveCount,
      maxMessageBytes: props.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      metricsNamespace: props.metricsNamespace,
    };

    const common = {
      runtime: STEP_RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.queues.functionTimeout,
      role: this.role,
      logGroup: this.logGroup,
      description: truncate(`KisFlow ${where}`, 256),
      // Lambda limits all variables of a function to 4 KB together; the wiring holds URLs and
      // names only, one URL per step of the flow (config/deployment-checks.ts keeps it in bounds).
      // https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html
      environment: {
        [WIRING_ENV]: Stack.of(this).toJsonString(this.wiring),
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_METRICS_NAMESPACE: props.metricsNamespace,
        POWERTOOLS_SERVICE_NAME: METRICS_SERVICE,
      },
    };
    this.function = kisflowFunction(this, 'Function', common, props);

    // Consume: ReceiveMessage, DeleteMessage, ChangeMessageVisibility (retry_duration backoff).
    this.eventSource = new SqsEventSource(queue, {
      batchSize,
      maxBatchingWindow: window > 0 ? Duration.seconds(window) : undefined,
      maxConcurrency: props.maxConcurrency,
      enabled: props.enabled ?? true,
      // One bad message never fails, and never re-runs, its neighbours.
      reportBatchItemFailures: true,
    });
    this.function.addEventSource(this.eventSource);

    for (const target of [...Object.values(stepQueues), ...(props.outputQueue ? [props.outputQueue] : [])]) {
      target.grantSendMessages(this.role);
    }
    deadLetterQueue.grantSendMessages(this.role);
    props.controlQueue?.grantSendMessages(this.role);
    const tables = Object.values(connectorTables).map((t) => t.tableArn);
    const access = props.connectorAccess ?? 'readWrite';
    if (tables.length > 0) {
      this.role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: [
            ...(access === 'write' ? [] : CONNECTOR_READ_ACTIONS),
            ...(access === 'read' ? [] : CONNECTOR_WRITE_ACTIONS),
          ],
          resources: tables,
        }),
      );
    }
    if (props.runsTable) {
      // Item-level: the keys the ledger's completion path writes, nothing a step has no need for.
      this.role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: [...RUN_ACTIONS],
          resources: [props.runsTable.tableArn],
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['run#*'] } },
        }),
      );
      this.role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: [...RUN_FINISH_ACTIONS],
          resources: [props.runsTable.tableArn],
          conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['job#*'] } },
        }),
      );
    }
    if (props.stateTable) {
      if (props.stateScope === undefined)
        throw new Error(`KisFlow ${where}: a state table needs its stateScope`);
      this.role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: [...STATE_ACTIONS],
          resources: [props.stateTable.tableArn],
          // The state store's partition key is `encodeURIComponent(scope)#key` (kisflow/aws
          // dynamodb-state-store.ts): this step reaches its own keys only.
          // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html
          conditions: {
            'ForAllValues:StringLike': {
              'dynamodb:LeadingKeys': [`${encodeURIComponent(props.stateScope)}#*`],
            },
          },
        }),
      );
    }
  }
}

function validateTuning(
  where: string,
  batchSize: number,
  window: number,
  maxConcurrency: number | undefined,
  fifo: boolean,
): void {
  // https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html
  const problems: string[] = [];
  // https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html
  if (fifo && batchSize > 10) problems.push(`batch size ${batchSize} is over 10, the most on a FIFO queue`);
  if (fifo && window > 0) problems.push(`a FIFO queue takes no batching window (got ${window} s)`);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000)
    problems.push(`batch size ${batchSize} is outside 1-10000`);
  if (window < 0 || window > 300) problems.push(`batching window ${window}s is outside 0-300 s`);
  if (!fifo && batchSize > 10 && window < 1)
    problems.push(
      `batch size ${batchSize} needs a batching window of at least 1 s (SQS allows more than 10 only then)`,
    );
  if (
    maxConcurrency !== undefined &&
    (!Number.isInteger(maxConcurrency) || maxConcurrency < 2 || maxConcurrency > 1000)
  )
    problems.push(`max concurrency ${maxConcurrency} is outside 2-1000`);
  if (problems.length > 0)
    throw new Error(`KisFlow ${where}: ${problems.join('; ')}. Fix the flow's tuning.`);
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
