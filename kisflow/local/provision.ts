import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateTopicCommand, type SNSClient } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { RUN_TABLE } from '../aws/dynamodb-run-ledger.ts';
import { ensureTable, TTL_ATTRIBUTE } from '../aws/tables.ts';
import { queueNameOfArn } from '../config/flow-source.ts';
import type { FlowSpec, ProjectConfig } from '../config/model.ts';
import { fifoQueues, resourceNames, stepKeys } from '../config/names.ts';
import { maxReceiveCount } from '../config/redelivery.ts';
import { InfrastructureError, UsageError } from '../errors.ts';
import { CONTROL_MAX_RECEIVE_COUNT } from '../wire/control-message.ts';
import {
  SQS_MAX_MESSAGE_BYTES,
  SQS_MAX_RETENTION_SECONDS,
  SQS_MAX_VISIBILITY_SECONDS,
} from '../wire/limits.ts';

/** The queues and tables of a deployment, by flow. */
export interface ProvisionedResources {
  readonly flows: Record<
    string,
    {
      /** Input queue URL per step index. */
      readonly stepQueues: string[];
      /** Dead-letter queue URL per step index. */
      readonly stepDeadLetterQueues: string[];
      readonly outputQueue: string;
      /** The redrive maxReceiveCount of each step's input queue (config/redelivery.ts). */
      readonly maxReceiveCounts: number[];
      /**
       * A flow with `source.sqs`: the local queue standing for the deployed one, named as its ARN
       * names it (kisflow dev plays the mapping on it).
       */
      readonly sourceQueue?: string;
    }
  >;
  /** Table name per `dynamodb` connector id. */
  readonly connectorTables: Record<string, string>;
  readonly stateTable: string;
  /** The run ledger's table. */
  readonly runsTable: string;
  /** Job control's queue and its DLQ (kisflow/runs/job-control.ts); `provisionProject` creates them. */
  readonly control?: { readonly queue: string; readonly deadLetterQueue: string };
  /** The alert topic's ARN, when an SNS client was given. */
  readonly alertTopic?: string;
}

export interface ProvisionOptions {
  /** Resource name prefix (environments side by side). @default 'kisflow' */
  readonly prefix?: string;
  /**
   * Visibility timeout of every step queue in seconds.
   * @default - 6 × the flow's `tuning.timeoutSeconds`, as AWS recommends for a queue feeding Lambda
   * (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html#events-sqs-queueconfig)
   */
  readonly visibilityTimeoutSeconds?: number;
}

// Every queue keeps its messages as long as SQS allows (14 days), as the deployed ones do: dead
// letters wait for an operator, and a stalled step keeps its backlog instead of losing it after
// SQS's 4-day default.
const RETENTION = String(SQS_MAX_RETENTION_SECONDS);
const MAX_VISIBILITY_SECONDS = SQS_MAX_VISIBILITY_SECONDS;

function errorName(error: unknown): string {
  return (error as { name?: string })?.name ?? '';
}

/**
 * Creates a queue, or brings an existing one to `attributes` (CreateQueue refuses an existing
 * name with different attributes: `QueueAlreadyExists`, `QueueNameExists` in older servers).
 */
async function ensureQueue(
  sqs: SQSClient,
  name: string,
  attributes: Record<string, string>,
): Promise<string> {
  try {
    const out = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    if (out.QueueUrl) return out.QueueUrl;
  } catch (error) {
    if (!/QueueAlreadyExists|QueueNameExists/.test(errorName(error))) throw error;
  }
  const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
  if (!QueueUrl)
    throw new InfrastructureError('QUEUE_NOT_FOUND', `SQS returned no URL for queue ${name}`, { name });
  // FifoQueue is fixed at creation (the `.fifo` name says it): SQS refuses it in SetQueueAttributes.
  const { FifoQueue: _fixed, ...settable } = attributes;
  await sqs.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: settable }));
  return QueueUrl;
}

