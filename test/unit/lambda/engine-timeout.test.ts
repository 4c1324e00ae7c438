import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { engineTimeoutMs } from '../../../kisflow/lambda/step-handler.ts';

const left = (ms: number): Partial<Context> => ({ getRemainingTimeInMillis: () => ms });

// The engine must stop a step before Lambda does, so its TIMEOUT is what the record handler sees.
describe('engineTimeoutMs', () => {
  it("keeps 2 s of the invocation's remaining time for the dead letter", () => {
    expect(engineTimeoutMs(30_000, left(30_000))).toBe(28_000);
    expect(engineTimeoutMs(30_000, left(12_000))).toBe(10_000);
  });

  it('keeps a fifth when less than 10 s are left, so a short timeout still runs the step', () => {
    expect(engineTimeoutMs(1_000, left(1_000))).toBe(800);
    expect(engineTimeoutMs(1_000, left(0))).toBe(1);
  });

  it("never exceeds the flow's timeout, and is the flow's timeout without a Lambda context", () => {
    expect(engineTimeoutMs(5_000, left(900_000))).toBe(5_000);
    expect(engineTimeoutMs(5_000, undefined)).toBe(5_000);
    expect(engineTimeoutMs(5_000, {})).toBe(5_000);
  });
});
