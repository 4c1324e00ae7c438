import { createHash } from 'node:crypto';

/**
 * Cloud resource names derived from config ids. Ids may be any Unicode (the seed uses Chinese
 * fids); AWS names may not. A name is the id's ASCII letters and digits, and when anything had
 * to be dropped or cut, a hash of the whole id: stable across deploys, distinct for distinct ids.
 */
export function safeId(id: string, maxLength = 40): string {
  const ascii = id
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .replace(/-{2,}/g, '-');
  if (ascii === id && id.length <= maxLength) return id;
  const hash = createHash('sha256').update(id, 'utf8').digest('hex').slice(0, 8);
  const head = ascii.slice(0, Math.max(0, maxLength - hash.length - 1)).replace(/-+$/, '');
  return head ? `${head}-${hash}` : `h${hash}`;
}

/** Physical names of a deployment's resources; `prefix` separates environments (default `kisflow`). */
export function resourceNames(prefix = 'kisflow') {
  return {
    /** CloudFormation stack of one flow: `^[A-Za-z][A-Za-z0-9-]*$`. */
    flowStack: (flowId: string) => `KisFlow-${safeId(flowId, 100)}`,
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
