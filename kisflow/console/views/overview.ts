import { cloudWatchLag } from '../../aws/source-lag-metric.ts';
import { runsStats } from '../../cli/commands/runs.ts';
import { type LagOf, sourceLagReader } from '../../cli/source-lag.ts';
import type { DayStats } from '../../runs/run-stats.ts';
import type { StreamStats } from '../../runs/stream-stats.ts';
import type { ConsoleContext } from '../console-context.ts';
import { sumSteps } from './step-totals.ts';

const DAY = 86_400_000;
/** A flow's CloudWatch lag is read at most this often (the metric itself is per minute). */
const CLOUD_LAG_TTL_MS = 60_000;
const ENDED = new Set(['succeeded', 'failed', 'partial', 'timed_out']);

/** On AWS, the lag `kisflow runs stats` reads (CloudWatch), shared for a minute per flow. */
function cloudLag(context: ConsoleContext): LagOf {
  return (flow) =>
    context.cached(`lag:${flow.flowId}`, CLOUD_LAG_TTL_MS, () =>
      cloudWatchLag(context.cloudwatch(), context.prefix)(flow),
    );
}

export interface Overview {
  readonly flows: number;
  readonly jobs: number;
  readonly runs24h: { readonly total: number; readonly byStatus: Record<string, number> };
  /** succeeded / finished over the last 24 h; null with no finished run. */
  readonly successRatio24h: number | null;
  /** Over the chart's days. */
  readonly successRatio: number | null;
  readonly days: readonly DayStats[];
  readonly rowsPerStep: readonly {
    readonly flow: string;
    readonly step: number;
    readonly fid: string;
    readonly in: number;
    readonly out: number;
    readonly rejected: number;
  }[];
  readonly deadLetters: number;
  /** The stream-fed flows: rows/min and lag (`kisflow runs stats`). */
  readonly streams: readonly StreamStats[];
}

/** The Overview page: counts of the last 24 h, and the daily chart over `days` (`kisflow runs stats`). */
export async function overview(context: ConsoleContext, days: number): Promise<Overview> {
  const project = await context.project();
  const now = context.now();
  const flows = [...project.flows.values()].filter((f) => f.enabled);
  const [stats, recent, depths] = await Promise.all([
    runsStats(context.ledger, {
      days,
      now,
      flows,
      ...(context.endpoints === undefined
        ? {}
        : { lagOf: sourceLagReader(context.endpoints, cloudLag(context)) }),
      ...(context.region === undefined ? {} : { region: context.region }),
    }),
    context.ledger.list({ since: now - DAY, limit: 100_000 }),
    context.depths(),
  ]);
  const byStatus: Record<string, number> = {};
  for (const run of recent) byStatus[run.status] = (byStatus[run.status] ?? 0) + 1;
  const ended = recent.filter((r) => ENDED.has(r.status));
  const totals = sumSteps(recent);
  const chartEnded = stats.days.reduce((n, d) => n + d.succeeded + d.failed, 0);
  return {
    flows: flows.length,
    jobs: project.jobs.size,
    runs24h: { total: recent.length, byStatus },
    successRatio24h:
      ended.length === 0 ? null : ended.filter((r) => r.status === 'succeeded').length / ended.length,
    successRatio: chartEnded === 0 ? null : stats.days.reduce((n, d) => n + d.succeeded, 0) / chartEnded,
    days: stats.days,
    rowsPerStep: flows.flatMap((f) =>
      f.steps.map((s, step) => {
        const t = totals.get(`${f.flowId}#${step}`);
        return {
          flow: f.flowId,
          step,
          fid: s.fid,
          in: t?.in ?? 0,
          out: t?.out ?? 0,
          rejected: t?.rejected ?? 0,
        };
      }),
    ),
    deadLetters: depths.filter((d) => d.kind === 'dlq').reduce((n, d) => n + d.waiting + d.inFlight, 0),
    streams: stats.streams,
  };
}
