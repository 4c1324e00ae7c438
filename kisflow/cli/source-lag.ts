import type { FlowSpec } from '../config/model.ts';
import { parseIteratorAges } from '../local/kinesis-iterator-age.ts';
import type { SourceLag } from '../runs/stream-stats.ts';
import type { ResolvedEndpoints } from './endpoints.ts';

/** A stream-fed flow's lag now, or null when nothing measures it. */
export type LagOf = (flow: FlowSpec) => Promise<SourceLag | null>;

/** The dev stack's /metrics answers within this, or the lag shows as unknown. */
const SCRAPE_TIMEOUT_MS = 2_000;

/**
 * Where the lag of the deployment the endpoints name is read: under `kisflow dev`, the local
 * Kinesis poller's iterator age at the dev stack's Prometheus endpoint (read once per reader:
 * one scrape serves every flow); on AWS, `cloud` (Lambda's `IteratorAge`/`OffsetLag` of the flow's
 * first step: `cloudWatchLag` in aws/source-lag-metric.ts). Otherwise (another endpoint, dev
 * without Prometheus, no `cloud`) null.
 *
 * @example
 * const lagOf = sourceLagReader(resolveEndpoints({ root: process.cwd() }));
 * await lagOf(flow); // { metric: 'iterator_age_ms', value: 120, from: 'dev' }
 */
export function sourceLagReader(found: ResolvedEndpoints, cloud?: LagOf): LagOf {
  if (found.source === 'aws' && cloud !== undefined) return cloud;
  if (found.source !== 'dev' || found.metricsUrl === undefined) return async () => null;
  const url = found.metricsUrl;
  let scraped: Promise<Map<string, number>> | undefined;
  return async (flow) => {
    // Only Kinesis runs on a local mapping; the other kinds are fed by `kisflow send --as`.
    if (flow.source?.kinesis === undefined) return null;
    scraped ??= fetch(url, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) })
      .then((r) => (r.ok ? r.text() : ''))
      .then((text) => parseIteratorAges(text))
      .catch(() => new Map<string, number>());
    const age = (await scraped).get(flow.flowId);
    return age === undefined ? null : { metric: 'iterator_age_ms', value: age, from: 'dev' };
  };
}
