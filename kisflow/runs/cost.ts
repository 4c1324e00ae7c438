import type { RunRecord, RunUsage } from './run-ledger.ts';

/** List prices in USD of what a run uses. */
export interface PriceTable {
  readonly sqsPerMillionRequests: number;
  readonly lambdaPerMillionRequests: number;
  /** arm64, first tier. */
  readonly lambdaPerGbSecond: number;
  /** On-demand. */
  readonly dynamodbPerMillionWriteUnits: number;
  readonly dynamodbPerMillionReadUnits: number;
}

/**
 * Public list prices, read from aws.amazon.com/sqs/pricing, /lambda/pricing and
 * /dynamodb/pricing/on-demand as of 2025-11 (DynamoDB after its November 2024 on-demand price
 * cut); not re-checked since. Free tiers are ignored: an estimate per run cannot know what
 * else the account spends. Standard queues; Lambda arm64 (what KisFlow deploys).
 */
export const PRICES_AS_OF = '2025-11';
const US: PriceTable = {
  sqsPerMillionRequests: 0.4,
  lambdaPerMillionRequests: 0.2,
  lambdaPerGbSecond: 0.0000133334,
  dynamodbPerMillionWriteUnits: 0.625,
  dynamodbPerMillionReadUnits: 0.125,
};
export const REGION_PRICES: Readonly<Record<string, PriceTable>> = {
  'us-east-1': US,
  'us-east-2': US,
  'us-west-2': US,
};
export const DEFAULT_PRICE_REGION = 'us-east-1';

/**
 * SQS bills each 64 KB chunk of a request's payload as one request.
 * https://aws.amazon.com/sqs/pricing/
 */
export const SQS_BILLING_CHUNK_BYTES = 64 * 1024;
export function sqsBilledRequests(payloadBytes: number): number {
  return Math.max(1, Math.ceil(payloadBytes / SQS_BILLING_CHUNK_BYTES));
}

export interface CostEstimate {
  readonly usd: number;
  readonly region: string;
  /** True when the region has no price table here and us-east-1's was used. */
  readonly approximate: boolean;
  readonly pricesAsOf: string;
  readonly breakdown: { readonly sqs: number; readonly lambda: number; readonly dynamodb: number };
}

/** @example estimateCost(run.usage, 'us-east-1').usd */
export function estimateCost(usage: RunUsage, region = DEFAULT_PRICE_REGION): CostEstimate {
  const known = REGION_PRICES[region];
  const p = known ?? (REGION_PRICES[DEFAULT_PRICE_REGION] as PriceTable);
  const sqs = (usage.sqsRequests / 1e6) * p.sqsPerMillionRequests;
  const lambda =
    (usage.lambdaInvocations / 1e6) * p.lambdaPerMillionRequests +
    usage.lambdaGbSeconds * p.lambdaPerGbSecond;
  const dynamodb =
    (usage.dynamodbWriteUnits / 1e6) * p.dynamodbPerMillionWriteUnits +
    (usage.dynamodbReadUnits / 1e6) * p.dynamodbPerMillionReadUnits;
  return {
    usd: sqs + lambda + dynamodb,
    region,
    approximate: known === undefined,
    pricesAsOf: PRICES_AS_OF,
    breakdown: { sqs, lambda, dynamodb },
  };
}

/** Rows that entered a run: what its first step took in. */
export function rowsIn(run: RunRecord): number {
  return run.steps.find((s) => s.index === 0)?.in ?? 0;
}

export interface FlowCost {
  readonly flowId: string;
  readonly runs: number;
  readonly rows: number;
  readonly usd: number;
  /** null when no row entered. */
  readonly usdPerMillionRows: number | null;
}

/** Cost per million rows per flow, over the given runs. */
export function costPerMillionRows(runs: readonly RunRecord[], region = DEFAULT_PRICE_REGION): FlowCost[] {
  const byFlow = new Map<string, { runs: number; rows: number; usd: number }>();
  for (const run of runs) {
    const f = byFlow.get(run.flowId) ?? { runs: 0, rows: 0, usd: 0 };
    byFlow.set(run.flowId, {
      runs: f.runs + 1,
      rows: f.rows + rowsIn(run),
      usd: f.usd + estimateCost(run.usage, region).usd,
    });
  }
  return [...byFlow.entries()]
    .map(([flowId, f]) => ({ flowId, ...f, usdPerMillionRows: f.rows === 0 ? null : (f.usd / f.rows) * 1e6 }))
    .sort((a, b) => (a.flowId < b.flowId ? -1 : 1));
}

/**
 * What handling one SQS record in a Lambda invocation of `records` records costs, as shares:
 * the send of its message (billed per 64 KB), its share of the invocation's one receive and one
 * delete, of the invocation, and of its GB-seconds so far (`elapsedMs` since the invocation
 * began; records run in parallel, so the shares add up to about the invocation's duration).
 * The DynamoDB ledger adds its own write units; connector and state reads and writes, and the
 * output queue's sends, are not counted.
 */
export function recordUsage(input: {
  readonly bodyBytes: number;
  readonly records: number;
  readonly memoryMb: number;
  readonly elapsedMs: number;
}): Partial<RunUsage> {
  const share = 1 / Math.max(1, input.records);
  return {
    sqsRequests: sqsBilledRequests(input.bodyBytes) + 2 * share,
    lambdaInvocations: share,
    // Lambda bills at least 1 ms.
    lambdaGbSeconds: (input.memoryMb / 1024) * (Math.max(1, input.elapsedMs) / 1000) * share,
  };
}
