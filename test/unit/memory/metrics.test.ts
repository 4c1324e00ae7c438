import { describe, expect, it } from 'vitest';
import { MemoryMetrics } from '../../../kisflow/memory/metrics.ts';

describe('MemoryMetrics', () => {
  it('sums counters per name over the series matching the given dimensions', () => {
    const m = new MemoryMetrics();
    const a = Object.freeze({ flow: 'f', step: 'a' });
    m.count('rows_in', 3, a);
    m.count('rows_in', 2, a);
    m.count('rows_in', 7, { flow: 'f', step: 'b' });
    m.count('rows_in', 1, { flow: 'g', step: 'a' });
    expect(m.counter('rows_in', { flow: 'f', step: 'a' })).toBe(5);
    expect(m.counter('rows_in', { flow: 'f' })).toBe(12);
    expect(m.counter('rows_in')).toBe(13);
    expect(m.counter('nothing')).toBe(0);
  });

  it('treats dimension objects with the same entries as one series', () => {
    const m = new MemoryMetrics();
    m.count('x', 1, { a: '1', b: '2' });
    m.count('x', 1, { b: '2', a: '1' });
    expect(m.series().counters).toEqual([{ name: 'x', labels: { a: '1', b: '2' }, value: 2 }]);
  });

  it('keeps duration statistics', () => {
    const m = new MemoryMetrics();
    m.duration('duration', 4, { step: 'a' });
    m.duration('duration', 12, { step: 'a' });
    expect(m.durations('duration', { step: 'a' })).toEqual({ count: 2, sum: 16, min: 4, max: 12 });
    expect(m.durations('duration', { step: 'b' })).toEqual({ count: 0, sum: 0, min: 0, max: 0 });
    m.reset();
    expect(m.durations('duration').count).toBe(0);
  });

  it('renders Prometheus text exposition format', () => {
    const m = new MemoryMetrics();
    m.count('rows_in', 5, { flow: '订单', step: 'a"b' });
    m.duration('duration', 3, { flow: 'f', step: 'a' });
    m.duration('duration', 70, { flow: 'f', step: 'a' });
    const text = m.renderPrometheus();
    expect(text).toContain('# TYPE kisflow_rows_in_total counter\n');
    expect(text).toContain('kisflow_rows_in_total{flow="订单",step="a\\"b"} 5\n');
    expect(text).toContain('# TYPE kisflow_duration_ms histogram\n');
    expect(text).toContain('kisflow_duration_ms_bucket{flow="f",step="a",le="1"} 0\n');
    expect(text).toContain('kisflow_duration_ms_bucket{flow="f",step="a",le="5"} 1\n');
    expect(text).toContain('kisflow_duration_ms_bucket{flow="f",step="a",le="100"} 2\n');
    expect(text).toContain('kisflow_duration_ms_bucket{flow="f",step="a",le="+Inf"} 2\n');
    expect(text).toContain('kisflow_duration_ms_sum{flow="f",step="a"} 73\n');
    expect(text).toContain('kisflow_duration_ms_count{flow="f",step="a"} 2\n');
    // Every sample line is `name{labels} value`.
    for (const line of text.trimEnd().split('\n')) {
      if (!line.startsWith('#')) expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? [-+0-9.eInfNa]+$/);
    }
  });

  it('uses the namespace and cleans metric names', () => {
    const m = new MemoryMetrics({ namespace: 'My App' });
    m.count('big-orders', 1, {});
    expect(m.renderPrometheus()).toContain('My_App_big_orders_total 1\n');
    expect(new MemoryMetrics().renderPrometheus()).toBe('');
  });
});
