import { MetricUnit, Metrics as Powertools } from '@aws-lambda-powertools/metrics';
import type { MetricDimensions, Metrics } from '../ports.ts';

type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

/**
 * The engine's Metrics port over Powertools Metrics (CloudWatch Embedded Metric Format). Metrics
 * with the step's own dimensions are buffered and flushed once per invocation by the `logMetrics`
 * middleware; any other dimension set is written at once as a single metric, because one EMF
 * document carries one dimension set.
 */
export class EmfMetrics implements Metrics {
  readonly powertools: Powertools;
  readonly #defaults: MetricDimensions;
  readonly #defaultsKey: string;

  constructor(namespace: string, dimensions: MetricDimensions) {
    this.powertools = new Powertools({
      namespace,
      serviceName: 'kisflow',
      defaultDimensions: { ...dimensions },
    });
    this.#defaults = { ...dimensions };
    this.#defaultsKey = key(dimensions);
  }

  count(name: string, value: number, dimensions: MetricDimensions): void {
    this.#add(name, MetricUnit.Count, value, dimensions);
  }

  duration(name: string, ms: number, dimensions: MetricDimensions): void {
    this.#add(name, MetricUnit.Milliseconds, ms, dimensions);
  }

  #add(name: string, unit: Unit, value: number, dimensions: MetricDimensions): void {
    if (key(dimensions) === this.#defaultsKey) {
      this.powertools.addMetric(name, unit, value);
      return;
    }
    // A single metric inherits the default dimensions: add only what differs from them.
    const single = this.powertools.singleMetric();
    const extra = Object.entries(dimensions).filter(([k, v]) => this.#defaults[k] !== v);
    if (extra.length > 0) single.addDimensions(Object.fromEntries(extra));
    single.addMetric(name, unit, value);
  }
}

function key(dimensions: MetricDimensions): string {
  return JSON.stringify(Object.entries(dimensions).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
