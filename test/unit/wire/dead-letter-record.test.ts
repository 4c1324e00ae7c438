import { describe, expect, it } from 'vitest';
import { OversizeError } from '../../../kisflow/errors.ts';
import type { RejectedRow, StepBatch } from '../../../kisflow/ports.ts';
import { redriveBatchId } from '../../../kisflow/wire/batch-id.ts';
import {
  DEAD_LETTER_ATTRIBUTES,
  deadLetterAttributes,
  encodeRejectedRecords,
  readDeadLetterBody,
  rejectedRecord,
  rejectionReason,
} from '../../../kisflow/wire/dead-letter-record.ts';
import { encodeEnvelope } from '../../../kisflow/wire/envelope.ts';
import { messageSize, stringAttribute } from '../../../kisflow/wire/limits.ts';

const batch: StepBatch = { flowId: 'orders', step: 1, runId: 'r', batchId: 'b', rows: [], meta: { k: 'v' } };
const reject = (i: number, code = 'MISSING_FIELD'): RejectedRow => ({
  flowId: 'orders',
  step: 1,
  fid: '校验',
  code,
  reason: `row ${i} lacks 'price'`,
  row: { id: i, pad: 'p'.repeat(100) },
});

describe('rejected-rows records', () => {
  it('encode as one record per batch and read back', () => {
    const record = rejectedRecord([reject(1), reject(2)], batch, 1, '校验');
    const bodies = encodeRejectedRecords(record, 1_000_000);
    expect(bodies).toHaveLength(1);
    expect(bodies[0]?.record).toEqual(record);
    const read = readDeadLetterBody(bodies[0]?.body as string);
    expect(read.kind).toBe('rejected');
    if (read.kind === 'rejected') {
      expect(read.record).toEqual(record);
      expect(read.record.meta).toEqual({ k: 'v' });
    }
  });

  it('split across records when one would exceed the limit, keeping row order', () => {
    const rows = Array.from({ length: 50 }, (_, i) => reject(i));
    const bodies = encodeRejectedRecords(rejectedRecord(rows, batch, 1, '校验'), 2_000);
    expect(bodies.length).toBeGreaterThan(1);
    const back = bodies.flatMap((b) => {
      expect(Buffer.byteLength(b.body, 'utf8')).toBeLessThanOrEqual(2_000);
      const read = readDeadLetterBody(b.body);
      expect(read.kind === 'rejected' && read.record).toEqual(b.record);
      return read.kind === 'rejected' ? read.record.rows : [];
    });
    expect(back).toEqual(rows);
  });

  it('refuse a single rejected row larger than a message', () => {
    const huge = { ...reject(1), row: { blob: 'x'.repeat(3_000) } };
    expect(() => encodeRejectedRecords(rejectedRecord([huge], batch, 1, 'f'), 2_000)).toThrow(OversizeError);
  });

  it('summarise their reason: one code, or ROWS_REJECTED when mixed', () => {
    const same = rejectionReason(rejectedRecord([reject(1), reject(2)], batch, 1, '校验'));
    expect(same).toMatchObject({
      code: 'MISSING_FIELD',
      flow: 'orders',
      step: 1,
      fid: '校验',
      run: batch.runId,
    });
    // The run id travels as an attribute too, so `redrive --run` and `runs retry` can select by it.
    expect(deadLetterAttributes(same)[DEAD_LETTER_ATTRIBUTES.run]?.StringValue).toBe(batch.runId);
    const mixed = rejectionReason(rejectedRecord([reject(1), reject(2, 'FUNCTION_ERROR')], batch, 1, 'f'));
    expect(mixed.code).toBe('ROWS_REJECTED');
    expect(mixed.message).toContain('2 rows rejected (MISSING_FIELD, FUNCTION_ERROR)');
  });
});

describe('dead-letter bodies', () => {
  it('tell envelopes kept verbatim from undecodable bodies', () => {
    const envelope = readDeadLetterBody(encodeEnvelope({ ...batch, rows: [{ a: 1 }] }));
    expect(envelope.kind).toBe('envelope');
    const junk = readDeadLetterBody('not json');
    expect(junk.kind).toBe('unreadable');
    if (junk.kind === 'unreadable') expect(junk.error.code).toBe('MALFORMED_JSON');
  });

  it('carry their reason in kisflow.* attributes, empty values left out, text made SQS-safe', () => {
    const attrs = deadLetterAttributes({
      code: 'X',
      message: `bad \u0000 ${'m'.repeat(5_000)}`,
      flow: 'f',
      step: 0,
    });
    expect(Object.keys(attrs).sort()).toEqual(
      [
        DEAD_LETTER_ATTRIBUTES.code,
        DEAD_LETTER_ATTRIBUTES.message,
        DEAD_LETTER_ATTRIBUTES.flow,
        DEAD_LETTER_ATTRIBUTES.step,
      ].sort(),
    );
    expect(attrs[DEAD_LETTER_ATTRIBUTES.message]?.StringValue).toMatch(/^bad \uFFFD m+…$/);
    expect(attrs[DEAD_LETTER_ATTRIBUTES.message]?.StringValue.length).toBe(1_024);
    expect(attrs[DEAD_LETTER_ATTRIBUTES.step]?.StringValue).toBe('0');
  });

  it('count attributes in the message size as SQS does', () => {
    expect(messageSize('abc', { n: stringAttribute('é') })).toBe(3 + 1 + 'String'.length + 2);
  });
});

describe('redriveBatchId', () => {
  it('differs from the original batch and is stable per dead-letter message', () => {
    expect(redriveBatchId('b', 'm1')).not.toBe('b');
    expect(redriveBatchId('b', 'm1')).toBe(redriveBatchId('b', 'm1'));
    expect(redriveBatchId('b', 'm2')).not.toBe(redriveBatchId('b', 'm1'));
  });
});
