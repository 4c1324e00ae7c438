import { html } from './html.ts';
import { t } from './i18n.ts';
import { figureTitle, type StepFigure } from './step-figure.ts';
import { ms } from './widgets.ts';

export interface GraphStep {
  readonly index: number;
  readonly fid: string;
  readonly mode: string;
  readonly cid: string | null;
  readonly in: number;
  readonly out: number;
  readonly errors: number;
  readonly rejected: number;
  readonly backlog: number;
  readonly inFlight: number;
  readonly dlq: number;
  readonly oldestAgeMs: number | null;
  readonly p95Ms: number | null;
  readonly figures?: { readonly oldestAge: StepFigure; readonly p95: StepFigure };
}

export interface GraphConnector {
  readonly cid: string;
  readonly type: string;
  readonly steps: readonly { readonly index: number; readonly mode: 'save' | 'load' | 'other' }[];
  readonly others: readonly { readonly flowId: string; readonly fid: string; readonly mode: string }[];
}

const W = 200;
const H = 124;
const GAP = 56;
const TOP = 16;
const CONN_Y = TOP + H + 70;
const CONN_H = 58;

/**
 * A flow's steps left to right (a flow is a chain: one layer per step), its connectors in a second
 * layer under the steps that use them, and the other flows each connector joins. A general layout
 * engine (elkjs, ~1.4 MB) would place the same boxes; a chain and its connectors need only this.
 */
export function layout(steps: readonly GraphStep[], connectors: readonly GraphConnector[]) {
  const stepX = (i: number) => 16 + i * (W + GAP);
  const conns = connectors.map((c, k) => {
    const xs = c.steps.map((s) => stepX(s.index));
    const centre = xs.length === 0 ? stepX(k) : xs.reduce((a, b) => a + b, 0) / xs.length;
    return { ...c, x: centre, y: CONN_Y };
  });
  // Two connectors under the same steps would overlap: push later ones right.
  conns.sort((a, b) => a.x - b.x);
  for (let i = 1; i < conns.length; i++) {
    const prev = conns[i - 1] as { x: number };
    const c = conns[i] as { x: number };
    if (c.x < prev.x + W + 16) c.x = prev.x + W + 16;
  }
  const width = Math.max(stepX(steps.length) - GAP + 16, ...conns.map((c) => c.x + W + 16));
  const height =
    conns.length === 0
      ? TOP + H + 16
      : CONN_Y + CONN_H + 18 + 16 * Math.max(0, ...conns.map((c) => c.others.length));
  return { stepX, conns, width, height };
}

export function FlowGraph({
  steps,
  connectors,
}: {
  steps: readonly GraphStep[];
  connectors: readonly GraphConnector[];
}) {
  const { stepX, conns, width, height } = layout(steps, connectors);
  return html`<svg class="graph" data-testid="flow-graph" viewBox=${`0 0 ${width} ${height}`} width=${width} height=${height} role="img">
    <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#57606a"/></marker></defs>
    ${steps
      .slice(1)
      .map(
        (s) =>
          html`<line x1=${stepX(s.index - 1) + W} y1=${TOP + H / 2} x2=${stepX(s.index)} y2=${TOP + H / 2} class="edge" marker-end="url(#arrow)"/>`,
      )}
    ${conns.flatMap((c) =>
      c.steps.map((s) => {
        const sx = stepX(s.index) + W / 2;
        const load = s.mode === 'load';
        return html`<line x1=${load ? c.x + W / 2 : sx} y1=${load ? c.y : TOP + H} x2=${load ? sx : c.x + W / 2} y2=${load ? TOP + H : c.y} class="edge dashed" marker-end="url(#arrow)"/>`;
      }),
    )}
    ${steps.map(
      (
        s,
      ) => html`<g class=${`node${s.dlq > 0 || s.errors > 0 ? ' node-bad' : ''}`} data-testid=${`step-${s.index}`} transform=${`translate(${stepX(s.index)},${TOP})`}>
        <rect width=${W} height=${H} rx="8"/>
        <text x="10" y="20" class="node-title">${s.index}. ${s.fid}</text>
        <text x=${W - 10} y="20" class=${`mode mode-${s.mode}`} text-anchor="end">${s.mode}</text>
        <text x="10" y="42">${t('in')} ${s.in} · ${t('out')} ${s.out} · ${t('rejected')} ${s.rejected}</text>
        <text x="10" y="62" data-testid=${`backlog-${s.index}`}>${t('backlog')} ${s.backlog}${s.inFlight > 0 ? ` (+${s.inFlight})` : ''} · ${t('dlq')} ${s.dlq}</text>
        <text x="10" y="82">${t('errors')} ${s.errors}</text>
        <text x="10" y="102" data-testid=${`figures-${s.index}`}><tspan><title>${figureTitle(s.figures?.p95)}</title>${t('p95')} ${ms(s.p95Ms)}</tspan> · <tspan><title>${figureTitle(s.figures?.oldestAge)}</title>${t('oldestAge')} ${ms(s.oldestAgeMs)}</tspan></text>
      </g>`,
    )}
    ${conns.map(
      (c) => html`<g class="conn" data-testid=${`conn-${c.cid}`} transform=${`translate(${c.x},${c.y})`}>
        <path d=${`M0,8 a${W / 2},8 0 0,0 ${W},0 v${CONN_H - 16} a${W / 2},8 0 0,1 -${W},0 z M0,8 a${W / 2},8 0 0,1 ${W},0`}/>
        <text x=${W / 2} y="36" text-anchor="middle" class="node-title">${c.cid} (${c.type})</text>
        ${c.others.map(
          (o, i) =>
            html`<text x=${W / 2} y=${CONN_H + 16 + i * 16} text-anchor="middle" class="muted-text"><a href=${`#/flows/${encodeURIComponent(o.flowId)}`}>${o.mode === 'load' ? '→' : '←'} ${o.flowId} (${o.fid})</a></text>`,
        )}
      </g>`,
    )}
  </svg>`;
}
