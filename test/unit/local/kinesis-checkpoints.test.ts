import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InfrastructureError } from '../../../kisflow/errors.ts';
import { checkpointKey, openKinesisCheckpoints } from '../../../kisflow/local/kinesis-checkpoints.ts';
import { streamNameOf } from '../../../kisflow/local/kinesis-event.ts';
import { IteratorAges } from '../../../kisflow/local/kinesis-iterator-age.ts';
import { joinPrometheusSources } from '../../../kisflow/local/prometheus.ts';
import { MemoryMetrics } from '../../../kisflow/memory/index.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const tempFile = () => {
  const dir = mkdtempSync(join(tmpdir(), 'kisflow-checkpoints-'));
  dirs.push(dir);
  return join(dir, 'nested', 'kinesis-checkpoints.json');
};

describe('Kinesis checkpoints', () => {
  it('keep each consumer and shard apart and survive reopening the file', () => {
    const file = tempFile();
    const arn = 'arn:aws:kinesis:us-east-1:1:stream/s';
    const a = checkpointKey('orders', arn, 'shardId-000000000000');
    const b = checkpointKey('audit', arn, 'shardId-000000000000');
    const first = openKinesisCheckpoints(file);
    first.set(a, { sequenceNumber: '1' });
    first.set(b, { since: 5 });
    first.set(a, { sequenceNumber: '2' });
    const again = openKinesisCheckpoints(file);
    expect(again.get(a)).toEqual({ sequenceNumber: '2' });
    expect(again.get(b)).toEqual({ since: 5 });
    expect(again.get(checkpointKey('orders', arn, 'shardId-000000000001'))).toBeUndefined();
  });

  it('refuse a file that is not theirs with a code and the fix, rather than start over silently', () => {
    const file = tempFile();
    openKinesisCheckpoints(file).set('k', { sequenceNumber: '1' });
    writeFileSync(file, '{"v":2}');
    expect(() => openKinesisCheckpoints(file)).toThrow(InfrastructureError);
    writeFileSync(file, 'not json');
    try {
      openKinesisCheckpoints(file);
      expect.unreachable();
    } catch (error) {
      expect((error as InfrastructureError).code).toBe('KINESIS_CHECKPOINTS_UNREADABLE');
      expect((error as Error).message).toContain('Delete the file');
    }
  });
});

describe('stream names', () => {
  it('come from a Kinesis stream ARN only', () => {
    expect(streamNameOf('arn:aws:kinesis:us-east-1:123456789012:stream/orders-v2.x')).toBe('orders-v2.x');
    expect(streamNameOf('arn:aws:sqs:us-east-1:123456789012:orders')).toBeUndefined();
    expect(streamNameOf('orders')).toBeUndefined();
  });
});

describe('iterator age', () => {
  it('is a gauge per flow and shard, served beside the step metrics', () => {
    const ages = new IteratorAges();
    ages.set('orders', 'shardId-000000000000', 1200);
    ages.set('orders', 'shardId-000000000001', 30);
    ages.set('orders', 'shardId-000000000000', 0);
    ages.set('a"b', 's', 7);
    expect(ages.get('orders')).toBe(30);
    expect(ages.get('none')).toBeUndefined();
    const metrics = new MemoryMetrics();
    metrics.count('rows_in', 3, { flow: 'orders' });
    const text = joinPrometheusSources(metrics, ages).renderPrometheus();
    expect(text).toContain('kisflow_rows_in_total{flow="orders"} 3\n');
    expect(text).toContain('# TYPE kisflow_kinesis_iterator_age_ms gauge\n');
    expect(text).toContain('kisflow_kinesis_iterator_age_ms{flow="orders",shard="shardId-000000000000"} 0\n');
    expect(text).toContain('kisflow_kinesis_iterator_age_ms{flow="a\\"b",shard="s"} 7\n');
  });
});