/**
 * What makes an ordered flow's queue FIFO, as the CDK stacks set it: content-based deduplication
 * for senders that give no deduplication id (KisFlow's own always give one, the batch id), and
 * high-throughput mode (deduplication and throughput limits per message group), since groups are
 * independent and the ids are unique within the queue anyway.
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/high-throughput-fifo.html
 */
function fifoAttributes(fifo: boolean): Record<string, string> {
  return fifo
    ? {
        FifoQueue: 'true',
        ContentBasedDeduplication: 'true',
        DeduplicationScope: 'messageGroup',
        FifoThroughputLimit: 'perMessageGroupId',
      }
    : {};
}

async function queueArn(sqs: SQSClient, url: string): Promise<string> {
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  const arn = out.Attributes?.QueueArn;
  if (!arn) throw new InfrastructureError('QUEUE_NOT_FOUND', `SQS returned no ARN for queue ${url}`, { url });
  return arn;
}

/**
 * The local stand-in of a flow's existing source queue, named as its ARN names it. Its redrive
 * policy (the deployed queue's own, in AWS) sends what keeps failing to the first step's DLQ, so
 * `kisflow dlq` shows it; a FIFO source beside standard step queues gets a FIFO DLQ of its own
 * (SQS requires a FIFO queue's DLQ to be FIFO).
 */
async function ensureSourceQueue(
  sqs: SQSClient,
  arn: string,
  options: { fifo: boolean; visibility: number; deadLetterQueue: string; receives: number },
): Promise<string> {
  const name = queueNameOfArn(arn);
  const fifo = name.endsWith('.fifo');
  const base = {
    ...fifoAttributes(fifo),
    MessageRetentionPeriod: RETENTION,
    MaximumMessageSize: String(SQS_MAX_MESSAGE_BYTES),
  };
  const dlq =
    fifo === options.fifo
      ? options.deadLetterQueue
      : await ensureQueue(sqs, fifo ? `${name.slice(0, -5)}-dlq.fifo` : `${name}-dlq`, base);
  return ensureQueue(sqs, name, {
    ...base,
    VisibilityTimeout: String(options.visibility),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: await queueArn(sqs, dlq),
      maxReceiveCount: options.receives,
    }),
  });
}

function enabledFlows(project: ProjectConfig): FlowSpec[] {
  return [...project.flows.values()].filter((flow) => flow.enabled);
}

/**
 * Creates (idempotently) what a project needs on SQS and DynamoDB: per enabled flow, each step's
 * input queue with its DLQ (RedrivePolicy `maxReceiveCount` from config/redelivery.ts), and the output queue; one table per `dynamodb` connector (TTL when the
 * connector has `ttlSeconds`) and the state table. Running it again changes nothing, or updates
 * the attributes that the config changed. `kisflow dev` runs it on the emulators; in AWS the CDK
 * stacks own these resources.
 *
 * @example
 * const resources = await provisionProject(project, { sqs, dynamodb }, { prefix: 'dev' });
 * resources.flows.orders.stepQueues[0] // the URL `kisflow send orders` feeds
 */
