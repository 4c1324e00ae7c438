import { describe, expect, it } from 'vitest';
import { decodeCompletions, encodeCompletions } from '../../../kisflow/wire/completion-record.ts';

describe('completion records on the wire', () => {
  const completion = {
    batchId: 'b1',
    step: 2,
    fid: 'scale',
    counters: { in: 274, out: 270, rejected: 4, dropped: 0 },
    children: 3,
    durationMs: 1.234,
    at: 1_764_772_000_000,
    usage: { sqsRequests: 0.3, lambdaInvocations: 0.1, lambdaGbSeconds: 0.0000125, dynamodbReadUnits: 0 },
  };

  it('round-trips, with zeros left out and short names for counters and usage', () => {
    const wire = encodeCompletions([completion]);
    expect(wire).toEqual([
      {
        b: 'b1',
        s: 2,
        f: 'scale',
        c: { i: 274, o: 270, r: 4 },
        n: 3,
        ms: 1.23,
        at: 1_764_772_000_000,
        u: { q: 0.3, v: 0.1, g: 0.0000125 },
      },
    ]);
    const back = decodeCompletions(JSON.parse(JSON.stringify(wire)));
    expect(back).toEqual([
      {
        ...completion,
        durationMs: 1.23,
        counters: { in: 274, out: 270, rejected: 4 },
        usage: { sqsRequests: 0.3, lambdaInvocations: 0.1, lambdaGbSeconds: 0.0000125 },
      },
    ]);
  });

  it('reads records written with the long names', () => {
    const [old] = decodeCompletions([{ b: 'b0', s: 0, c: { in: 5, out: 5 }, u: { sqsRequests: 1 } }]);
    expect(old?.counters).toEqual({ in: 5, out: 5 });
    expect(old?.usage).toEqual({ sqsRequests: 1 });
  });

  it('refuses what is not a list of records, with a code', () => {
    expect(() => decodeCompletions([{ s: 1 }])).toThrow(
      expect.objectContaining({ code: 'INVALID_ENVELOPE' }),
    );
  });
});
