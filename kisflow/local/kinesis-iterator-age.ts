import type { PrometheusSource } from './prometheus.ts';

/**
 * The local Kinesis mapping's iterator age per flow and shard, as Lambda's `IteratorAge` metric:
 * how old the last record of the latest read was when it was read (0 once caught up). A gauge,
 * served beside the step metrics at `prometheus_serve` as `<namespace>_kinesis_iterator_age_ms`.
 *
 * @example
 * const ages = new IteratorAges();
 * startKinesisPoller({ ..., onIteratorAge: (shard, ms) => ages.set('orders', shard, ms) });
 */
export class IteratorAges implements PrometheusSource {
  readonly #namespace: string;
  readonly #ages = new Map<string, { readonly flow: string; readonly shard: string; ms: number }>();

  constructor(options: { namespace?: string } = {}) {
    this.#namespace = (options.namespace ?? 'kisflow').replace(/[^a-zA-Z0-9_:]/g, '_');
  }

  set(flow: string, shard: string, ms: number): void {
    const key = `${flow}\u0000${shard}`;
    const entry = this.#ages.get(key);
    if (entry === undefined) this.#ages.set(key, { flow, shard, ms });
    else entry.ms = ms;
  }

  /** The largest age over the flow's shards (CloudWatch's Maximum), or undefined before any read. */
  get(flow: string): number | undefined {
    let max: number | undefined;
    for (const a of this.#ages.values()) if (a.flow === flow) max = Math.max(max ?? 0, a.ms);
    return max;
  }

  renderPrometheus(): string {
    if (this.#ages.size === 0) return '';
    const name = `${this.#namespace}_kinesis_iterator_age_ms`;
    const lines = [
      `# HELP ${name} Age of the last record read from each Kinesis shard, in milliseconds (Lambda's IteratorAge).`,
      `# TYPE ${name} gauge`,
    ];
    for (const a of this.#ages.values())
      lines.push(`${name}{flow="${labelValue(a.flow)}",shard="${labelValue(a.shard)}"} ${a.ms}`);
    return `${lines.join('\n')}\n`;
  }
}

/**
 * The iterator ages a `kisflow dev` serves at its Prometheus endpoint, per flow (the maximum over
 * its shards): the reading side of `IteratorAges.renderPrometheus`.
 */
export function parseIteratorAges(text: string, namespace = 'kisflow'): Map<string, number> {
  const name = `${namespace.replace(/[^a-zA-Z0-9_:]/g, '_')}_kinesis_iterator_age_ms`;
  const ages = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const match = /flow="((?:[^"\\]|\\.)*)"[^}]*\}\s+(\d+(?:\.\d+)?)\s*$/.exec(line);
    if (match === null) continue;
    const flow = (match[1] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    ages.set(flow, Math.max(ages.get(flow) ?? 0, Number(match[2])));
  }
  return ages;
}

function labelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
