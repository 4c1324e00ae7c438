import { describe, expect, it } from 'vitest';
import {
  costPerMillionRows,
  estimateCost,
  PRICES_AS_OF,
  SQS_BILLING_CHUNK_BYTES,
  sqsBilledRequests,
} from '../../../kisflow/runs/cost.ts';
import { NO_USAGE } from '../../../kisflow/runs/run-accounting.ts';
import type { RunRecord } from '../../../kisflow/runs/run-ledger.ts';

describe('cost of a run', () => {
  it('SQS bills a request per started 64 KB chunk', () => {
    expect(sqsBilledRequests(0)).toBe(1);
    expect(sqsBilledRequests(SQS_BILLING_CHUNK_BYTES)).toBe(1);
    expect(sqsBilledRequests(SQS_BILLING_CHUNK_BYTES + 1)).toBe(2);
    expect(sqsBilledRequests(256 * 1024)).toBe(4);
  });

  it('prices a million of each unit at us-east-1 list prices', () => {
    const cost = estimateCost({
      sqsRequests: 1e6,
      lambdaInvocations: 1e6,
      lambdaGbSeconds: 1e6,
      dynamodbReadUnits: 1e6,
      dynamodbWriteUnits: 1e6,
    });
    expect(cost.breakdown.sqs).toBeCloseTo(0.4, 10);
    expect(cost.breakdown.lambda).toBeCloseTo(0.2 + 13.3334, 6);
    expect(cost.breakdown.dynamodb).toBeCloseTo(0.625 + 0.125, 10);
    expect(cost).toMatchObject({ region: 'us-east-1', approximate: false, pricesAsOf: PRICES_AS_OF });
  });

  it('says when a region has no price table', () => {
    expect(estimateCost(NO_USAGE, 'ap-south-2')).toMatchObject({ usd: 0, approximate: true });
  });

  it('cost per million rows per flow', () => {
    const run = (flowId: string, rows: number, sqsRequests: number): RunRecord => ({
      id: `${flowId}-${rows}`,
      flowId,
      trigger: 'manual',
      status: 'succeeded',
      params: {},
      started: 0,
      lastProgress: 0,
      batches: { roots: 1, spawned: 0, done: 1, deadLettered: 0 },
      steps: [{ index: 0, in: rows, out: rows, rejected: 0, dropped: 0, deadLettered: 0, errors: 0 }],
      usage: { ...NO_USAGE, sqsRequests },
    });
    const flows = costPerMillionRows([run('A', 1000, 500), run('A', 3000, 500), run('B', 0, 10)]);
    expect(flows.map((f) => [f.flowId, f.runs, f.rows])).toEqual([
      ['A', 2, 4000],
      ['B', 1, 0],
    ]);
    // 1,000 requests = $0.0004 for 4,000 rows: $0.10 per million rows.
    expect(flows[0]?.usdPerMillionRows).toBeCloseTo(0.1, 10);
    expect(flows[1]?.usdPerMillionRows).toBeNull();
  });
});
