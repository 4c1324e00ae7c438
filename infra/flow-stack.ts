import { dirname } from 'node:path';
import { CfnOutput, Duration, type RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { type ITable, Table } from 'aws-cdk-lib/aws-dynamodb';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { type IQueue, Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { mappedSourceKind, queueNameOfArn } from '../kisflow/config/flow-source.ts';
import type { FlowSpec, FuncSpec, FunctionMode, ProjectConfig } from '../kisflow/config/model.ts';
import { fifoQueues, logicalSafeId, resourceNames, safeId, stepKeys } from '../kisflow/config/names.ts';
import { maxReceiveCount } from '../kisflow/config/redelivery.ts';
import { ConfigError } from '../kisflow/errors.ts';
import { FlowEventSource } from './event-source.ts';
import { FlowMonitoring, type MonitoredSource } from './flow-monitoring.ts';
import { FlowSourceMapping } from './flow-source-mapping.ts';
import { KisFlowJob } from './job-schedule.ts';
import { DEAD_LETTER_RETENTION, deadLetterQueue, secureQueue } from './secure-queue.ts';
import type { SharedStack } from './shared-stack.ts';
import { type ConnectorAccess, KisFlowStep } from './step.ts';
import { defaultEntriesDir, writeStepEntry } from './step-entry.ts';
import { StepQueues } from './step-queues.ts';

/** Receives of an output message before it moves to the output DLQ. */
const OUTPUT_MAX_RECEIVE_COUNT = 5;

export interface FlowStackProps extends StackProps {
  readonly project: ProjectConfig;
  readonly flowId: string;
  /** Where the connector and state tables live; this stack depends on it. */
  readonly shared: SharedStack;
  /** Prefix of physical names. @default 'kisflow' */
  readonly prefix?: string;
  /** Directory for generated step entries, under the project root. @default <root>/cdk.out/.kisflow-entries */
  readonly entriesDir?: string;
  /** Bundle each step with esbuild; `false` is for template-shape tests only. @default true */
  readonly bundling?: boolean;
  /** Bundle `@aws-sdk/*` into each step instead of using the runtime's. @default false */
  readonly bundleAwsSdk?: boolean;
  /** SNS topic every alarm of the flow notifies. @default - the shared stack's topic (`<prefix>-alarms`) */
  readonly alarmTopicArn?: string;
  /** What happens to log groups when they leave the stack. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * The project's lock file; esbuild runs in its directory, which must contain the project root.
   * @default - the lock file the CDK finds upwards from the working directory
   */
  readonly depsLockFilePath?: string;
}

/**
 * One flow, deployable alone (`cdk deploy KisFlow-<flow>` deploys it and the shared stack): a
 * queue, DLQ and Lambda per step, the output queue, the flow's jobs and event rule, its dashboard
 * and alarms. A flow with `status: 0` keeps its stack, with its event source mappings, schedules
 * and event rule disabled: after a deploy it consumes and fires nothing, and its queues keep
 * what waits in them.
 *
 * Shared tables are referenced by their physical names, not by CloudFormation exports: an export
 * cannot change while another stack imports it, so adding a connector or replacing a table would
 * first need every flow stack torn down. The names are derived from the config on both sides and
 * the stack dependency still orders the deploys.
 */
export class FlowStack extends Stack {
  public readonly flow: FlowSpec;
  public readonly steps: readonly KisFlowStep[];
  public readonly stepQueues: readonly StepQueues[];
  /** Where the last step sends its rows. */
  public readonly outputQueue: Queue;
  /** Ticks and events that could not be delivered into the first queue (when the flow has jobs or a source). */
  public readonly ingressDeadLetterQueue?: Queue;
  public readonly jobs: ReadonlyMap<string, KisFlowJob>;
  public readonly eventSource?: FlowEventSource;
  /** The event source mapping of the flow's `source` (Kinesis, DynamoDB stream, Kafka, SQS) on its first step. */
  public readonly sourceMapping?: FlowSourceMapping;
  public readonly monitoring: FlowMonitoring;

  constructor(scope: Construct, id: string, props: FlowStackProps) {
    super(scope, id, props);
    const { project, flowId } = props;
    const flow = project.flows.get(flowId);
    if (!flow) throw new Error(`infra: there is no flow '${flowId}'`);
    if (flow.steps.length === 0) throw new Error(`infra: flow '${flowId}' has no steps`);
    this.flow = flow;
    const names = resourceNames(props.prefix);
    const keys = stepKeys(flow.steps.map((s) => s.fid));
    const { tuning } = flow;
    const timeout = Duration.seconds(tuning.timeoutSeconds);
    const batchingWindow =
      tuning.batchingWindowSeconds > 0 ? Duration.seconds(tuning.batchingWindowSeconds) : undefined;
    this.addStackDependency(props.shared, 'connector and state tables');

    // An ordered flow's queues are FIFO, its output too: readers see each key's rows in order.
    const fifo = fifoQueues(flow);
    const outputDeadLetterQueue = deadLetterQueue(this, 'OutputDeadLetterQueue', {
      queueName: names.outputDeadLetterQueue(flowId, fifo),
      fifo,
    });
    this.outputQueue = secureQueue(this, 'OutputQueue', {
      queueName: names.outputQueue(flowId, fifo),
      fifo,
      retentionPeriod: DEAD_LETTER_RETENTION,
      maxMessageSizeBytes: tuning.maxMessageBytes,
      deadLetterQueue: { queue: outputDeadLetterQueue, maxReceiveCount: OUTPUT_MAX_RECEIVE_COUNT },
    });

    // Construct ids and queue names follow the step's key (`stepKeys`), not its position:
    // inserting a step leaves every other step's queues, and the messages in them, where they are.
    // (`Step-<id>` and `StepQueues-<id>`: logicalSafeId has no `-`, so no key makes one the other.)
    this.stepQueues = flow.steps.map((spec, step) => {
      const key = keys[step] as string;
      return new StepQueues(this, `StepQueues-${logicalSafeId(key)}`, {
        queueName: names.stepQueue(flowId, key, fifo),
        deadLetterQueueName: names.stepDeadLetterQueue(flowId, key, fifo),
        fifo,
        maxReceiveCount: maxReceiveCount(project, flow, spec.fid),
        functionTimeout: timeout,
        batchingWindow,
        maxMessageSizeBytes: tuning.maxMessageBytes,
      });
    });

    const tables = new Map<string, ITable>();
    const tableOf = (cid: string): ITable => {
      let table = tables.get(cid);
      if (!table) {
        table = Table.fromTableName(this, `ConnectorTable${logicalSafeId(cid)}`, names.connectorTable(cid));
        tables.set(cid, table);
      }
      return table;
    };
    const stateTable = Table.fromTableName(this, 'StateTable', names.stateTable());
    const runsTable = Table.fromTableName(this, 'RunsTable', names.runsTable());
    // By name, as the tables: the shared stack owns it (infra/shared-stack.ts).
    const controlQueue = Queue.fromQueueArn(
      this,
      'ControlQueue',
      this.formatArn({ service: 'sqs', resource: names.controlQueue() }),
    );
    const entriesDir = props.entriesDir ?? defaultEntriesDir(project.root);
    const last = flow.steps.length - 1;
    // `jumpTo` may name any fid of the flow, so every step may send to every step queue of its own
    // flow (exact ARNs), as under `kisflow run` and `kisflow dev`.
    const flowQueues = Object.fromEntries(this.stepQueues.map((q, step) => [String(step), q.queue]));

    this.steps = flow.steps.map((spec, step) => {
      const func = project.funcs.get(spec.fid);
      if (!func) throw new Error(`infra: unknown function '${spec.fid}'`);
      const conn = func.cid === undefined ? undefined : project.conns.get(func.cid);
      const entry = writeStepEntry({ project, flowId, step, dir: entriesDir });
      const queues = this.stepQueues[step] as StepQueues;
      return bundlingMistake(
        func,
        () =>
          new KisFlowStep(this, `Step-${logicalSafeId(keys[step] as string)}`, {
            flowId,
            step,
            fid: spec.fid,
            entry: entry.path,
            projectRoot: props.depsLockFilePath ? dirname(props.depsLockFilePath) : project.root,
            depsLockFilePath: props.depsLockFilePath,
            queues,
            stepQueues: flowQueues,
            outputQueue: step === last ? this.outputQueue : undefined,
            connectorTables: conn?.type === 'dynamodb' ? { [conn.cid]: tableOf(conn.cid) } : {},
            connectorAccess: connectorAccess(func.fmode),
            ...(func.usesState ? { stateTable, stateScope: `${flowId}/${spec.fid}` } : {}),
            runsTable,
            controlQueue,
            enabled: flow.enabled,
            metricsNamespace: project.global.metricsNamespace,
            batchSize: tuning.batchSize,
            maxConcurrency: tuning.maxConcurrency,
            memorySize: tuning.memoryMb,
            maxMessageBytes: tuning.maxMessageBytes,
            bundling: props.bundling,
            bundleAwsSdk: props.bundleAwsSdk,
            logRemovalPolicy: props.removalPolicy,
          }),
      );
    });
    const first = (this.stepQueues[0] as StepQueues).queue;

    const jobs = [...project.jobs.values()].filter((job) => job.flowId === flowId);
    const source = flow.source?.eventPattern ? flow.source : undefined;
    const mapped = mappedSourceKind(flow.source) === undefined ? undefined : flow.source;
    if (jobs.length > 0 || source || mapped) {
      this.ingressDeadLetterQueue = deadLetterQueue(this, 'IngressDeadLetterQueue', {
        queueName: names.ingressDeadLetterQueue(flowId),
      });
      // cdk-nag's SQS3 recognises a queue as a DLQ only when a queue's redrive policy or a Lambda
      // names it; this one is the DeadLetterConfig of the flow's schedules and event rule.
      Validations.of(this.ingressDeadLetterQueue).acknowledge({
        id: 'AwsSolutions-SQS3',
        reason:
          'This queue is the dead-letter queue of the EventBridge Scheduler schedules, EventBridge rule and event source mapping that feed the flow; it needs no DLQ of its own.',
      });
    }
    const ingressDlq = this.ingressDeadLetterQueue as IQueue;
    this.jobs = new Map(
      jobs.map((job) => [
        job.jobId,
        new KisFlowJob(this, `Job-${safeId(job.jobId)}`, {
          jobId: job.jobId,
          flowId,
          scheduleName: names.jobSchedule(job.jobId),
          schedule: job.schedule,
          timezone: job.timezone,
          // A job of a disabled flow never fires (validate refuses `status: 1` on one).
          enabled: job.enabled && flow.enabled,
          controlQueue,
          deadLetterQueue: ingressDlq,
        }),
      ]),
    );
    if (source?.eventPattern) {
      this.eventSource = new FlowEventSource(this, 'EventSource', {
        flowId,
        eventPattern: source.eventPattern,
        eventBusName: source.eventBus,
        queue: first,
        deadLetterQueue: ingressDlq,
        enabled: flow.enabled,
      });
    }
    if (mapped) {
      const first = this.steps[0] as KisFlowStep;
      this.sourceMapping = new FlowSourceMapping(this, 'SourceMapping', {
        flowId,
        source: mapped,
        function: first.function,
        role: first.role,
        deadLetterQueue: ingressDlq,
        enabled: flow.enabled,
        ...(props.prefix === undefined ? {} : { prefix: props.prefix }),
      });
    }
    const stem = names.flowMonitoring(flowId);

    this.monitoring = new FlowMonitoring(this, 'Monitoring', {
      flowId,
      alarmTopic: Topic.fromTopicArn(
        this,
        'AlarmTopic',
        props.alarmTopicArn ?? this.formatArn({ service: 'sns', resource: names.alarmTopic() }),
      ),
      metricsNamespace: project.global.metricsNamespace,
      steps: this.steps.map((s, step) => ({
        step,
        key: keys[step] as string,
        fid: flow.steps[step]?.fid ?? '',
        function: s.function,
        queue: (this.stepQueues[step] as StepQueues).queue,
        deadLetterQueue: (this.stepQueues[step] as StepQueues).deadLetterQueue,
      })),
      outputQueue: this.outputQueue,
      ...sourceMonitoring(flow.source, this.steps[0]?.function),
      extraDeadLetterQueues: {
        output: outputDeadLetterQueue,
        ...(this.ingressDeadLetterQueue ? { ingress: this.ingressDeadLetterQueue } : {}),
      },
      dashboardName: stem,
      alarmNamePrefix: stem,
    });

    new CfnOutput(this, 'FirstQueueUrl', {
      description: `Input of flow ${flowId}: its first step's queue`,
      value: first.queueUrl,
    });
    new CfnOutput(this, 'FirstQueueArn', { value: first.queueArn });
    new CfnOutput(this, 'OutputQueueUrl', {
      description: `Rows the last step of ${flowId} emits`,
      value: this.outputQueue.queueUrl,
    });
    new CfnOutput(this, 'OutputQueueArn', { value: this.outputQueue.queueArn });
    new CfnOutput(this, 'DashboardName', { value: this.monitoring.dashboard.dashboardName });
  }
}

/**
 * What a step does with its connector's table: Load reads, Save writes (its framework part never
 * reads), and the other modes may do either through `ctx.connector`.
 */
function connectorAccess(mode: FunctionMode): ConnectorAccess {
  if (mode === 'Load') return 'read';
  if (mode === 'Save') return 'write';
  return 'readWrite';
}

/**
 * A handler esbuild cannot bundle (a syntax error, an import that does not resolve) is the user's
 * mistake: it stops the synth as a located ConfigError, like `kisflow validate`, instead of the
 * CDK's stack trace. esbuild has already printed its own messages above.
 */
function bundlingMistake<T>(func: FuncSpec, build: () => T): T {
  try {
    return build();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (!/Failed to bundle asset/.test(message)) throw error;
    const at = func.at;
    throw new ConfigError([
      {
        ...(at ? { file: at.file, line: at.line, col: at.col } : {}),
        message: `func "${func.fid}": esbuild could not bundle its handler ${func.handler} (its messages are above); fix the module, then run \`kisflow validate\``,
      },
    ]);
  }
}

/** Stream sources are watched by their mapping's lag, an existing queue by its oldest message. */
function sourceMonitoring(
  source: FlowSpec['source'],
  first: IFunction | undefined,
): { source?: MonitoredSource } {
  const kind = mappedSourceKind(source);
  if (first === undefined || kind === undefined) return {};
  const queueArn = source?.sqs?.queueArn;
  if (kind === 'sqs') {
    return queueArn === undefined
      ? {}
      : { source: { lag: 'oldest_message_age', queueName: queueNameOfArn(queueArn) } };
  }
  return { source: { lag: kind === 'kafka' ? 'offset_lag' : 'iterator_age', function: first } };
}
