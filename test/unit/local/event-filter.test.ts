import type { KinesisStreamRecord, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../kisflow/errors.ts';
import { kinesisRecordFilter, sqsMessageFilter } from '../../../kisflow/local/event-filter.ts';

const record = (data: unknown, partitionKey = 'k1'): KinesisStreamRecord => ({
  kinesis: {
    kinesisSchemaVersion: '1.0',
    partitionKey,
    sequenceNumber: '1',
    data: Buffer.from(typeof data === 'string' ? data : JSON.stringify(data)).toString('base64'),
    approximateArrivalTimestamp: 1,
  },
  eventSource: 'aws:kinesis',
  eventVersion: '1.0',
  eventID: 'shardId-000000000000:1',
  eventName: 'aws:kinesis:record',
  invokeIdentityArn: 'arn:aws:iam::1:role/r',
  awsRegion: 'us-east-1',
  eventSourceARN: 'arn:aws:kinesis:us-east-1:1:stream/s',
});

describe("Lambda's Kinesis filter criteria, locally", () => {
  it('delivers everything without filters', () => {
    expect(kinesisRecordFilter(undefined)).toBeUndefined();
    expect(kinesisRecordFilter([])).toBeUndefined();
  });

  it('matches listed values, nested fields and metadata; any filter may match', () => {
    const keep = kinesisRecordFilter([
      { data: { kind: ['order'], customer: { tier: ['gold', 'silver'] } } },
      { partitionKey: ['vip'] },
    ]);
    expect(keep?.(record({ kind: 'order', customer: { tier: 'gold' } }))).toBe(true);
    expect(keep?.(record({ kind: 'order', customer: { tier: 'bronze' } }))).toBe(false);
    expect(keep?.(record({ kind: 'refund' }, 'vip'))).toBe(true);
    expect(keep?.(record({ kind: 'order' }))).toBe(false);
    expect(keep?.(record('not json'))).toBe(false);
    // An array value matches when any element does.
    expect(kinesisRecordFilter([{ data: { tags: ['b'] } }])?.(record({ tags: ['a', 'b'] }))).toBe(true);
  });

  it('knows prefix, suffix, equals-ignore-case, anything-but, numeric and exists', () => {
    const one = (pattern: Record<string, unknown>, data: unknown) =>
      kinesisRecordFilter([{ data: pattern }])?.(record(data));
    expect(one({ id: [{ prefix: 'ord-' }] }, { id: 'ord-1' })).toBe(true);
    expect(one({ id: [{ prefix: 'ord-' }] }, { id: 'ref-1' })).toBe(false);
    expect(one({ id: [{ suffix: '-eu' }] }, { id: 'x-eu' })).toBe(true);
    expect(one({ c: [{ 'equals-ignore-case': 'EUR' }] }, { c: 'eur' })).toBe(true);
    expect(one({ s: [{ 'anything-but': ['test', 'dev'] }] }, { s: 'prod' })).toBe(true);
    expect(one({ s: [{ 'anything-but': 'test' }] }, { s: 'test' })).toBe(false);
    expect(one({ s: [{ 'anything-but': { prefix: 'tmp' } }] }, { s: 'tmp-1' })).toBe(false);
    expect(one({ n: [{ numeric: ['>', 0, '<=', 10] }] }, { n: 10 })).toBe(true);
    expect(one({ n: [{ numeric: ['>', 0, '<=', 10] }] }, { n: 11 })).toBe(false);
    expect(one({ n: [{ numeric: ['>', 0] }] }, { n: '5' })).toBe(false);
    expect(one({ gone: [{ exists: false }] }, { other: 1 })).toBe(true);
    expect(one({ here: [{ exists: true }] }, { other: 1 })).toBe(false);
  });

  it('takes the CloudFormation form { pattern: "<JSON>" } too', () => {
    const keep = kinesisRecordFilter([{ pattern: '{"data":{"kind":["order"]}}' }]);
    expect(keep?.(record({ kind: 'order' }))).toBe(true);
    expect(keep?.(record({ kind: 'other' }))).toBe(false);
  });

  it('refuses a malformed pattern with a code and an example', () => {
    expect(() => kinesisRecordFilter([{ data: { kind: 'order' } }])).toThrow(UsageError);
    expect(() => kinesisRecordFilter([{ pattern: '{not json' }])).toThrow(/KINESIS_FILTER_INVALID|not JSON/);
    try {
      kinesisRecordFilter([{ data: 3 }]);
    } catch (error) {
      expect((error as UsageError).code).toBe('KINESIS_FILTER_INVALID');
      expect((error as Error).message).toContain('{ data: { kind: [order] } }');
    }
  });
});

describe("Lambda's SQS filter criteria, locally", () => {
  const message = (body: string, attributes: Partial<SQSRecord['attributes']> = {}): SQSRecord =>
    ({
      messageId: 'm1',
      receiptHandle: 'r',
      body,
      attributes: { ApproximateReceiveCount: '1', ...attributes },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:1:q',
      awsRegion: 'us-east-1',
    }) as SQSRecord;

  it('matches the JSON body and the message fields; a body that is not JSON matches as its text', () => {
    const keep = sqsMessageFilter([
      { body: { kind: ['order'], total: [{ numeric: ['>', 0] }] } },
      { body: [{ prefix: 'PING' }] },
    ]);
    expect(keep?.(message(JSON.stringify({ kind: 'order', total: 3 })))).toBe(true);
    expect(keep?.(message(JSON.stringify({ kind: 'order', total: 0 })))).toBe(false);
    expect(keep?.(message('PING 1'))).toBe(true);
    expect(keep?.(message('not json {'))).toBe(false);
    const retried = sqsMessageFilter([{ attributes: { ApproximateReceiveCount: ['1'] } }]);
    expect(retried?.(message('{}'))).toBe(true);
    expect(retried?.(message('{}', { ApproximateReceiveCount: '2' }))).toBe(false);
  });

  it('refuses a malformed pattern naming source.sqs', () => {
    expect(() => sqsMessageFilter([{ body: 3 }])).toThrow(
      /source\.sqs\.filters.*\{ body: \{ kind: \[order\] \} \}/,
    );
    try {
      sqsMessageFilter([{ body: 3 }]);
    } catch (error) {
      expect((error as UsageError).code).toBe('SQS_FILTER_INVALID');
    }
  });
});
