import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROW_ATTRIBUTE } from '../../../kisflow/aws/dynamodb-connector-store.ts';
import { CONNECTOR_ROW_ATTRIBUTE } from '../../../kisflow/sources/dynamodb-stream-records.ts';
import {
  debeziumChange,
  dmsChange,
  dynamodbStreamRecords,
  kafkaRecords,
  kinesisRecords,
  sourceEventKind,
  sqsRecords,
} from '../../../kisflow/sources/index.ts';

const fixture = (name: string) =>
  JSON.parse(readFileSync(join(import.meta.dirname, '../../fixtures/sources', name), 'utf8'));

describe('Kinesis records', () => {
  it('decodes JSON rows with shard, partition key, sequence and arrival time; a bad record alone is a problem', () => {
    const records = kinesisRecords(fixture('kinesis-orders.json'));
    expect(records.map((r) => r.rows)).toEqual([
      [{ order_id: 'o-1', user_id: 'u1', price: 10, qty: 2 }],
      [{ order_id: 'o-2', user_id: 'u2', price: 5, qty: 1 }],
      undefined,
    ]);
    expect(records[0]?.meta).toEqual({
      source: 'kinesis',
      stream: 'arn:aws:kinesis:us-east-1:123456789012:stream/orders',
      shard: 'shardId-000000000000',
      partition_key: 'o-1',
      sequence: '49590338271490256608559692538361571095921575989136588801',
      arrived_at: '2026-01-01T00:00:00.123Z',
    });
    expect(records[0]?.itemId).toBe('49590338271490256608559692538361571095921575989136588801');
    expect(records[0]?.orderKey).toBe('o-1');
    expect(records[2]?.problem).toEqual({
      code: 'SOURCE_NOT_JSON',
      reason: expect.stringContaining("the record's data is not JSON"),
    });
  });

  it('refuses data that is not base64, not UTF-8, not a row, or not exact', () => {
    const event = (data: string) => ({
      Records: [{ kinesis: { partitionKey: 'k', sequenceNumber: '1', data }, eventID: 's:1' }],
    });
    const code = (data: string) => kinesisRecords(event(data) as never)[0]?.problem?.code;
    expect(code('not base64!')).toBe('SOURCE_NOT_BASE64');
    expect(code(Buffer.from([0xff, 0xfe, 0x00]).toString('base64'))).toBe('SOURCE_NOT_UTF8');
    expect(code(Buffer.from('[1, 2]').toString('base64'))).toBe('SOURCE_NOT_OBJECT');
    expect(code(Buffer.from('{"x": 1e999}').toString('base64'))).toBe('SOURCE_NOT_EXACT');
    expect(
      kinesisRecords(event(Buffer.from('[{"a":1},{"a":2}]').toString('base64')) as never)[0]?.rows,
    ).toEqual([{ a: 1 }, { a: 2 }]);
  });
});

