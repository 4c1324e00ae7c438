/**
 * The run id of a continuous source's batches. A stream never ends, so its batches are no run the
 * ledger tracks: they are counted in the ledger's stream buckets instead (RunLedger.recordStream),
 * and the bucket is the minute the record arrived in its stream. That minute rides in the run id
 * because the run id is what every step's envelope carries unchanged: each step of the flow counts
 * the batch in the same minute, and a redelivery (same record, same arrival) lands in the same
 * bucket, where its batch id is recognised and not counted twice.
 *
 * `stream:` keeps these ids apart from a schedule tick's `<job>@<time>`, whatever a job is named.
 */

const PREFIX = 'stream:';
const MINUTE_MS = 60_000;
const STREAM_RUN = /^stream:([a-z_]+)@(\d{4}-\d\d-\d\dT\d\d:\d\d)Z$/;

/**
 * @example
 * streamRunId('kinesis', Date.parse('2026-12-03T12:14:31Z')); // 'stream:kinesis@2026-12-03T12:14Z'
 */
export function streamRunId(kind: string, arrivedAt: number): string {
  const minute = Math.floor(arrivedAt / MINUTE_MS) * MINUTE_MS;
  return `${PREFIX}${kind}@${new Date(minute).toISOString().slice(0, 16)}Z`;
}

/** The arrival minute (epoch ms) of a stream run id; undefined for any other run id. */
export function streamRunMinute(runId: string): number | undefined {
  if (!runId.startsWith(PREFIX)) return undefined;
  const match = STREAM_RUN.exec(runId);
  if (match === null) return undefined;
  const at = Date.parse(`${match[2]}:00Z`);
  return Number.isFinite(at) ? at : undefined;
}
