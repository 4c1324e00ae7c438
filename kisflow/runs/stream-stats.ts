import type { StreamBucket } from './run-ledger.ts';

const MINUTE_MS = 60_000;

/** How far behind a stream source's mapping is, as Lambda measures it. */
export interface SourceLag {
  /**
   * `iterator_age_ms` (Kinesis, DynamoDB Streams: age of the last record read) or
   * `offset_lag_records` (Kafka: records written but not yet read by the consumer group), or
   * `oldest_message_age_ms` (an existing SQS queue: age of its oldest message).
   */
  readonly metric: 'iterator_age_ms' | 'offset_lag_records' | 'oldest_message_age_ms';
  /** The maximum over the source's shards or partitions. */
  readonly value: number;
  /**
   * `dev`: the local Kinesis mapping's iterator age, or the local source queue's oldest message;
   * `cloudwatch`: Lambda's (or SQS's) metric, its last minute.
   */
  readonly from: 'dev' | 'cloudwatch';
}

export interface StreamStepStats {
  readonly step: number;
  readonly batches: number;
  readonly in: number;
  readonly out: number;
  readonly rejected: number;
  readonly deadLettered: number;
}

/** A stream-fed flow's throughput over the last minutes, with its lag beside it. */
export interface StreamStats {
  readonly flowId: string;
  /** `kinesis`, `dynamodb_stream`, `kafka` or `sqs`. */
  readonly source: string;
  readonly windowMinutes: number;
  /** Rows into the first step per minute, over the window (by minute of arrival in the stream). */
  readonly rowsPerMinute: number;
  readonly steps: readonly StreamStepStats[];
  /** null: no measure (no read yet, no metric in the last minutes, or a source with none). */
  readonly lag: SourceLag | null;
}

/**
 * The window `[since, until)` of whole minutes that ends with the current one: what to ask
 * `streamBuckets` for.
 */
export function streamWindow(now: number, windowMinutes: number): { since: number; until: number } {
  const until = Math.floor(now / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
  return { since: until - windowMinutes * MINUTE_MS, until };
}

/**
 * A flow's stream stats from its minute buckets of the window. Buckets are by minute of arrival
 * (kisflow/wire/stream-run.ts), so a backlog being worked off fills old minutes: the rate is of
 * rows that arrived in the window and were processed, and the lag says how far behind that is.
 */
export function streamStats(
  flowId: string,
  source: string,
  buckets: readonly StreamBucket[],
  windowMinutes: number,
  lag: SourceLag | null,
): StreamStats {
  const steps = new Map<number, StreamStepStats>();
  for (const b of buckets) {
    const s = steps.get(b.step) ?? { step: b.step, batches: 0, in: 0, out: 0, rejected: 0, deadLettered: 0 };
    steps.set(b.step, {
      step: b.step,
      batches: s.batches + b.batches,
      in: s.in + b.in,
      out: s.out + b.out,
      rejected: s.rejected + b.rejected,
      deadLettered: s.deadLettered + b.deadLettered,
    });
  }
  const first = steps.get(0)?.in ?? 0;
  return {
    flowId,
    source,
    windowMinutes,
    rowsPerMinute: Math.round((first / windowMinutes) * 100) / 100,
    steps: [...steps.values()].sort((a, b) => a.step - b.step),
    lag,
  };
}

/** A lag as a person reads it: `1.2s` behind, `340 records` behind, `-` unknown. */
export function lagText(lag: SourceLag | null): string {
  if (lag === null) return '-';
  if (lag.metric === 'offset_lag_records') return `${lag.value} records`;
  return lag.value < 1000 ? `${lag.value}ms` : `${(lag.value / 1000).toFixed(1)}s`;
}
