import { useEffect } from 'preact/hooks';
import { useApi } from '../api.ts';
import { FlowGraph, type GraphConnector, type GraphStep } from '../flow-graph.ts';
import { html } from '../html.ts';
import { t } from '../i18n.ts';
import { Figure, type StepFigure } from '../step-figure.ts';
import { Loading, Problem } from '../widgets.ts';

interface FlowView {
  flowId: string;
  flowName: string;
  steps: (GraphStep & {
    fname: string;
    deadLettered: number;
    figures: { oldestAge: StepFigure; p95: StepFigure };
  })[];
  connectors: (GraphConnector & { cname: string })[];
  jobs: { jobId: string; schedule: string }[];
}

const AGE_REFRESH_MS = 5_000;

export function FlowPage({ flowId }: { flowId: string }) {
  const { data, error, reload } = useApi<FlowView>(`/api/flows/${encodeURIComponent(flowId)}`);
  // A waiting message ages with no change the event stream would report: read again while one waits.
  const waiting = data?.steps.some((s) => (s.oldestAgeMs ?? 0) > 0) ?? false;
  useEffect(() => {
    if (!waiting) return;
    const timer = setInterval(reload, AGE_REFRESH_MS);
    return () => clearInterval(timer);
  }, [waiting, reload]);
  return html`<section data-testid="page-flow">
    <h1>${t('flow')}: ${flowId}${data ? html` <small class="muted">${data.flowName}</small>` : ''}</h1>
    <${Problem} error=${error}/>
    ${
      !data
        ? html`<${Loading}/>`
        : html`
      ${data.jobs.length > 0 ? html`<p class="muted">${t('jobs')}: ${data.jobs.map((j) => html`<a href="#/jobs" class="chip">${j.jobId} · ${j.schedule}</a>`)}</p>` : ''}
      <div class="panel scroll"><${FlowGraph} steps=${data.steps} connectors=${data.connectors}/></div>
      <div class="panel"><table data-testid="flow-steps"><thead><tr>
        <th>${t('step')}</th><th>${t('fid')}</th><th>${t('mode')}</th><th>${t('connector')}</th>
        <th class="num">${t('in')}</th><th class="num">${t('out')}</th><th class="num">${t('rejected')}</th><th class="num">${t('deadLettered')}</th><th class="num">${t('errors')}</th>
        <th class="num">${t('backlog')}</th><th class="num">${t('dlq')}</th><th class="num">${t('oldestAge')}</th><th class="num">${t('p95')}</th></tr></thead>
        <tbody>${data.steps.map(
          (
            s,
          ) => html`<tr><td>${s.index}</td><td title=${s.fname}>${s.fid}</td><td><span class=${`mode-pill mode-${s.mode}`}>${s.mode}</span></td><td>${s.cid ?? '—'}</td>
          <td class="num">${s.in}</td><td class="num">${s.out}</td><td class="num">${s.rejected}</td><td class="num">${s.deadLettered}</td><td class="num">${s.errors}</td>
          <td class="num">${s.backlog}</td><td class="num">${s.dlq > 0 ? html`<a href="#/dead-letters">${s.dlq}</a>` : 0}</td><td class="num"><${Figure} figure=${s.figures.oldestAge} testid=${`oldest-age-${s.index}`}/></td><td class="num"><${Figure} figure=${s.figures.p95} testid=${`p95-${s.index}`}/></td></tr>`,
        )}</tbody></table>
        <p class="muted small">${t('in')}/${t('out')}/${t('errors')}: runs of the last 24 h · ${t('backlog')}/${t('dlq')}/${t('oldestAge')}: now · ${t('p95')}: ${t('p95Window')}</p>
      </div>`
    }
  </section>`;
}
