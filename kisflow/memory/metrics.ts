import type { MetricDimensions, Metrics } from '../ports.ts';

/** Histogram bucket bounds of durations, in ms (Prometheus `le`). */
const BUCKETS_MS = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000];

interface CounterSeries {
  readonly name: string;
  readonly labels: MetricDimensions;
  value: number;
}

interface DurationSeries {
  readonly name: string;
  readonly labels: MetricDimensions;
  count: number;
  sum: number;
  min: number;
  max: number;
  /** Non-cumulative count per bucket of BUCKETS_MS; the last slot is above every bound. */
  readonly buckets: number[];
}

export interface DurationStats {
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
}

function matches(labels: MetricDimensions, filter: MetricDimensions | undefined): boolean {
  if (filter === undefined) return true;
  for (const k in filter) if (labels[k] !== filter[k]) return false;
  return true;
}

function metricName(name: string): string {
  const clean = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  return /^[0-9]/.test(clean) ? `_${clean}` : clean;
}

function labelName(name: string): string {
  const clean = name.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[0-9]/.test(clean) ? `_${clean}` : clean;
}

function labelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function renderLabels(labels: MetricDimensions, extra?: string): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${labelName(k)}="${labelValue(labels[k] as string)}"`);
  if (extra !== undefined) parts.push(extra);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function renderNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return '+Inf';
  if (n === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(n);
}

/**
 * Metrics kept in memory: counters and duration histograms per (name, dimensions), readable back
 * (tests, `kisflow run` summaries) and renderable as Prometheus text exposition format (the local
 * `/metrics` endpoint when `prometheus_enable`).
 *
 * @example
 * const metrics = new MemoryMetrics();
 * metrics.count('rows_in', 10, { flow: 'orders', step: 'verify' });
 * metrics.counter('rows_in', { flow: 'orders' }); // 10
 * metrics.renderPrometheus(); // '# TYPE kisflow_rows_in_total counter\nkisflow_rows_in_total{flow="orders",step="verify"} 10\n...'
 */
// Module-level factories, not closures per call: a step counts eight metrics per batch.
const newCounter = (name: string, dimensions: MetricDimensions): CounterSeries => ({
  name,
  labels: { ...dimensions },
  value: 0,
});
const newDuration = (name: string, dimensions: MetricDimensions): DurationSeries => ({
  name,
  labels: { ...dimensions },
  count: 0,
  sum: 0,
  min: Number.POSITIVE_INFINITY,
  max: Number.NEGATIVE_INFINITY,
  buckets: new Array<number>(BUCKETS_MS.length + 1).fill(0),
});

export class MemoryMetrics implements Metrics {
  readonly namespace: string;
  readonly #counters = new Map<string, CounterSeries>();
  readonly #durations = new Map<string, DurationSeries>();
  // The engine passes the same frozen dimension objects on every call: remember their series by
  // object, so a call costs two map lookups instead of building a key string.
  #countersByDims = new WeakMap<MetricDimensions, Map<string, CounterSeries>>();
  #durationsByDims = new WeakMap<MetricDimensions, Map<string, DurationSeries>>();

  /** @param options.namespace prefix of Prometheus metric names (default `kisflow`). */
  constructor(options: { namespace?: string } = {}) {
    this.namespace = metricName(options.namespace ?? 'kisflow');
  }

  #series<S extends CounterSeries | DurationSeries>(
    byDims: WeakMap<MetricDimensions, Map<string, S>>,
    all: Map<string, S>,
    name: string,
    dimensions: MetricDimensions,
    make: (name: string, dimensions: MetricDimensions) => S,
  ): S {
    let cached = byDims.get(dimensions);
    const hit = cached?.get(name);
    if (hit !== undefined) return hit;
    const labels = JSON.stringify(
      Object.entries(dimensions).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    );
    const key = `${name}\u0000${labels}`;
    let series = all.get(key);
    if (series === undefined) {
      series = make(name, dimensions);
      all.set(key, series);
    }
    if (Object.isFrozen(dimensions)) {
      if (cached === undefined) {
        cached = new Map();
        byDims.set(dimensions, cached);
      }
      cached.set(name, series);
    }
    return series;
  }

  count(name: string, value: number, dimensions: MetricDimensions): void {
    const series = this.#series(this.#countersByDims, this.#counters, name, dimensions, newCounter);
    series.value += value;
  }

  duration(name: string, ms: number, dimensions: MetricDimensions): void {
    const series = this.#series(this.#durationsByDims, this.#durations, name, dimensions, newDuration);
    series.count++;
    series.sum += ms;
    if (ms < series.min) series.min = ms;
    if (ms > series.max) series.max = ms;
    let i = 0;
    while (i < BUCKETS_MS.length && ms > (BUCKETS_MS[i] as number)) i++;
    (series.buckets[i] as number)++;
  }

  /** Sum of a counter over every series whose dimensions include `dimensions` (0 if none). */
  counter(name: string, dimensions?: MetricDimensions): number {
    let total = 0;
    for (const s of this.#counters.values())
      if (s.name === name && matches(s.labels, dimensions)) total += s.value;
    return total;
  }

  /** Durations recorded under `name` over every series whose dimensions include `dimensions`. */
  durations(name: string, dimensions?: MetricDimensions): DurationStats {
    let count = 0;
    let sum = 0;
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (const s of this.#durations.values()) {
      if (s.name !== name || !matches(s.labels, dimensions)) continue;
      count += s.count;
      sum += s.sum;
      min = Math.min(min, s.min);
      max = Math.max(max, s.max);
    }
    return count === 0 ? { count: 0, sum: 0, min: 0, max: 0 } : { count, sum, min, max };
  }

  /** Every series, for inspection. */
  series(): {
    counters: { name: string; labels: MetricDimensions; value: number }[];
    durations: ({ name: string; labels: MetricDimensions } & DurationStats)[];
  } {
    return {
      counters: [...this.#counters.values()].map((s) => ({ name: s.name, labels: s.labels, value: s.value })),
      durations: [...this.#durations.values()].map((s) => ({
        name: s.name,
        labels: s.labels,
        count: s.count,
        sum: s.sum,
        min: s.min,
        max: s.max,
      })),
    };
  }

  reset(): void {
    this.#counters.clear();
    this.#durations.clear();
    this.#countersByDims = new WeakMap();
    this.#durationsByDims = new WeakMap();
  }

  /**
   * Prometheus text exposition format (version 0.0.4): counters as `<ns>_<name>_total`,
   * durations as histograms `<ns>_<name>_ms` with `_bucket{le}`, `_sum`, `_count`.
   */
  renderPrometheus(): string {
    const lines: string[] = [];
    const byName = <S extends { name: string }>(all: Iterable<S>) => {
      const groups = new Map<string, S[]>();
      for (const s of all) {
        const group = groups.get(s.name);
        if (group === undefined) groups.set(s.name, [s]);
        else group.push(s);
      }
      return [...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    };
    for (const [name, group] of byName(this.#counters.values())) {
      const base = `${this.namespace}_${metricName(name)}`;
      const full = base.endsWith('_total') ? base : `${base}_total`;
      lines.push(`# HELP ${full} KisFlow counter ${name}.`, `# TYPE ${full} counter`);
      for (const s of group) lines.push(`${full}${renderLabels(s.labels)} ${renderNumber(s.value)}`);
    }
    for (const [name, group] of byName(this.#durations.values())) {
      const full = `${this.namespace}_${metricName(name)}_ms`;
      lines.push(`# HELP ${full} KisFlow duration ${name} in milliseconds.`, `# TYPE ${full} histogram`);
      for (const s of group) {
        let cumulative = 0;
        BUCKETS_MS.forEach((bound, i) => {
          cumulative += s.buckets[i] as number;
          lines.push(`${full}_bucket${renderLabels(s.labels, `le="${bound}"`)} ${cumulative}`);
        });
        lines.push(`${full}_bucket${renderLabels(s.labels, 'le="+Inf"')} ${s.count}`);
        lines.push(`${full}_sum${renderLabels(s.labels)} ${renderNumber(s.sum)}`);
        lines.push(`${full}_count${renderLabels(s.labels)} ${s.count}`);
      }
    }
    return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
  }
}
