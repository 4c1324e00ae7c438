import { createHash } from 'node:crypto';
import type { Row } from '../ports.ts';

/**
 * Message groups per queue of an ordered flow. Rows whose key fields hash to the same group keep
 * their order; different groups run in parallel (Lambda scales a FIFO queue's consumers with its
 * active message groups, one batch per group at a time). 32 because it bounds both ends: up to 32
 * concurrent batches per step is more than a flow's connector table or a downstream system usually
 * takes (tuning.max_concurrency caps it further), and one input batch fans out into at most 32
 * messages, 4 SendMessageBatch requests, at the first hop only: later hops keep the group, since
 * a step's output rows hash as its input rows did unless the function changes their key.
 * Changing it regroups keys: rows already queued under the old grouping may then overtake.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
 */
export const ORDERING_GROUPS = 32;

/**
 * The message group (0 to `groups` - 1) of a row in a flow ordered by `fields`: a hash of the
 * fields' values, the same in every process and on every platform. A missing field counts as
 * `null`, so rows without a key share one group (their order is kept too).
 *
 * @example
 * messageGroupOf({ order_id: 'o-1', status: 'paid' }, ['order_id']); // e.g. 17, always
 */
export function messageGroupOf(row: Row, fields: readonly string[], groups = ORDERING_GROUPS): number {
  const key = JSON.stringify(fields.map((field) => row[field] ?? null));
  return createHash('sha256').update(key, 'utf8').digest().readUInt32BE(0) % groups;
}

/** The SQS MessageGroupId of a group (`[A-Za-z0-9-]`, well under SQS's 128 characters). */
export function messageGroupId(group: number): string {
  return `key-${group}`;
}
