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
  const hash = createHash('sha256').update(id, 'utf8').digest('hex').slice(0, 8);
  const head = ascii.slice(0, Math.max(0, maxLength - hash.length - 1)).replace(/[-_]+$/, '');
  return head ? `${head}-${hash}` : `h${hash}`;
}

/** Physical names of a deployment's resources; `prefix` separates environments (default `kisflow`). */
export function resourceNames(prefix = 'kisflow') {
  return {
    /** CloudFormation stack of one flow: `^[A-Za-z][A-Za-z0-9-]*$`. */
    flowStack: (flowId: string) => `KisFlow-${stackSafeId(flowId, 100)}`,
    sharedStack: () => 'KisFlow-Shared',
    /** SQS names: at most 80 of `[A-Za-z0-9_-]`. */
    stepQueue: (flowId: string, step: number) => `${prefix}-${safeId(flowId, 40)}-s${step}`,
    stepDeadLetterQueue: (flowId: string, step: number) => `${prefix}-${safeId(flowId, 40)}-s${step}-dlq`,
    outputQueue: (flowId: string) => `${prefix}-${safeId(flowId, 40)}-out`,
    /** DynamoDB names: 3 to 255 of `[A-Za-z0-9_.-]`. */
    connectorTable: (cid: string) => `${prefix}-conn-${safeId(cid, 100)}`,
    stateTable: () => `${prefix}-state`,
  };
}

export type ResourceNames = ReturnType<typeof resourceNames>;

/**
 * The `step` dimension of a step's metrics: index and fid, because a flow may run the same fid
 * in several steps (the seed's MyFlow1) and each step needs its own series. The engine emits
 * it; the CDK dashboard reads it.
 */
export function stepMetricLabel(step: number, fid: string): string {
  return `${step}.${fid}`;
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
