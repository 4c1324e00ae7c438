import { dirname } from 'node:path';
import { CfnOutput, Duration, type RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { type ITable, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { IQueue, Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { FlowSpec, ParamValue, ProjectConfig } from '../kisflow/config/model.ts';
import { resourceNames, safeId } from '../kisflow/config/names.ts';
import { ConfigError } from '../kisflow/errors.ts';
import { FlowEventSource } from './event-source.ts';
import { FlowMonitoring } from './flow-monitoring.ts';
import { KisFlowJob } from './job-schedule.ts';
import { deadLetterQueue, secureQueue } from './secure-queue.ts';
import type { SharedStack } from './shared-stack.ts';
import { KisFlowStep } from './step.ts';
import { defaultEntriesDir, writeStepEntry } from './step-entry.ts';
import { StepQueues } from './step-queues.ts';

/**
 * The step param naming the fids a step may `jumpTo` (one fid or a list). A jump target's queue
 * is known only at run time, so by default a step may send to the next step's queue alone; the
 * queues of the steps listed here (the first step running each fid, as `jumpTo` picks) are added
 * to its wiring and its IAM policy.
 */
export const JUMP_TARGETS_PARAM = 'jump_targets';

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
  /** SNS topic every alarm of the flow notifies. @default - alarms have no action */
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
 * and alarms.
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
  public readonly monitoring: FlowMonitoring;

  constructor(scope: Construct, id: string, props: FlowStackProps) {
    super(scope, id, props);
    const { project, flowId } = props;
    const flow = project.flows.get(flowId);
    if (!flow) throw new Error(`infra: there is no flow '${flowId}'`);
    if (flow.steps.length === 0) throw new Error(`infra: flow '${flowId}' has no steps`);
    this.flow = flow;
    const names = resourceNames(props.prefix);
    // The stem names.ts gives this flow's queues (`<prefix>-<safe flow id>`), for the few names it
    // has no function for: DLQs of the output and of ingress, the dashboard, the alarms.
    const stem = names.outputQueue(flowId).replace(/-out$/, '');
    const { tuning } = flow;
    const timeout = Duration.seconds(tuning.timeoutSeconds);
    const batchingWindow =
      tuning.batchingWindowSeconds > 0 ? Duration.seconds(tuning.batchingWindowSeconds) : undefined;
    this.addStackDependency(props.shared, 'connector and state tables');

    const outputDeadLetterQueue = deadLetterQueue(this, 'OutputDeadLetterQueue', {
      queueName: `${names.outputQueue(flowId)}-dlq`,
    });
    this.outputQueue = secureQueue(this, 'OutputQueue', {
      queueName: names.outputQueue(flowId),
      maxMessageSizeBytes: tuning.maxMessageBytes,
      deadLetterQueue: { queue: outputDeadLetterQueue, maxReceiveCount: OUTPUT_MAX_RECEIVE_COUNT },
    });

    // Construct ids follow the step's position, like its queue names (`...-s<n>`) and the
    // envelope's `step`: an id derived from the fid would, on a reorder, make CloudFormation create
    // a queue under a name the old resource still holds.
    this.stepQueues = flow.steps.map((spec, step) => {
      const func = project.funcs.get(spec.fid);
      if (!func)
        throw new Error(`infra: step ${step} of flow '${flowId}' names unknown function '${spec.fid}'`);
      return new StepQueues(this, `Step${step}Queues`, {
        queueName: names.stepQueue(flowId, step),
        deadLetterQueueName: names.stepDeadLetterQueue(flowId, step),
        maxReceiveCount: func.retryTimes + 1,
        functionTimeout: timeout,
        batchingWindow,
        maxMessageSizeBytes: tuning.maxMessageBytes,
      });
    });

    const tables = new Map<string, ITable>();
    const tableOf = (cid: string): ITable => {
      let table = tables.get(cid);
      if (!table) {
        table = Table.fromTableName(this, `ConnectorTable-${safeId(cid)}`, names.connectorTable(cid));
        tables.set(cid, table);
      }
      return table;
    };
    const stateTable = Table.fromTableName(this, 'StateTable', names.stateTable());
    const entriesDir = props.entriesDir ?? defaultEntriesDir(project.root);
    const last = flow.steps.length - 1;

    this.steps = flow.steps.map((spec, step) => {
      const func = project.funcs.get(spec.fid);
      if (!func) throw new Error(`infra: unknown function '${spec.fid}'`);
      const conn = func.cid === undefined ? undefined : project.conns.get(func.cid);
      const targets = new Set<number>();
      if (step < last) targets.add(step + 1);
      for (const target of jumpTargets(flow, step, { ...func.defaultParams, ...spec.params }, project)) {
        targets.add(target);
      }
      const entry = writeStepEntry({ project, flowId, step, dir: entriesDir });
      const queues = this.stepQueues[step] as StepQueues;
      return new KisFlowStep(this, `Step${step}`, {
        flowId,
        step,
        fid: spec.fid,
        entry: entry.path,
        projectRoot: props.depsLockFilePath ? dirname(props.depsLockFilePath) : project.root,
        depsLockFilePath: props.depsLockFilePath,
        queues,
        stepQueues: Object.fromEntries(
          [...targets]
            .sort((a, b) => a - b)
            .map((t) => [String(t), (this.stepQueues[t] as StepQueues).queue]),
        ),
        outputQueue: step === last ? this.outputQueue : undefined,
        connectorTables: conn?.type === 'dynamodb' ? { [conn.cid]: tableOf(conn.cid) } : {},
        stateTable,
        metricsNamespace: project.global.metricsNamespace,
        batchSize: tuning.batchSize,
        maxConcurrency: tuning.maxConcurrency,
        memorySize: tuning.memoryMb,
        maxMessageBytes: tuning.maxMessageBytes,
        bundling: props.bundling,
        bundleAwsSdk: props.bundleAwsSdk,
        logRemovalPolicy: props.removalPolicy,
      });
    });
    const first = (this.stepQueues[0] as StepQueues).queue;

    const jobs = [...project.jobs.values()].filter((job) => job.flowId === flowId);
    const source = flow.source?.eventPattern ? flow.source : undefined;
    if (jobs.length > 0 || source) {
      this.ingressDeadLetterQueue = deadLetterQueue(this, 'IngressDeadLetterQueue', {
        queueName: `${stem}-ingress-dlq`,
      });
      // cdk-nag's SQS3 recognises a queue as a DLQ only when a queue's redrive policy or a Lambda
      // names it; this one is the DeadLetterConfig of the flow's schedules and event rule.
      Validations.of(this.ingressDeadLetterQueue).acknowledge({
        id: 'AwsSolutions-SQS3',
        reason:
          'This queue is the dead-letter queue of the EventBridge Scheduler schedules and EventBridge rule that feed the flow; it needs no DLQ of its own.',
      });
    }
    const ingressDlq = this.ingressDeadLetterQueue as IQueue;
    this.jobs = new Map(
      jobs.map((job) => [
        job.jobId,
        new KisFlowJob(this, `Job-${safeId(job.jobId)}`, {
          jobId: job.jobId,
          flowId,
          schedule: job.schedule,
          timezone: job.timezone,
          params: job.params,
          rows: job.rows,
          enabled: job.enabled,
          queue: first,
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
      });
    }

    this.monitoring = new FlowMonitoring(this, 'Monitoring', {
      flowId,
      ...(props.alarmTopicArn === undefined
        ? {}
        : { alarmTopic: Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn) }),
      metricsNamespace: project.global.metricsNamespace,
      steps: this.steps.map((s, step) => ({
        step,
        fid: flow.steps[step]?.fid ?? '',
        function: s.function,
        queue: (this.stepQueues[step] as StepQueues).queue,
        deadLetterQueue: (this.stepQueues[step] as StepQueues).deadLetterQueue,
      })),
      extraDeadLetterQueues: {
        output: outputDeadLetterQueue,
        ...(this.ingressDeadLetterQueue ? { ingress: this.ingressDeadLetterQueue } : {}),
      },
      // Dashboard names: up to 255 of [A-Za-z0-9_-], which the stem is.
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

/** Step indexes named by a step's `jump_targets` param. */
function jumpTargets(
  flow: FlowSpec,
  step: number,
  params: Readonly<Record<string, ParamValue>>,
  project: ProjectConfig,
): number[] {
  const raw = params[JUMP_TARGETS_PARAM];
  if (raw === undefined || raw === null) return [];
  const fids = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? raw : undefined;
  const spec = flow.steps[step];
  const where = `step ${step} (${spec?.fid}) of flow '${flow.flowId}'`;
  const problem = (message: string) => new ConfigError([{ ...(spec?.at ?? flow.at), message }]);
  if (!fids || fids.some((f) => typeof f !== 'string')) {
    throw problem(
      `${where}: param ${JUMP_TARGETS_PARAM} is ${JSON.stringify(raw)}; it must be a fid or a list of fids of this flow's steps`,
    );
  }
  return (fids as string[]).map((fid) => {
    const index = flow.steps.findIndex((s) => s.fid === fid);
    if (index < 0) {
      const known = [...new Set(flow.steps.map((s) => s.fid))].map((f) => `'${f}'`).join(', ');
      const hint = project.funcs.has(fid) ? ` '${fid}' is a function, but no step of this flow runs it.` : '';
      throw problem(
        `${where}: ${JUMP_TARGETS_PARAM} names '${fid}', which no step of the flow runs.${hint} Steps run: ${known}`,
      );
    }
    return index;
  });
}
