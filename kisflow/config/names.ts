import { createHash } from 'node:crypto';

/**
 * Cloud resource names derived from config ids. Ids may be any Unicode (the seed uses Chinese
 * fids); AWS names may not. A name keeps the id's ASCII letters, digits and `_`, and when
 * anything had to be dropped or cut, adds a hash of the whole id: stable across deploys,
 * distinct for distinct ids. SQS and DynamoDB names allow `_`.
 */
export function safeId(id: string, maxLength = 40): string {
  return withHashIfChanged(id, maxLength, /[^A-Za-z0-9_]+/g);
}

/**
 * A CloudFormation stack name part (`[A-Za-z0-9-]`): `_` reads as `-` (`order_intake` deploys
 * as `KisFlow-order-intake`), anything else outside the set gives a hashed name as in safeId.
 * Two flows whose ids differ only by `_`/`-` collide; the CDK app reports that.
 */
export function stackSafeId(id: string, maxLength = 100): string {
  const dashed = id.replace(/_/g, '-');
  if (dashed.length <= maxLength && /^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$/.test(dashed)) return dashed;
  return withHashIfChanged(id, maxLength, /[^A-Za-z0-9]+/g);
}

function withHashIfChanged(id: string, maxLength: number, unsafe: RegExp): string {
  const ascii = id
    .replace(unsafe, '-')
    .replace(/^[-_]+|[-_]+$/g, '')
    .replace(/-{2,}/g, '-');
  if (ascii === id && id.length <= maxLength) return id;
  const hash = idHash(id);
  const head = ascii.slice(0, Math.max(0, maxLength - hash.length - 1)).replace(/[-_]+$/, '');
  return head ? `${head}-${hash}` : `h${hash}`;
}

function idHash(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('hex').slice(0, 8);
}

/** SQS requires a FIFO queue's name to end so. https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-understanding-logic.html */
export const FIFO_SUFFIX = '.fifo';

function suffix(fifo: boolean): string {
  return fifo ? FIFO_SUFFIX : '';
}

/**
 * Whether a flow's step queues, output queue and their DLQs are FIFO: exactly when it keeps order
 * per key (`tuning.ordering`). Unordered flows keep standard queues (more throughput, no group
 * to block).
 */
export function fifoQueues(flow: { readonly tuning: { readonly ordering?: readonly string[] } }): boolean {
  return flow.tuning.ordering !== undefined;
}

/** Whether a queue URL (or name) is a FIFO queue's: SQS gives FIFO queues, and only them, the suffix. */
export function isFifoQueue(urlOrName: string): boolean {
  return urlOrName.endsWith(FIFO_SUFFIX);
}

/** The prefix of physical names when none is given. */
export const DEFAULT_PREFIX = 'kisflow';

/**
 * Prefixes go into queue, table, alarm and stack names: the characters all of them accept, and
 * never `--`, which separates the parts of a name (see resourceNames).
 */
export const PREFIX_PATTERN = /^(?=.{1,20}$)[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)*$/;

/** Longest SQS queue name. https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html */
export const SQS_QUEUE_NAME_MAX = 80;

/**
 * Physical names of a deployment's resources; `prefix` separates environments (default `kisflow`).
 *
 * Parts are joined so that no two inputs give one name: safeId and stackSafeId never produce
 * `--`, nor start or end with `-`, so a `--` marks a boundary no id can fake (flow `dev-orders`
 * of the default prefix and flow `orders` of prefix `dev` deploy as `KisFlow-dev-orders` and
 * `KisFlow-dev--orders`; step `x-dlq`'s queue is `...--x-dlq`, step `x`'s DLQ `...--x--dlq`).
 */
