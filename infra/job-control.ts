import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, type Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Schedule, ScheduleExpression, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { SqsSendMessage } from 'aws-cdk-lib/aws-scheduler-targets';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { FlowSpec, ProjectConfig } from '../kisflow/config/model.ts';
import { resourceNames, stepKeys } from '../kisflow/config/names.ts';
import { CONTROL_VERSION } from '../kisflow/wire/control-message.ts';
import { CONTROL_WIRING_ENV, type ControlWiring } from '../kisflow/wire/control-wiring.ts';
import { kisflowFunction, STEP_RUNTIME } from './bundling.ts';
import { METRICS_SERVICE } from './flow-monitoring.ts';

/**
 * What job control does with the runs table (kisflow/aws/dynamodb-run-ledger.ts): starts runs
 * (PutItem of the record, its day and active entries, the job's slot and queue items), reads them
 * (GetItem, Query), finishes and claims them (UpdateItem), dequeues and releases (DeleteItem).
 */
export const JOB_CONTROL_RUN_ACTIONS: readonly string[] = [
  'dynamodb:DeleteItem',
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:Query',
  'dynamodb:UpdateItem',
];

/** How long one invocation may take: ten control messages, each a few ledger calls and sends. */
const FUNCTION_TIMEOUT = Duration.seconds(60);

export interface JobControlProps {
  readonly project: ProjectConfig;
  /** Prefix of physical names. @default 'kisflow' */
  readonly prefix?: string;
  readonly controlQueue: Queue;
  readonly controlDeadLetterQueue: Queue;
  readonly runsTable: ITable;
  /** Where alerts are published. @default - alerts are logged only */
  readonly alertTopic?: ITopic;
  /** The generated entry (`writeJobControlEntry`). */
  readonly entry: string;
  /** Directory esbuild runs in; the entry must be under it. */
  readonly projectRoot: string;
  /** @default - the lock file the CDK finds upwards from the working directory */
  readonly depsLockFilePath?: string;
  /** Bundle the entry with esbuild; `false` ships a stub for template tests. @default true */
  readonly bundling?: boolean;
  /** @default false */
  readonly bundleAwsSdk?: boolean;
  /** @default RemovalPolicy.RETAIN */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * Job control on AWS: the Lambda of the control queue (kisflow/lambda/job-control-handler.ts), and
 * a rate(1 minute) schedule that sends it `sweep` (run timeouts, and the repair of run ends no
 * message announced). It may touch the runs table, send to the first step queue of each flow that
 * has jobs (by ARN: queues are named by convention, and the flow stacks deploy after this one),
 * to its own queue (delayed retries) and DLQ, and publish to the alert topic; nothing else.
 */
export class JobControl extends Construct {
  public readonly function: LambdaFunction;
  public readonly role: Role;
  public readonly sweepSchedule: Schedule;
  public readonly wiring: ControlWiring;

  constructor(scope: Construct, id: string, props: JobControlProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const names = resourceNames(props.prefix);
    const logGroup = new LogGroup(this, 'Logs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `KisFlow job control (${names.prefix})`,
    });
    this.role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );

    const flowsWithJobs = [...new Set([...props.project.jobs.values()].map((j) => j.flowId))].flatMap(
      (flowId) => {
        const flow = props.project.flows.get(flowId);
        return flow === undefined ? [] : [flow];
      },
    );
    const firstQueueName = (flow: FlowSpec) =>
      names.stepQueue(
        flow.flowId,
        stepKeys(flow.steps.map((s) => s.fid))[0] as string,
        flow.tuning.ordering !== undefined,
      );
    this.wiring = {
      controlQueue: props.controlQueue.queueUrl,
      deadLetterQueue: props.controlDeadLetterQueue.queueUrl,
      runsTable: props.runsTable.tableName,
      prefix: names.prefix,
      ...(props.alertTopic ? { alertTopic: props.alertTopic.topicArn } : {}),
    };

    const common = {
      runtime: STEP_RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: 256,
      timeout: FUNCTION_TIMEOUT,
      role: this.role,
      logGroup,
      description: 'KisFlow job control: job fires, run ends, retries, alerts',
      environment: {
        [CONTROL_WIRING_ENV]: stack.toJsonString(this.wiring),
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: METRICS_SERVICE,
      },
    };
    this.function = kisflowFunction(this, 'Function', common, props);
    this.function.addEventSource(
      new SqsEventSource(props.controlQueue, { batchSize: 10, reportBatchItemFailures: true }),
    );

    props.controlQueue.grantSendMessages(this.role);
    props.controlDeadLetterQueue.grantSendMessages(this.role);
    if (flowsWithJobs.length > 0) {
      this.role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['sqs:SendMessage'],
          resources: flowsWithJobs.map((f) =>
            stack.formatArn({
              service: 'sqs',
              resource: firstQueueName(f),
            }),
          ),
        }),
      );
    }
    this.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: [...JOB_CONTROL_RUN_ACTIONS], resources: [props.runsTable.tableArn] }),
    );
    props.alertTopic?.grantPublish(this.role);

    this.sweepSchedule = new Schedule(this, 'Sweep', {
      scheduleName: names.controlSweepSchedule(),
      description: 'KisFlow job control: run timeouts and the repair of unhandled run ends',
      schedule: ScheduleExpression.rate(Duration.minutes(1)),
      target: new SqsSendMessage(props.controlQueue, {
        input: ScheduleTargetInput.fromObject({ v: CONTROL_VERSION, kind: 'sweep' }),
        deadLetterQueue: props.controlDeadLetterQueue,
        retryAttempts: 2,
        // A sweep a minute late is replaced by the next one.
        maxEventAge: Duration.minutes(1),
      }),
    });
  }
}
