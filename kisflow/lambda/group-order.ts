import type { SQSRecord } from 'aws-lambda';

/**
 * Handles an invocation's records and returns the ids of those to retry, keeping FIFO order:
 * records of one message group run one after another, in the order SQS gave them; different
 * groups (and records of a standard queue, which have none) run in parallel. When a record of a
 * group fails, the group's later records are not run and fail too: running them would overtake
 * the failed one, which SQS delivers again first. They are `release`d (made visible at once) so
 * the failed record's own backoff decides when the group goes on: SQS hands out no message of a
 * group while one of it is in flight, and a follower left in flight for the whole visibility
 * timeout would hold the group longer than the backoff asked for.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html#services-sqs-batchfailurereporting
 *
 * @example
 * const failed = await runInGroupOrder(event.Records, handleRecord, (skipped) => releaseAll(skipped));
 * return { batchItemFailures: [...failed].map((itemIdentifier) => ({ itemIdentifier })) };
 */
export async function runInGroupOrder(
  records: readonly SQSRecord[],
  handle: (record: SQSRecord) => Promise<void>,
  release: (skipped: readonly SQSRecord[]) => Promise<void>,
): Promise<Set<string>> {
  const lanes = new Map<string, SQSRecord[]>();
  const alone: SQSRecord[][] = [];
  for (const record of records) {
    const group = record.attributes.MessageGroupId;
    if (group === undefined) {
      alone.push([record]);
      continue;
    }
    const lane = lanes.get(group);
    if (lane === undefined) lanes.set(group, [record]);
    else lane.push(record);
  }
  const failed = new Set<string>();
  const runLane = async (lane: readonly SQSRecord[]): Promise<void> => {
    for (const [i, record] of lane.entries()) {
      try {
        await handle(record);
      } catch {
        const skipped = lane.slice(i + 1);
        for (const r of [record, ...skipped]) failed.add(r.messageId);
        // A failed release leaves the followers to their visibility timeout: later, never lost.
        if (skipped.length > 0) await release(skipped).catch(() => {});
        return;
      }
    }
  };
  await Promise.all([...alone, ...lanes.values()].map(runLane));
  return failed;
}