export function resourceNames(prefix = DEFAULT_PREFIX) {
  const flowPart = (flowId: string) => safeId(flowId, 40);
  /**
   * SQS names: at most 80 of `[A-Za-z0-9_-]`, a FIFO queue's ending in `.fifo` (within the 80);
   * the step key gets what prefix, flow, `--dlq` and the suffix leave.
   */
  const stepStem = (flowId: string, stepKey: string, fifo: boolean) => {
    const head = `${prefix}-${flowPart(flowId)}--`;
    const room = SQS_QUEUE_NAME_MAX - head.length - '--dlq'.length - suffix(fifo).length;
    return `${head}${safeId(stepKey, room)}`;
  };
  const stackName = (suffix: string) =>
    prefix === DEFAULT_PREFIX ? `KisFlow-${suffix}` : `KisFlow-${prefix}--${suffix}`;
  return {
    prefix,
    /** Construct id of a flow's stack (what `cdk deploy` selects), the same in every environment. */
    flowStack: (flowId: string) => `KisFlow-${stackSafeId(flowId, 100)}`,
    sharedStack: () => 'KisFlow-Shared',
    /** CloudFormation name of a flow's stack: `^[A-Za-z][A-Za-z0-9-]*$`, at most 128. */
    flowStackName: (flowId: string) => stackName(stackSafeId(flowId, 90)),
    sharedStackName: () => stackName('Shared'),
    /** The input queue of the step with this key (`stepKeys`), so inserting a step renames no other queue. */
    /** `fifo`: the flow is ordered (`fifoQueues`), so its step and output queues are FIFO. */
    stepQueue: (flowId: string, stepKey: string, fifo = false) =>
      `${stepStem(flowId, stepKey, fifo)}${suffix(fifo)}`,
    stepDeadLetterQueue: (flowId: string, stepKey: string, fifo = false) =>
      `${stepStem(flowId, stepKey, fifo)}--dlq${suffix(fifo)}`,
    outputQueue: (flowId: string, fifo = false) => `${prefix}-${flowPart(flowId)}-out${suffix(fifo)}`,
    outputDeadLetterQueue: (flowId: string, fifo = false) =>
      `${prefix}-${flowPart(flowId)}-out-dlq${suffix(fifo)}`,
    ingressDeadLetterQueue: (flowId: string) => `${prefix}-${flowPart(flowId)}-ingress-dlq`,
    /** Dashboard names (up to 255 of `[A-Za-z0-9_-]`) and the stem of the flow's alarm names. */
    flowMonitoring: (flowId: string) => `${prefix}-${flowPart(flowId)}`,
    /** DynamoDB names: 3 to 255 of `[A-Za-z0-9_.-]`. */
    connectorTable: (cid: string) => `${prefix}-conn-${safeId(cid, 100)}`,
    stateTable: () => `${prefix}-state`,
    /** The run ledger (kisflow/aws/dynamodb-run-ledger.ts). */
    runsTable: () => `${prefix}-runs`,
    /**
     * A job's EventBridge Scheduler schedule (1-64 of `[0-9A-Za-z_.-]`), named so that `kisflow jobs
     * pause|resume` finds it. Job ids are unique in a project.
     */
    jobSchedule: (jobId: string) => `${prefix}-job-${safeId(jobId, 64 - prefix.length - '-job-'.length)}`,
    /** The topic alarms notify unless `kisflow:alarmTopicArn` names another. */
    alarmTopic: () => `${prefix}-alarms`,
    /** Job control (kisflow/runs/job-control.ts): its queue, DLQ and sweep schedule. */
    controlQueue: () => `${prefix}-control`,
    controlDeadLetterQueue: () => `${prefix}-control-dlq`,
    controlSweepSchedule: () => `${prefix}-control-sweep`,
  };
}

export type ResourceNames = ReturnType<typeof resourceNames>;

/**
 * A construct id part that stays distinct after CloudFormation's logical-id mangling, which drops
 * every character outside `[A-Za-z0-9]` (so `orders-eu` and `orders_eu` would both become
 * `orderseu`): anything dropped adds a hash of the whole id.
 */
export function logicalSafeId(id: string, maxLength = 64): string {
  const kept = id.replace(/[^A-Za-z0-9]+/g, '');
  if (kept === id && id.length <= maxLength) return id;
  return `${kept.slice(0, maxLength - 8)}${idHash(id)}`;
}

/**
 * The `flow` dimension of a flow's metrics. CloudWatch accepts only ASCII dimension values, and
 * the seed's flow ids are Chinese: the same safe name as the flow's queues (dashboards show the
 * readable id in their titles).
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_Dimension.html
 */
export function flowMetricLabel(flowId: string): string {
  return safeId(flowId, 200);
}

/**
 * The `step` dimension of a step's metrics: index and fid, because a flow may run the same fid
 * in several steps (the seed's MyFlow1) and each step needs its own series; ASCII, as
 * flowMetricLabel. The engine emits it; the CDK dashboard reads it.
 */
export function stepMetricLabel(step: number, fid: string): string {
  return `${step}.${safeId(fid, 200)}`;
}

/**
 * The stable identity of each step of a flow, given its fids in order: the fid for its first use,
 * `fid~2`, `fid~3`, ... for later uses of the same fid. Unlike the index, it survives inserting or
 * removing other steps, so queues, construct ids and envelopes addressed by it keep reaching the
 * function they were meant for across a redeploy. (Readable, may be non-ASCII: cloud names pass it
 * through safeId.)
 */
export function stepKeys(fids: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return fids.map((fid) => {
    const n = (seen.get(fid) ?? 0) + 1;
    seen.set(fid, n);
    return n === 1 ? fid : `${fid}~${n}`;
  });
}
