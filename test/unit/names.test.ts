import { describe, expect, it } from 'vitest';
import {
  flowMetricLabel,
  logicalSafeId,
  resourceNames,
  safeId,
  stepMetricLabel,
} from '../../kisflow/config/names.ts';

describe('safeId', () => {
  it('keeps ASCII ids that fit', () => {
    expect(safeId('MyFlow1')).toBe('MyFlow1');
  });
  it('gives non-ASCII ids a stable, distinct ASCII name', () => {
    const a = safeId('测试KisFunction_S1');
    expect(a).toMatch(/^KisFunction_S1-[0-9a-f]{8}$/);
    expect(safeId('测试KisFunction_S1')).toBe(a);
    expect(safeId('测KisFunction_S1')).not.toBe(a);
    expect(safeId('订单')).toMatch(/^h[0-9a-f]{8}$/);
  });
  it('cuts long ids and stays within the limit', () => {
    const id = 'x'.repeat(200);
    expect(safeId(id, 40).length).toBeLessThanOrEqual(40);
  });
  it('derives stack names CloudFormation accepts', () => {
    expect(resourceNames().flowStack('订单流')).toMatch(/^[A-Za-z][A-Za-z0-9-]*$/);
  });
});

describe('stackSafeId', () => {
  it('reads `_` as `-` so ordinary ids keep readable stack names', () => {
    expect(resourceNames().flowStack('order_intake')).toBe('KisFlow-order-intake');
    expect(resourceNames().flowStack('MyFlow1')).toBe('KisFlow-MyFlow1');
  });
  it('hashes anything else, stably', () => {
    expect(resourceNames().flowStack('订单 flow')).toMatch(/^KisFlow-flow-[0-9a-f]{8}$/);
    expect(resourceNames().flowStack('a__b')).toMatch(/^KisFlow-a-b-[0-9a-f]{8}$/);
  });
  it('queue and table names keep `_`', () => {
    expect(resourceNames().stepQueue('order_intake', 'price_order')).toBe(
      'kisflow-order_intake--price_order',
    );
  });
});

describe('resourceNames: injective by construction', () => {
  it('names step queues by step key, so inserting a step renames no other queue', () => {
    const names = resourceNames();
    expect(names.stepQueue('orders', 'save')).toBe('kisflow-orders--save');
    expect(names.stepDeadLetterQueue('orders', 'save')).toBe('kisflow-orders--save--dlq');
    // A step key ending in -dlq or named `out` never takes another queue's name.
    expect(names.stepQueue('f', 'x-dlq')).not.toBe(names.stepDeadLetterQueue('f', 'x'));
    expect(names.stepQueue('f', 'out')).not.toBe(names.outputQueue('f'));
    expect(names.stepQueue('f', 'calc~2')).toMatch(/^kisflow-f--calc-2-[0-9a-f]{8}$/);
  });
  it('keeps stack names of different prefixes apart', () => {
    expect(resourceNames().flowStackName('dev-orders')).toBe('KisFlow-dev-orders');
    expect(resourceNames('dev').flowStackName('orders')).toBe('KisFlow-dev--orders');
    expect(resourceNames().flowStackName('dev-Shared')).not.toBe(resourceNames('dev').sharedStackName());
  });
  it('keeps the SQS 80-character limit with the longest prefix and ids', () => {
    const names = resourceNames('abcdefghij-klmnopqrs');
    const long = '长'.repeat(300);
    expect(names.stepDeadLetterQueue(long, long).length).toBeLessThanOrEqual(80);
    expect(names.stepQueue(long, `${long}a`)).not.toBe(names.stepQueue(long, long));
  });
});

describe('logicalSafeId', () => {
  it('keeps ids apart that CloudFormation would mangle into one', () => {
    expect(logicalSafeId('orders-eu')).not.toBe(logicalSafeId('orders_eu'));
    expect(logicalSafeId('orders-eu')).toMatch(/^[A-Za-z0-9]+$/);
    expect(logicalSafeId('Orders')).toBe('Orders');
  });
});

describe('metric labels', () => {
  it('are ASCII for the seed Chinese ids, and stable', () => {
    expect(flowMetricLabel('订单流')).toMatch(/^[\x21-\x7e]+$/);
    expect(stepMetricLabel(2, '测试PrintInput')).toMatch(/^2\.PrintInput-[0-9a-f]{8}$/);
    expect(stepMetricLabel(0, 'verify')).toBe('0.verify');
    expect(flowMetricLabel('order_intake')).toBe('order_intake');
  });
});