describe('AWS DMS records (Kinesis target)', () => {
  it('decodes full load, insert, update with before image, delete; skips control records; rejects a record without metadata', () => {
    const records = kinesisRecords(fixture('kinesis-dms.json'), 'dms');
    expect(records.slice(0, 4).map((r) => r.rows)).toEqual([
      [
        {
          op: 'snapshot',
          table: 'shop.orders',
          before: null,
          after: { order_id: 'o-1', user_id: 'u1', price: 10, qty: 2 },
          committed_at: '2026-01-01T00:00:00.000Z',
          transaction_id: 8589934611,
        },
      ],
      [
        {
          op: 'insert',
          table: 'shop.orders',
          before: null,
          after: { order_id: 'o-2', user_id: 'u2', price: 5, qty: 1 },
          committed_at: '2026-01-01T00:00:01.000Z',
          transaction_id: 8589934611,
        },
      ],
      [
        {
          op: 'update',
          table: 'shop.orders',
          before: { order_id: 'o-2', user_id: 'u2', price: 5, qty: 1 },
          after: { order_id: 'o-2', user_id: 'u2', price: 5, qty: 3 },
          committed_at: '2026-01-01T00:00:02.000Z',
          transaction_id: 8589934611,
        },
      ],
      [
        {
          op: 'delete',
          table: 'shop.orders',
          before: { order_id: 'o-1', user_id: 'u1', price: 10, qty: 2 },
          after: null,
          committed_at: '2026-01-01T00:00:03.000Z',
          transaction_id: 8589934611,
        },
      ],
    ]);
    expect(records[4]).toMatchObject({ rows: [], skipped: 'DMS control record (create-table)' });
    expect(records[5]?.problem?.code).toBe('DMS_BAD_RECORD');
  });

  it('rejects an operation DMS does not write', () => {
    const out = dmsChange({ data: {}, metadata: { 'record-type': 'data', operation: 'upsert' } });
    expect(out).toEqual({ problem: { code: 'DMS_BAD_RECORD', reason: expect.stringContaining('"upsert"') } });
  });
});

describe('Debezium envelopes (Kafka)', () => {
  it('decodes snapshot, create, update, delete with source table and commit time; skips the tombstone; rejects a non-envelope', () => {
    const records = kafkaRecords(fixture('kafka-debezium.json'), 'debezium');
    expect(records.slice(0, 4).map((r) => r.rows?.[0])).toEqual([
      {
        op: 'snapshot',
        table: 'shop.orders',
        before: null,
        after: { order_id: 'o-1', user_id: 'u1', price: 10, qty: 2 },
        committed_at: '2026-01-01T00:00:00.000Z',
      },
      {
        op: 'insert',
        table: 'shop.orders',
        before: null,
        after: { order_id: 'o-2', user_id: 'u2', price: 5, qty: 1 },
        committed_at: '2026-01-01T00:00:01.000Z',
      },
      {
        op: 'update',
        table: 'shop.orders',
        before: { order_id: 'o-2', user_id: 'u2', price: 5, qty: 1 },
        after: { order_id: 'o-2', user_id: 'u2', price: 5, qty: 3 },
        committed_at: '2026-01-01T00:00:02.000Z',
      },
      {
        op: 'delete',
        table: 'shop.orders',
        before: { order_id: 'o-1', user_id: 'u1', price: 10, qty: 2 },
        after: null,
        committed_at: '2026-01-01T00:00:03.000Z',
      },
    ]);
    expect(records[4]).toMatchObject({ rows: [], skipped: expect.stringContaining('tombstone') });
    expect(records[5]?.problem?.code).toBe('DEBEZIUM_BAD_ENVELOPE');
    expect(records[1]?.meta).toEqual({
      source: 'kafka',
      topic: 'orders',
      partition: 0,
      offset: 101,
      key: '{"order_id":"o-2"}',
      timestamp: '2026-01-01T00:00:01.010Z',
      headers: { source: 'debezium' },
    });
    expect(records[1]?.itemId).toBe('orders-0@101');
    expect(records[1]?.orderKey).toBe('orders-0');
  });

  it('reads an envelope without the schema wrapper too', () => {
    const out = debeziumChange({
      op: 'c',
      before: null,
      after: { id: 1 },
      source: { db: 'd', table: 't', ts_ms: 0 },
    });
    expect(out).toEqual({
      value: {
        rows: [
          {
            op: 'insert',
            table: 'd.t',
            before: null,
            after: { id: 1 },
            committed_at: '1970-01-01T00:00:00.000Z',
          },
        ],
      },
    });
  });
});

describe('Kafka JSON records', () => {
  it('decodes each value as a row with its key', () => {
    const records = kafkaRecords(fixture('kafka-orders.json'));
    expect(records.map((r) => [r.itemId, r.meta.key, r.rows])).toEqual([
      ['orders-1@7', 'o-1', [{ order_id: 'o-1', user_id: 'u1', price: 10, qty: 2 }]],
      ['orders-1@8', 'o-2', [{ order_id: 'o-2', user_id: 'u2', price: 5, qty: 1 }]],
    ]);
  });
});

