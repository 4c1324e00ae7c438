import { readFileSync, renameSync, writeFileSync } from 'node:fs';
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

  /** Per flow, the largest age over its shards. */
  perFlow(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const a of this.#ages.values()) out[a.flow] = Math.max(out[a.flow] ?? 0, a.ms);
    return out;
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
 * Publishes the ages per flow for the CLI (`kisflow runs stats`, the console) in `file`, atomically:
 * a reader never sees half a file. `kisflow dev` rewrites it while it runs, Prometheus or not.
 */
export function writeIteratorAges(file: string, ages: IteratorAges): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(ages.perFlow())}\n`);
  renameSync(temporary, file);
}

/** The ages `writeIteratorAges` published, per flow; empty when there is no (valid) file. */
export function readIteratorAges(file: string): Map<string, number> {
  try {
    const value: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (typeof value !== 'object' || value === null) return new Map();
    return new Map(
      Object.entries(value).filter((e): e is [string, number] => typeof e[1] === 'number' && e[1] >= 0),
    );
  } catch {
    return new Map();
  }
}

function labelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
