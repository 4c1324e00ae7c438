import { describe, expect, it } from 'vitest';
import { resourceNames, safeId } from '../../kisflow/config/names.ts';

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