describe('DynamoDB stream records', () => {
  it('unmarshals keys and images into change rows; a TTL delete is marked; a bad attribute is a problem alone', () => {
    const records = dynamodbStreamRecords(fixture('dynamodb-customers.json'));
    expect(records.slice(0, 3).map((r) => r.rows?.[0])).toEqual([
      {
        op: 'insert',
        table: 'customers',
        keys: { id: 'c1' },
        before: null,
        after: {
          id: 'c1',
          name: 'Ada',
          visits: 1,
          tags: ['vip'],
          address: { city: 'Paris' },
          active: true,
          note: null,
        },
        committed_at: '2026-01-01T00:00:00.000Z',
        event_name: 'INSERT',
      },
      {
        op: 'update',
        table: 'customers',
        keys: { id: 'c1' },
        before: { id: 'c1', name: 'Ada', visits: 1 },
        after: { id: 'c1', name: 'Ada', visits: 2, big: '123456789012345678901234567890' },
        committed_at: '2026-01-01T00:00:01.000Z',
        event_name: 'MODIFY',
      },
      {
        op: 'delete',
        table: 'customers',
        keys: { id: 'c1' },
        before: { id: 'c1', name: 'Ada' },
        after: null,
        committed_at: '2026-01-01T00:00:02.000Z',
        event_name: 'REMOVE',
        expired: true,
      },
    ]);
    expect(records[3]?.problem).toEqual({
      code: 'DYNAMODB_BAD_IMAGE',
      reason: expect.stringContaining('NewImage.visits'),
    });
    expect(records[0]?.itemId).toBe('111');
  });

  it("reads a connector table's stored rows, not its raw items", () => {
    expect(CONNECTOR_ROW_ATTRIBUTE).toBe(ROW_ATTRIBUTE);
    const event = {
      Records: [
        {
          eventName: 'INSERT',
          eventSourceARN: 'arn:aws:dynamodb:us-east-1:123456789012:table/kisflow-conn-orders/stream/x',
          dynamodb: {
            Keys: { pk: { S: '#o-1' }, sk: { S: '#' } },
            NewImage: { pk: { S: '#o-1' }, sk: { S: '#' }, row: { S: '{"order_id":"o-1","total":20}' } },
            SequenceNumber: '5',
          },
        },
      ],
    };
    expect(dynamodbStreamRecords(event as never, { connectorRows: true })[0]?.rows?.[0]).toMatchObject({
      op: 'insert',
      after: { order_id: 'o-1', total: 20 },
    });
  });
});

describe('SQS source records and event kinds', () => {
  it('decodes bodies; tells the event kinds apart', () => {
    const event = {
      Records: [
        { messageId: 'm1', body: '{"a":1}', attributes: { SentTimestamp: '0' }, eventSource: 'aws:sqs' },
        { messageId: 'm2', body: 'nope', attributes: {}, eventSource: 'aws:sqs' },
      ],
    };
    const records = sqsRecords(event as never);
    expect(records.map((r) => r.rows ?? r.problem?.code)).toEqual([[{ a: 1 }], 'SOURCE_NOT_JSON']);
    expect(sourceEventKind(event)).toBe('sqs');
    expect(sourceEventKind(fixture('kinesis-orders.json'))).toBe('kinesis');
    expect(sourceEventKind(fixture('dynamodb-customers.json'))).toBe('dynamodb_stream');
    expect(sourceEventKind(fixture('kafka-debezium.json'))).toBe('kafka');
    expect(sourceEventKind(fixture('kafka-orders.json'))).toBe('kafka');
    expect(sourceEventKind({})).toBeUndefined();
  });
});
