import { queueNameOfArn } from '../config/flow-source.ts';
import type { FlowSpec } from '../config/model.ts';
import { fauxqsOldestMessageAge } from '../local/fauxqs-queue-ages.ts';
import { readIteratorAges } from '../local/kinesis-iterator-age.ts';
import type { SourceLag } from '../runs/stream-stats.ts';
import type { ResolvedEndpoints } from './endpoints.ts';

/** A stream-fed flow's lag now, or null when nothing measures it. */
export type LagOf = (flow: FlowSpec) => Promise<SourceLag | null>;

/**
 * Where the lag of the deployment the endpoints name is read:
 * - under `kisflow dev`, a Kinesis source's iterator age as its local mapping publishes it
 *   (`.kisflow/dev-lag.json`, read once per reader: one read serves every flow), and an `sqs`
 *   source's oldest message on its local queue (fauxqs's queue inspection);
 * - on AWS, `cloud` (Lambda's `IteratorAge`/`OffsetLag`, the queue's `ApproximateAgeOfOldestMessage`:
 *   `cloudWatchLag` in aws/source-lag-metric.ts).
 * Otherwise (another endpoint, no `cloud`, a kind dev does not map) null.
 *
 * @example
 * const lagOf = sourceLagReader(resolveEndpoints({ root: process.cwd() }));
 * await lagOf(flow); // { metric: 'iterator_age_ms', value: 120, from: 'dev' }
 */
export function sourceLagReader(found: ResolvedEndpoints, cloud?: LagOf): LagOf {
  if (found.source === 'aws' && cloud !== undefined) return cloud;
  if (found.source !== 'dev') return async () => null;
  let ages: Map<string, number> | undefined;
  return async (flow) => {
    const queue = flow.source?.sqs?.queueArn;
    if (queue !== undefined && found.sqsEndpoint !== undefined) {
      try {
        const age = await fauxqsOldestMessageAge(found.sqsEndpoint, queueNameOfArn(queue), Date.now());
        return { metric: 'oldest_message_age_ms', value: age, from: 'dev' };
      } catch {
        return null;
      }
    }
    // DynamoDB Streams and Kafka have no local mapping: `kisflow send --as` feeds them.
    if (flow.source?.kinesis === undefined || found.lagFile === undefined) return null;
    ages ??= readIteratorAges(found.lagFile);
    const age = ages.get(flow.flowId);
    return age === undefined ? null : { metric: 'iterator_age_ms', value: age, from: 'dev' };
  };
}
