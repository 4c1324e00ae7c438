import { createHash } from 'node:crypto';

/** Length of every batch id this module derives (hex of a SHA-256 prefix: 128 bits). */
export const BATCH_ID_LENGTH = 32;

function hashId(...parts: readonly (string | number)[]): string {
  const hash = createHash('sha256');
  // A separator that cannot occur in a number and is unlikely in an id; lengths make it unambiguous.
  for (const part of parts) hash.update(`${String(part).length}:${part}\u0000`, 'utf8');
  return hash.digest('hex').slice(0, BATCH_ID_LENGTH);
}

/**
 * The id of the `part`-th message a batch is packed into for `step`. Deterministic, so a
 * redelivered input message produces the same downstream ids (and the state store recognises a
 * batch it already applied); fixed-length, so the packer knows each message's overhead exactly.
 * Valid as an SQS batch entry id (`[0-9a-f]{32}`) and as a FIFO MessageDeduplicationId.
 *
 * @example childBatchId('run-1', 2, 0) // '5d1c…' (32 hex characters), the same on every call
 */
export function childBatchId(parentBatchId: string, step: number, part: number, group?: number): string {
  // An ordered flow numbers parts within their message group: a retry whose rows fall into other
  // groups can then never reuse an id (and be deduplicated away) for another group's rows.
  return group === undefined
    ? hashId('child', parentBatchId, step, part)
    : hashId('child', parentBatchId, step, part, `group ${group}`);
}

/**
 * The batch id of rows a redrive sends back from a dead-letter record. It differs from the
 * original batch (whose other rows the state store already applied, so reusing its id would make
 * the redriven rows no-ops) and depends on the dead-letter message, so redriving the same message
 * twice (a crash between send and delete) yields the same id.
 */
export function redriveBatchId(originalBatchId: string, deadLetterMessageId: string): string {
  return hashId('redrive', originalBatchId, deadLetterMessageId);
}
