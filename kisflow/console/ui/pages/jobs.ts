import { useState } from 'preact/hooks';
import { type ApiError, post, useApi } from '../api.ts';
import { html } from '../html.ts';
import { t } from '../i18n.ts';
import { Loading, Problem, pct, Status, time } from '../widgets.ts';
import type { RunView } from './runs.ts';

interface JobView {
  job: string;
  flow: string;
  schedule: string;
  timezone: string;
  state: string;
  scene: string | null;
  next: string | null;
  lastRun: { id: string; status: string; started: string } | null;
  successRatio: number | null;
  params: Record<string, unknown>;
  nextFires: string[];
  recent: RunView[];
}

function JobCard({ job, onDone }: { job: JobView; onDone(): void }) {
  const [params, setParams] = useState('');
  const [error, setError] = useState<ApiError | undefined>();
  const [started, setStarted] = useState<string | undefined>();
  const id = encodeURIComponent(job.job);
  const trigger = () => {
    setError(undefined);
    const lines = params
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '');
    post<{ runId: string; message: string }>(`/api/jobs/${id}/trigger`, { params: lines }).then((r) => {
      setStarted(r.runId);
      onDone();
    }, setError);
  };
  const action = (what: 'pause' | 'resume') => () => {
    setError(undefined);
    post(`/api/jobs/${id}/${what}`).then(onDone, setError);
  };
  return html`<div class="panel job" data-testid=${`job-${job.job}`}>
    <div class="panel-head"><h2>${job.job} <small class="muted">→ <a href=${`#/flows/${encodeURIComponent(job.flow)}`}>${job.flow}</a></small></h2><${Status} status=${job.state}/></div>
    <dl class="facts">
      <dt>${t('schedule')}</dt><dd class="mono">${job.schedule}</dd>
      <dt>${t('timezone')}</dt><dd>${job.timezone}</dd>
      <dt>${t('successRatio')}</dt><dd data-testid="job-success">${pct(job.successRatio)}</dd>
      <dt>${t('lastRun')}</dt><dd>${job.lastRun ? html`<a href=${`#/runs/${encodeURIComponent(job.lastRun.id)}`}><${Status} status=${job.lastRun.status}/></a> ${time(job.lastRun.started)}` : '—'}</dd>
      <dt>${t('params')}</dt><dd class="mono">${JSON.stringify(job.params)}</dd>
      <dt>${t('nextFires')}</dt><dd><ol class="fires" data-testid="next-fires">${job.nextFires.map((f) => html`<li class="mono">${f}</li>`)}</ol></dd>
    </dl>
    <div class="actions">
      <textarea data-testid="trigger-params" rows="2" placeholder=${t('paramsHint')} value=${params} onInput=${(e: Event) => setParams((e.target as HTMLTextAreaElement).value)}></textarea>
      <button class="primary" data-testid="trigger" onClick=${trigger}>${t('triggerNow')}</button>
      <button data-testid="pause" onClick=${action('pause')}>${t('pause')}</button>
      <button data-testid="resume" onClick=${action('resume')}>${t('resume')}</button>
    </div>
    ${started ? html`<p data-testid="triggered">${t('startedRun')} <a href=${`#/runs/${encodeURIComponent(started)}`} class="mono">${started}</a></p>` : ''}
    <${Problem} error=${error}/>
    <h3>${t('recentRuns')}</h3>
    ${job.recent.length === 0 ? html`<p class="muted">${t('noRuns')}</p>` : html`<ul class="recent">${job.recent.map((r) => html`<li><a href=${`#/runs/${encodeURIComponent(r.id)}`}><${Status} status=${r.status}/></a> <span class="mono small">${r.id}</span> ${time(r.started)}</li>`)}</ul>`}
  </div>`;
}

export function JobsPage() {
  const { data, error, reload } = useApi<JobView[]>('/api/jobs');
  return html`<section data-testid="page-jobs">
    <h1>${t('jobs')}</h1>
    <${Problem} error=${error}/>
    ${!data ? html`<${Loading}/>` : data.map((job) => html`<${JobCard} key=${job.job} job=${job} onDone=${reload}/>`)}
  </section>`;
}