export async function provisionProject(
  project: ProjectConfig,
  clients: { readonly sqs: SQSClient; readonly dynamodb: DynamoDBClient; readonly sns?: SNSClient },
  options: ProvisionOptions = {},
): Promise<ProvisionedResources> {
  const names = resourceNames(options.prefix);
  const { sqs, dynamodb } = clients;
  const flows: Record<string, ProvisionedResources['flows'][string]> = {};
  for (const flow of enabledFlows(project)) {
    const fifo = fifoQueues(flow);
    const visibility = Math.min(
      MAX_VISIBILITY_SECONDS,
      options.visibilityTimeoutSeconds ?? 6 * flow.tuning.timeoutSeconds,
    );
    const steps = await allInOrder(
      flow.steps.map(async (step, index) => {
        const key = stepKeys(flow.steps.map((s) => s.fid))[index] as string;
        const dlq = await ensureQueue(sqs, names.stepDeadLetterQueue(flow.flowId, key, fifo), {
          ...fifoAttributes(fifo),
          MessageRetentionPeriod: RETENTION,
          MaximumMessageSize: String(SQS_MAX_MESSAGE_BYTES),
        });
        const receives = maxReceiveCount(project, flow, step.fid);
        const queue = await ensureQueue(sqs, names.stepQueue(flow.flowId, key, fifo), {
          ...fifoAttributes(fifo),
          VisibilityTimeout: String(visibility),
          MessageRetentionPeriod: RETENTION,
          MaximumMessageSize: String(SQS_MAX_MESSAGE_BYTES),
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: await queueArn(sqs, dlq),
            maxReceiveCount: receives,
          }),
        });
        return { queue, dlq, receives };
      }),
    );
    const outputQueue = await ensureQueue(sqs, names.outputQueue(flow.flowId, fifo), {
      ...fifoAttributes(fifo),
      MessageRetentionPeriod: RETENTION,
      MaximumMessageSize: String(SQS_MAX_MESSAGE_BYTES),
    });
    const sourceQueue =
      flow.source?.sqs === undefined
        ? undefined
        : await ensureSourceQueue(sqs, flow.source.sqs.queueArn, {
            fifo,
            visibility,
            deadLetterQueue: steps[0]?.dlq as string,
            receives: steps[0]?.receives as number,
          });
    flows[flow.flowId] = {
      stepQueues: steps.map((s) => s.queue),
      stepDeadLetterQueues: steps.map((s) => s.dlq),
      outputQueue,
      maxReceiveCounts: steps.map((s) => s.receives),
      ...(sourceQueue === undefined ? {} : { sourceQueue }),
    };
  }
  const connectorTables: Record<string, string> = {};
  for (const conn of project.conns.values()) {
    if (conn.type !== 'dynamodb') continue;
    const table = names.connectorTable(conn.cid);
    await ensureTable(dynamodb, table, conn.ttlSeconds === undefined ? {} : { ttlAttribute: TTL_ATTRIBUTE });
    connectorTables[conn.cid] = table;
  }
  const stateTable = names.stateTable();
  await ensureTable(dynamodb, stateTable, { ttlAttribute: TTL_ATTRIBUTE });
  const runsTable = names.runsTable();
  await ensureTable(dynamodb, runsTable, { ttlAttribute: RUN_TABLE.ttlAttribute });
  const control = await provisionControl(sqs, names);
  let alertTopic: string | undefined;
  if (clients.sns !== undefined) {
    // CreateTopic is idempotent: the same name gives the same ARN.
    alertTopic = (await clients.sns.send(new CreateTopicCommand({ Name: names.alarmTopic() }))).TopicArn;
  }
  return {
    flows,
    connectorTables,
    stateTable,
    runsTable,
    control,
    ...(alertTopic === undefined ? {} : { alertTopic }),
  };
}

/** Longer than a control message's handling takes (a few ledger calls and sends). */
export const CONTROL_VISIBILITY_SECONDS = 60;

async function provisionControl(
  sqs: SQSClient,
  names: ReturnType<typeof resourceNames>,
): Promise<NonNullable<ProvisionedResources['control']>> {
  const deadLetterQueue = await ensureQueue(sqs, names.controlDeadLetterQueue(), {
    MessageRetentionPeriod: RETENTION,
  });
  const queue = await ensureQueue(sqs, names.controlQueue(), {
    VisibilityTimeout: String(CONTROL_VISIBILITY_SECONDS),
    MessageRetentionPeriod: RETENTION,
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: await queueArn(sqs, deadLetterQueue),
      maxReceiveCount: CONTROL_MAX_RECEIVE_COUNT,
    }),
  });
  return { queue, deadLetterQueue };
}

