import { useState } from 'preact/hooks';
import { useApi } from '../api.ts';
import { html } from '../html.ts';
import { statusText, t } from '../i18n.ts';
import { Loading, ms, Problem, Status, time, usd } from '../widgets.ts';

export interface RunView {
  id: string;
  flow: string;
  job: string | null;
  trigger: string;
  status: string;
  started: string;
  finished: string | null;
  params: Record<string, unknown>;
  steps: {
    index: number;
    fid: string | null;
    in: number;
    out: number;
    rejected: number;
    dropped: number;
    dead_lettered: number;
    errors: number;
    /** ISO times and ms (`runs show --json`); null before a timed batch. */
    timings: {
      first_batch_at: string;
      last_batch_at: string;
      batches: number;
      total_ms: number;
      p95_ms: number;
    } | null;
  }[];
  reason: string | null;
  parent: string | null;
  durationMs: number;
  rows: number;
  batches: { roots: number; spawned: number; done: number; deadLettered: number };
  cost: { usd: number; region: string; pricesAsOf: string };
}

const STATUSES = ['running', 'succeeded', 'failed', 'partial', 'timed_out', 'cancelled', 'skipped'];
const TRIGGERS = ['schedule', 'manual', 'api', 'retry', 'child', 'misfire'];

export function RunsTable({ runs }: { runs: readonly RunView[] }) {
  if (runs.length === 0) return html`<p class="muted">${t('noRuns')}</p>`;
  return html`<table data-testid="runs-table"><thead><tr><th>${t('run')}</th><th>${t('flow')}</th><th>${t('job')}</th><th>${t('trigger')}</th><th>${t('status')}</th><th>${t('started')}</th><th class="num">${t('duration')}</th><th class="num">${t('rows')}</th><th class="num">${t('cost')}</th></tr></thead>
  <tbody>${runs.map(
    (r) =>
      html`<tr data-run=${r.id}><td><a href=${`#/runs/${encodeURIComponent(r.id)}`} class="mono">${r.id}</a></td><td>${r.flow}</td><td>${r.job ?? '—'}</td><td>${r.trigger}</td><td><${Status} status=${r.status}/></td><td>${time(r.started)}</td><td class="num">${ms(r.durationMs)}</td><td class="num">${r.rows}</td><td class="num">${usd(r.cost.usd)}</td></tr>`,
  )}</tbody></table>`;
}

function Select({
  id,
  name,
  value,
  options,
  onChange,
}: {
  id: string;
  name: string;
  value: string;
  options: readonly string[];
  onChange(v: string): void;
}) {
  return html`<label>${name} <select data-testid=${`filter-${id}`} value=${value} onChange=${(e: Event) => onChange((e.target as HTMLSelectElement).value)}>
    <option value="">${t('any')}</option>${options.map((o) => html`<option value=${o}>${STATUSES.includes(o) ? statusText(o) : o}</option>`)}
  </select></label>`;
}

export function RunsPage({ flows, jobs }: { flows: readonly string[]; jobs: readonly string[] }) {
  const [filters, setFilters] = useState({ flow: '', job: '', status: '', trigger: '', since: '7d' });
  const query = new URLSearchParams(Object.entries(filters).filter(([, v]) => v !== '')).toString();
  const { data, error } = useApi<RunView[]>(`/api/runs?${query}`);
  const set = (k: keyof typeof filters) => (v: string) => setFilters({ ...filters, [k]: v });
  return html`<section data-testid="page-runs">
    <h1>${t('runs')}</h1>
    <div class="filters">
      <${Select} id="flow" name=${t('flow')} value=${filters.flow} options=${flows} onChange=${set('flow')}/>
      <${Select} id="job" name=${t('job')} value=${filters.job} options=${jobs} onChange=${set('job')}/>
      <${Select} id="status" name=${t('status')} value=${filters.status} options=${STATUSES} onChange=${set('status')}/>
      <${Select} id="trigger" name=${t('trigger')} value=${filters.trigger} options=${TRIGGERS} onChange=${set('trigger')}/>
      <label>${t('since')} <select data-testid="filter-since" value=${filters.since} onChange=${(e: Event) => set('since')((e.target as HTMLSelectElement).value)}>
        ${['1h', '24h', '7d', '30d'].map((s) => html`<option value=${s}>${s}</option>`)}</select></label>
    </div>
    <${Problem} error=${error}/>
    ${data ? html`<div class="panel"><${RunsTable} runs=${data}/></div>` : html`<${Loading}/>`}
  </section>`;
}
