import { afterEach, describe, expect, it, vi } from 'vitest';
import { EmfMetrics } from '../../../kisflow/lambda/emf-metrics.ts';

interface Emf {
  _aws: {
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [key: string]: unknown;
}

function capture(): { lines: () => Emf[]; restore: () => void } {
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  return {
    lines: () =>
      [...spy.mock.calls.map((c) => String(c[0])), ...log.mock.calls.map((c) => String(c[0]))]
        .flatMap((text) => text.split('\n'))
        .filter((l) => l.includes('"_aws"'))
        .map((l) => JSON.parse(l) as Emf),
    restore: () => {
      spy.mockRestore();
      log.mockRestore();
    },
  };
}

describe('EmfMetrics', () => {
  afterEach(() => vi.restoreAllMocks());

  it('buffers the step metrics under the step dimensions and flushes them as one EMF document', () => {
    const out = capture();
    const dims = Object.freeze({ flow: 'orders', step: 'price' });
    const metrics = new EmfMetrics('KisFlowTest', dims);
    metrics.count('rows_in', 10, dims);
    metrics.count('rows_in', 5, { step: 'price', flow: 'orders' });
    metrics.duration('duration', 12.5, dims);
    expect(out.lines()).toHaveLength(0);
    metrics.powertools.publishStoredMetrics();
    const docs = out.lines();
    out.restore();
    expect(docs).toHaveLength(1);
    const doc = docs[0] as Emf;
    expect(doc._aws.CloudWatchMetrics[0]?.Namespace).toBe('KisFlowTest');
    expect(doc._aws.CloudWatchMetrics[0]?.Dimensions[0]).toEqual(expect.arrayContaining(['flow', 'step']));
    expect(doc).toMatchObject({ flow: 'orders', step: 'price', rows_in: [10, 5], duration: 12.5 });
    expect(doc._aws.CloudWatchMetrics[0]?.Metrics).toEqual(
      expect.arrayContaining([
        { Name: 'rows_in', Unit: 'Count' },
        { Name: 'duration', Unit: 'Milliseconds' },
      ]),
    );
  });

  it('writes a metric with other dimensions at once, as its own document', () => {
    const out = capture();
    const metrics = new EmfMetrics('KisFlowTest', { flow: 'orders', step: 'price' });
    metrics.count('custom', 1, { flow: 'orders', step: 'price', region: 'eu' });
    const docs = out.lines();
    out.restore();
    expect(docs).toHaveLength(1);
    expect(docs[0]).toMatchObject({ custom: 1, region: 'eu', flow: 'orders' });
  });
});