async function findQueue(sqs: SQSClient, name: string, what: string): Promise<string> {
  try {
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    if (QueueUrl) return QueueUrl;
  } catch (error) {
    if (!/NonExistentQueue|QueueDoesNotExist/.test(errorName(error))) {
      throw new InfrastructureError(
        'SQS_UNREACHABLE',
        `Could not look up queue ${name}: ${errorName(error) || 'Error'}: ${(error as Error)?.message}`,
        { queue: name },
        { cause: error },
      );
    }
  }
  throw new UsageError(
    'NOT_DEPLOYED',
    `Queue ${name} (${what}) does not exist here. Start \`kisflow dev\` (or deploy the flow's stack), check --endpoint, and give the --prefix it was deployed with.`,
    { queue: name },
  );
}

/**
 * Finds an existing deployment's queues by name (GetQueueUrl) — what `kisflow send/tail/dlq/redrive`
 * use against AWS or a running `kisflow dev`. Table names follow from the prefix. Each step's
 * `maxReceiveCount` is read from its queue's RedrivePolicy (the config's when the queue has none).
 *
 * @throws UsageError `NOT_DEPLOYED` naming the first queue that is missing.
 */
/**
 * Like Promise.all, but when several fail the error is the first in input order, not the first in
 * time: "step 0 is missing" whatever the lookups' timing.
 */
async function allInOrder<T>(promises: readonly Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

export async function locateResources(
  project: ProjectConfig,
  sqs: SQSClient,
  options: { readonly prefix?: string; readonly flowIds?: readonly string[] } = {},
): Promise<ProvisionedResources> {
  const names = resourceNames(options.prefix);
  const flows: Record<string, ProvisionedResources['flows'][string]> = {};
  const wanted = enabledFlows(project).filter((f) => options.flowIds?.includes(f.flowId) ?? true);
  for (const flow of wanted) {
    const fifo = fifoQueues(flow);
    const steps = await allInOrder(
      flow.steps.map(async (step, index) => {
        const key = stepKeys(flow.steps.map((s) => s.fid))[index] as string;
        const queue = await findQueue(
          sqs,
          names.stepQueue(flow.flowId, key, fifo),
          `flow ${flow.flowId} step ${index}`,
        );
        const dlq = await findQueue(
          sqs,
          names.stepDeadLetterQueue(flow.flowId, key, fifo),
          `dead letters of flow ${flow.flowId} step ${index}`,
        );
        const attrs = await sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: queue, AttributeNames: ['RedrivePolicy'] }),
        );
        const policy = attrs.Attributes?.RedrivePolicy;
        const receives = policy
          ? Number((JSON.parse(policy) as { maxReceiveCount?: number | string }).maxReceiveCount)
          : maxReceiveCount(project, flow, step.fid);
        return { queue, dlq, receives };
      }),
    );
    flows[flow.flowId] = {
      stepQueues: steps.map((s) => s.queue),
      stepDeadLetterQueues: steps.map((s) => s.dlq),
      outputQueue: await findQueue(
        sqs,
        names.outputQueue(flow.flowId, fifo),
        `output of flow ${flow.flowId}`,
      ),
      maxReceiveCounts: steps.map((s) => s.receives),
    };
  }
  const connectorTables: Record<string, string> = {};
  for (const conn of project.conns.values()) {
    if (conn.type === 'dynamodb') connectorTables[conn.cid] = names.connectorTable(conn.cid);
  }
  return {
    flows,
    connectorTables,
    stateTable: names.stateTable(),
    runsTable: names.runsTable(),
    ...(await locateControl(sqs, names)),
  };
}

/** Job control's queues, when the deployment has them (one made before job control has not). */
async function locateControl(
  sqs: SQSClient,
  names: ReturnType<typeof resourceNames>,
): Promise<Pick<ProvisionedResources, 'control'>> {
  try {
    return {
      control: {
        queue: await findQueue(sqs, names.controlQueue(), 'job control'),
        deadLetterQueue: await findQueue(sqs, names.controlDeadLetterQueue(), 'dead letters of job control'),
      },
    };
  } catch (error) {
    if (error instanceof UsageError && error.code === 'NOT_DEPLOYED') return {};
    throw error;
  }
}
