import { describe, expect, it } from 'vitest';
import { EnvelopeError } from '../../../kisflow/errors.ts';
import type { StepBatch } from '../../../kisflow/ports.ts';
import {
  decodeEnvelope,
  ENVELOPE_VERSION,
  encodeEnvelope,
  parseEnvelope,
} from '../../../kisflow/wire/envelope.ts';

const batch: StepBatch = {
  flowId: '订单流',
  step: 2,
  runId: 'run-1',
  batchId: 'b-1',
  rows: [
    { id: 1, name: 'Zoë 😀', nested: { a: [1, null, 'x'] } },
    { id: 2, odd: '\uFFFE\uFFFF' },
  ],
  meta: { source: 'test' },
};

function thrown(fn: () => unknown): EnvelopeError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(EnvelopeError);
    return error as EnvelopeError;
  }
  throw new Error('expected an EnvelopeError');
}

describe('envelope', () => {
  it('round-trips a StepBatch exactly, Unicode and all', () => {
    const body = encodeEnvelope(batch);
    expect(decodeEnvelope(body)).toEqual(batch);
    expect(JSON.parse(body).v).toBe(ENVELOPE_VERSION);
  });

  it('writes only characters every SQS implementation accepts', () => {
    const body = encodeEnvelope(batch);
    // SQS: #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD (+ astral, which fauxqs refuses: escaped).
    // biome-ignore lint/suspicious/noControlCharactersInRegex: SQS's allowed set is defined by code points.
    expect(body).toMatch(/^[\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD]*$/);
    expect(body).toContain('\\ud83d\\ude00');
    expect(body).toContain('\\ufffe');
  });

  it('carries attempt when given', () => {
    const body = encodeEnvelope(batch, { attempt: 3 });
    expect(parseEnvelope(body).attempt).toBe(3);
    expect(decodeEnvelope(body)).toEqual(batch);
  });

  it('MALFORMED_JSON: a body that is not JSON', () => {
    const error = thrown(() => decodeEnvelope('{"v":1,'));
    expect(error.code).toBe('MALFORMED_JSON');
    expect(error.message).toContain('not JSON');
  });

  it('UNSUPPORTED_VERSION names the version received and the one supported', () => {
    const error = thrown(() => decodeEnvelope(JSON.stringify({ v: 2, flow: 'f' })));
    expect(error.code).toBe('UNSUPPORTED_VERSION');
    expect(error.message).toContain('version 2');
    expect(error.message).toContain('version 1');
    expect(error.context).toMatchObject({ received: 2, supported: [1] });
  });

  it('INVALID_ENVELOPE gives the zod path and message', () => {
    const body = JSON.stringify({ v: 1, flow: 'f', step: -1, run: 'r', batch: 'b', meta: {}, rows: [{}, 5] });
    const error = thrown(() => decodeEnvelope(body));
    expect(error.code).toBe('INVALID_ENVELOPE');
    expect(error.message).toContain('step:');
    expect(error.message).toContain('rows.1: a row must be a JSON object');
  });

  it('INVALID_ENVELOPE for JSON that is not an object, or lacks the version', () => {
    expect(thrown(() => decodeEnvelope('[1,2]')).code).toBe('INVALID_ENVELOPE');
    expect(thrown(() => decodeEnvelope('{"flow":"f"}')).message).toContain('v:');
  });
});

describe('envelope: completions handed on (carry)', () => {
  const batch = {
    flowId: 'orders',
    step: 2,
    runId: 'r1',
    batchId: 'b9',
    rows: [{ id: 1 }],
    meta: {},
    carry: [
      {
        batchId: 'b0',
        step: 0,
        fid: 'verify',
        counters: { in: 3, out: 2, rejected: 1 },
        children: 1,
        durationMs: 1.234,
        at: 1_700_000_000_000,
      },
      { batchId: 'b1', step: 1, children: 1, outcome: 'dead_lettered' as const, at: 1_700_000_000_001 },
    ],
  };

  it('round-trips, durations to 0.01 ms', () => {
    const back = decodeEnvelope(encodeEnvelope(batch));
    expect(back.carry).toEqual([{ ...batch.carry[0], durationMs: 1.23 }, batch.carry[1]]);
    expect(back.rows).toEqual([{ id: 1 }]);
  });

  it('an envelope without carry decodes with none', () => {
    expect(decodeEnvelope(encodeEnvelope({ ...batch, carry: [] })).carry).toBeUndefined();
  });

  it('a malformed carry is INVALID_ENVELOPE, with the path', () => {
    const body = encodeEnvelope(batch).replace('"b":"b0"', '"b":7');
    expect(() => decodeEnvelope(body)).toThrow(expect.objectContaining({ code: 'INVALID_ENVELOPE' }));
    expect(() => decodeEnvelope(body)).toThrow(/carried completions.*0\.b/);
  });
});
