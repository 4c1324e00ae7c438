import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useEffect, useRef } from 'preact/hooks';
import { html } from './html.ts';
import { t } from './i18n.ts';

export interface Day {
  readonly day: string;
  readonly succeeded: number;
  readonly failed: number;
}

/** Runs succeeded/failed per day as stacked bars (uPlot: ~50 KB, canvas, no dependencies). */
export function DayChart({ days }: { days: readonly Day[] }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const xs = days.map((_, i) => i);
    const ok = days.map((d) => d.succeeded);
    const total = days.map((d) => d.succeeded + d.failed);
    const bars = uPlot.paths.bars?.({ size: [0.7, 40] });
    const plot = new uPlot(
      {
        width: Math.max(320, el.clientWidth),
        height: 220,
        scales: {
          x: { time: false, range: [-0.5, days.length - 0.5] },
          y: { range: (_u, _min, max) => [0, Math.max(1, max)] },
        },
        axes: [
          {
            space: 40,
            incrs: [1, 2, 5],
            values: (_u, splits) => splits.map((i) => days[i]?.day.slice(5) ?? ''),
          },
          { size: 40 },
        ],
        series: [
          { label: t('day'), value: (_u, i) => (i === null ? '—' : (days[i]?.day ?? '—')) },
          {
            label: t('failed'),
            fill: '#e5534b',
            stroke: '#c93c37',
            paths: bars,
            points: { show: false },
            value: (_u, _v, _s, i) => (i === null ? '—' : String(days[i]?.failed ?? 0)),
          },
          { label: t('succeeded'), fill: '#46a758', stroke: '#2f8a41', paths: bars, points: { show: false } },
        ],
      },
      // Stacked: failed is drawn as the total, succeeded over it.
      [xs, total, ok],
      el,
    );
    return () => plot.destroy();
  }, [days]);
  return html`<div ref=${box} class="chart" data-testid="day-chart"></div>`;
}
