import { useState } from 'preact/hooks';
import { useApi } from '../api.ts';
import { type Day, DayChart } from '../day-chart.ts';
import { html } from '../html.ts';
import { t } from '../i18n.ts';
import { Card, Loading, Problem, pct, Status } from '../widgets.ts';

interface Overview {
  flows: number;
  jobs: number;
  runs24h: { total: number; byStatus: Record<string, number> };
  successRatio24h: number | null;
  successRatio: number | null;
  days: Day[];
  rowsPerStep: { flow: string; step: number; fid: string; in: number; out: number; rejected: number }[];
  deadLetters: number;
  streams: {
    flowId: string;
    source: string;
    rowsPerMinute: number;
    lag: { metric: 'iterator_age_ms' | 'offset_lag_records' | 'oldest_message_age_ms'; value: number } | null;
  }[];
}

// runs/stream-stats.ts's lagText again: the UI bundle imports nothing of the project outside ui/.
function lagText(lag: Overview['streams'][number]['lag']): string {
  if (lag === null) return '-';
  if (lag.metric === 'offset_lag_records') return `${lag.value} records`;
  return lag.value < 1000 ? `${lag.value}ms` : `${(lag.value / 1000).toFixed(1)}s`;
}

export function OverviewPage() {
  const [days, setDays] = useState(7);
  const { data, error } = useApi<Overview>(`/api/overview?days=${days}`);
  return html`<section data-testid="page-overview">
    <h1>${t('overview')}</h1>
    <${Problem} error=${error}/>
    ${
      !data
        ? html`<${Loading}/>`
        : html`
      <div class="cards">
        <${Card} label=${t('flowsCount')} value=${data.flows} testid="card-flows"/>
        <${Card} label=${t('jobsCount')} value=${data.jobs} testid="card-jobs"/>
        <${Card} label=${t('runs24h')} value=${data.runs24h.total} testid="card-runs"/>
        <${Card} label=${t('successRatio24h')} value=${pct(data.successRatio24h)} testid="card-success-24h"/>
        <${Card} label=${`${t('successRatio')} (${days === 7 ? t('days7') : t('days30')})`} value=${pct(data.successRatio)} testid="card-success"/>
        <${Card} label=${t('deadLettersWaiting')} value=${html`<a href="#/dead-letters">${data.deadLetters}</a>`} testid="card-dead-letters"/>
      </div>
      <p class="statuses">${Object.entries(data.runs24h.byStatus).map(([s, n]) => html`<span><${Status} status=${s}/> ${n}</span>`)}</p>
      <div class="panel">
        <div class="panel-head"><h2>${t('runsPerDay')}</h2>
          <div class="seg">
            <button class=${days === 7 ? 'on' : ''} data-testid="days-7" onClick=${() => setDays(7)}>${t('days7')}</button>
            <button class=${days === 30 ? 'on' : ''} data-testid="days-30" onClick=${() => setDays(30)}>${t('days30')}</button>
          </div>
        </div>
        <${DayChart} days=${data.days}/>
      </div>
      <div class="panel"><h2>${t('rowsPerStep')}</h2>
        <table><thead><tr><th>${t('flow')}</th><th>${t('step')}</th><th>${t('fid')}</th><th class="num">${t('in')}</th><th class="num">${t('out')}</th><th class="num">${t('rejected')}</th></tr></thead>
        <tbody>${data.rowsPerStep.map(
          (r) =>
            html`<tr><td><a href=${`#/flows/${encodeURIComponent(r.flow)}`}>${r.flow}</a></td><td>${r.step}</td><td>${r.fid}</td><td class="num">${r.in}</td><td class="num">${r.out}</td><td class="num">${r.rejected}</td></tr>`,
        )}</tbody></table>
      </div>
      ${
        data.streams.length === 0
          ? null
          : html`<div class="panel" data-testid="streams"><h2>${t('streams')}</h2>
        <table><thead><tr><th>${t('flow')}</th><th>${t('source')}</th><th class="num">${t('rowsPerMinute')}</th><th class="num">${t('lag')}</th></tr></thead>
        <tbody>${data.streams.map(
          (s) =>
            html`<tr><td><a href=${`#/flows/${encodeURIComponent(s.flowId)}`}>${s.flowId}</a></td><td>${s.source}</td><td class="num">${s.rowsPerMinute}</td><td class="num">${lagText(s.lag)}</td></tr>`,
        )}</tbody></table>
      </div>`
      }`
    }
  </section>`;
}
