/**
 * The normalised configuration every other part reads. The YAML loader (and the in-code
 * builder for tests) produce it; nothing downstream sees raw YAML spellings.
 * This file imports nothing: config is the innermost layer.
 */

export type FunctionMode = 'Verify' | 'Save' | 'Load' | 'Calculate' | 'Expand';

/** Scalar or structured value of a param; Go's KisFlow only had strings, YAML gives us more. */
export type ParamValue = string | number | boolean | null | ParamValue[] | { [key: string]: ParamValue };
export type Params = Readonly<Record<string, ParamValue>>;

/** Where a config object (or one of its fields) was written. `line`/`col` are 1-based. */
export interface SourcePosition {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

export interface FuncSpec {
  readonly fid: string;
  readonly fname: string;
  readonly fmode: FunctionMode;
  readonly source: { readonly name?: string; readonly must: readonly string[] };
  /** Connector id (`option.cid` or Go's `option.cname`). */
  readonly cid?: string;
  /** Retries after the first attempt (`option.retry_times`, default 0). */
  readonly retryTimes: number;
  /** Delay before a retry in ms (`option.retry_duration` or Go's `return_duration`, default 0). */
  readonly retryDurationMs: number;
  /** Deliveries of a message before it is dead-lettered (`option.max_receives`); unset: the flow's. */
  readonly maxReceives?: number;
  /** The function uses keyed state (`option.state: true`): only then may its steps touch the state table. */
  readonly usesState?: boolean;
  readonly defaultParams: Params;
  /** Module path relative to the project root; default `functions/<fid>.ts`. */
  readonly handler: string;
  readonly at?: SourcePosition;
}

export interface StepSpec {
  readonly fid: string;
  readonly params: Params;
  readonly at?: SourcePosition;
}

export interface FlowTuning {
  /** Messages per invocation of a step (SQS event source BatchSize). Default 10. */
  readonly batchSize: number;
  /** Seconds to gather a batch (MaximumBatchingWindowInSeconds). Default 0. */
  readonly batchingWindowSeconds: number;
  /** Concurrent invocations per step (ScalingConfig.MaximumConcurrency, min 2). Default unset. */
  readonly maxConcurrency?: number;
  /** Function timeout per step in seconds. Default 30. */
  readonly timeoutSeconds: number;
  /** Lambda memory in MB. Default 256. */
  readonly memoryMb: number;
  /** Message size limit in bytes used to pack rows (default 262144; at most 1048576). */
  readonly maxMessageBytes: number;
  /**
   * Step runs a batch may go through before it is dead-lettered with `HOP_LIMIT` (a guard against a
   * `jumpTo` loop that never ends). @default 1000 (`DEFAULT_MAX_HOPS` in kisflow/engine/delivery.ts)
   */
  readonly maxHops?: number;
  /** Deliveries of a message before it is dead-lettered (SQS maxReceiveCount). Default 5. */
  readonly maxReceives?: number;
}

export interface FlowSourceSpec {
  /** An EventBridge event pattern; matching events enter the flow's first step. */
  readonly eventPattern?: Readonly<Record<string, unknown>>;
  /** Name of the event bus (default: the account's default bus). */
  readonly eventBus?: string;
  /** A Kinesis stream feeding the flow's first step (Lambda's Kinesis event source mapping). */
  readonly kinesis?: {
    readonly streamArn: string;
    readonly startingPosition: 'latest' | 'trim_horizon' | 'at_timestamp';
    readonly startingTimestamp?: string;
    readonly batchSize?: number;
    readonly batchingWindowSeconds?: number;
    readonly parallelizationFactor?: number;
    readonly bisectOnError?: boolean;
    readonly maxRetries?: number;
    readonly maxRecordAgeSeconds?: number;
    readonly filters?: readonly Record<string, unknown>[];
  };
}

export interface FlowSpec {
  readonly flowId: string;
  readonly flowName: string;
  /** `status: 1` (default) on; `status: 0` off: not run; deployed with nothing consuming or firing. */
  readonly enabled: boolean;
  readonly steps: readonly StepSpec[];
  readonly tuning: FlowTuning;
  readonly source?: FlowSourceSpec;
  /** Business group (XXL-JOB's scene) for listing and permissions. */
  readonly scene?: string;
  readonly at?: SourcePosition;
}

/**
 * How a row's connector key is built:
 * - `fields`: the listed fields' values joined with `#` (`key: [userid, orderid]`);
 * - `template`: `{field}` placeholders substituted (`key: "user#{userid}"`);
 * - `literal`: a plain name with no placeholder (the seed's `key: userid_orderid_option`): one
 *   partition that collects every row, as KisFlow's Redis key did.
 */
export type KeyRule =
  | { readonly kind: 'fields'; readonly fields: readonly string[] }
  | { readonly kind: 'template'; readonly template: string; readonly fields: readonly string[] }
  | { readonly kind: 'literal'; readonly name: string };

export interface ConnSpec {
  readonly cid: string;
  readonly cname: string;
  /** `dynamodb` (default) or any type registered in code with `defineConnector`. */
  readonly type: string;
  readonly key: KeyRule;
  readonly params: Params;
  readonly addrs?: string;
  readonly load: readonly string[];
  readonly save: readonly string[];
  readonly flows: readonly string[];
  /**
   * Module (path from the project root) whose default export is `defineConnector(type, ...)`,
   * for a type other than `dynamodb`; default `connectors/<type>.ts`.
   */
  readonly handler?: string;
  /** Seconds after which stored rows expire (DynamoDB TTL); unset keeps them. */
  readonly ttlSeconds?: number;
  readonly at?: SourcePosition;
}

export interface GlobalSpec {
  readonly prometheusEnable: boolean;
  readonly prometheusListen: boolean;
  /** `host:port` for the local Prometheus endpoint. */
  readonly prometheusServe?: string;
  /** CloudWatch (EMF) namespace; default `KisFlow`. */
  readonly metricsNamespace: string;
  /** Addresses subscribed to the alarm topic (`alarm_email`). */
  readonly alarmEmails?: readonly string[];
  readonly at?: SourcePosition;
}

export interface JobSpec {
  readonly jobId: string;
  /** `rate(5 minutes)`, `cron(0 8 * * ? *)` or `at(2026-12-01T08:00:00)` (EventBridge Scheduler syntax). */
  readonly schedule: string;
  /** IANA time zone; default `UTC`. */
  readonly timezone: string;
  readonly flowId: string;
  readonly enabled: boolean;
  /** Flow metadata given to the run. */
  readonly params: Params;
  /** Rows the tick carries into the flow; default one row `{ job_id, scheduled_at }`. */
  readonly rows?: readonly Readonly<Record<string, unknown>>[];
  // The scheduling fields below are optional so that a JobSpec written in code stays valid;
  // kisflow/runs/job-policy.ts resolves their defaults in one place.
  /** What to do with a fire that was missed. Default `skip`. */
  readonly misfire?: MisfirePolicy;
  /** What a fire does while the job's previous run is still running. Default `serial`. */
  readonly overlap?: OverlapPolicy;
  /** A run with no progress for this many seconds becomes `timed_out`. Default: no timeout. */
  readonly timeoutSeconds?: number;
  /** Fire again after a failed run. Default: no retry. */
  readonly retry?: JobRetrySpec;
  /** Jobs started when a run of this job succeeds. */
  readonly onSuccess?: readonly string[];
  /** Jobs started when a run of this job fails (failed, partial or timed out). */
  readonly onFailure?: readonly string[];
  /** Tick batches per fire (sharding broadcast); each carries its `{ index, total }`. Default 1. */
  readonly shards?: number;
  /** Business group (XXL-JOB's scene) for listing and permissions. */
  readonly scene?: string;
  readonly alerts?: JobAlertsSpec;
  readonly at?: SourcePosition;
}

export type MisfirePolicy = 'skip' | 'fire_once_now';
export type OverlapPolicy = 'serial' | 'discard_later' | 'cover_early';

export interface JobRetrySpec {
  /** Fires after the first failed one. */
  readonly times: number;
  /** Seconds before the first retry. */
  readonly intervalSeconds: number;
  /** Each further retry waits this many times longer. */
  readonly backoff: number;
  /** Longest wait between retries, in seconds. */
  readonly maxIntervalSeconds?: number;
}

export interface JobAlertsSpec {
  readonly onFailure?: boolean;
  /** Alert when this many runs in a row failed. */
  readonly consecutiveFailures?: number;
  /** Alert when the share of succeeded runs among the last `runs` falls under `below`. */
  readonly successRatio?: { readonly below: number; readonly runs: number };
  readonly onTimeout?: boolean;
}

export interface ProjectConfig {
  /** Absolute path of the project root (handlers resolve against it). */
  readonly root: string;
  readonly funcs: ReadonlyMap<string, FuncSpec>;
  readonly flows: ReadonlyMap<string, FlowSpec>;
  readonly conns: ReadonlyMap<string, ConnSpec>;
  readonly jobs: ReadonlyMap<string, JobSpec>;
  readonly global: GlobalSpec;
}
