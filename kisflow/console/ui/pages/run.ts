import { useState } from 'preact/hooks';
import { type ApiError, post, useApi } from '../api.ts';
import { html } from '../html.ts';
import { t } from '../i18n.ts';
import { Loading, ms, Problem, Status, time, usd } from '../widgets.ts';
import type { DeadLetterView } from './dead-letters.ts';
import type { RunView } from './runs.ts';

function RunLogs({ runId }: { runId: string }) {
  const { data } = useApi<{ available: boolean; lines: string[] }>(
    `/api/runs/${encodeURIComponent(runId)}/logs`,
  );
  return html`<div class="panel" data-testid="run-logs"><h2>${t('logs')}</h2>${
    !data
      ? html`<${Loading}/>`
      : !data.available
        ? html`<p class="muted">${t('logsNotAvailable')}</p>`
        : data.lines.length === 0
          ? html`<p class="muted">${t('none')}</p>`
          : html`<pre class="mono small">${data.lines.join('\n')}</pre>`
  }</div>`;
}

export function RunPage({ runId }: { runId: string }) {
  const { data, error, reload } = useApi<{ run: RunView; deadLetters: DeadLetterView[] }>(
    `/api/runs/${encodeURIComponent(runId)}`,
  );
  const [actionError, setActionError] = useState<ApiError | undefined>();
  const act = (what: 'cancel' | 'retry') => () => {
    setActionError(undefined);
    post(`/api/runs/${encodeURIComponent(runId)}/${what}`).then(reload, setActionError);
  };
  const run = data?.run;
  const widest = run ? Math.max(1, ...run.steps.map((s) => s.in + s.rejected)) : 1;
  // The timeline: each step's span from its first to its last batch, on the run's own clock.
  const start = run ? Date.parse(run.started) : 0;
  const end = run
    ? Math.max(
        start + 1,
        run.finished ? Date.parse(run.finished) : start,
        ...run.steps.map((s) => (s.timings ? Date.parse(s.timings.last_batch_at) : start)),
      )
    : 1;
  const at = (iso: string) => (100 * (Date.parse(iso) - start)) / (end - start);
  return html`<section data-testid="page-run">
    <h1>${t('run')} <span class="mono">${runId}</span></h1>
    <${Problem} error=${error}/><${Problem} error=${actionError}/>
    ${
      !run
        ? html`<${Loading}/>`
        : html`
      <div class="actions">
        <button data-testid="cancel-run" disabled=${run.status !== 'running'} onClick=${act('cancel')}>${t('cancel')}</button>
        <button data-testid="retry-run" onClick=${act('retry')}>${t('retry')}</button>
      </div>
      <dl class="facts">
        <dt>${t('status')}</dt><dd data-testid="run-status"><${Status} status=${run.status}/>${run.reason ? html` <span class="muted">${run.reason}</span>` : ''}</dd>
        <dt>${t('flow')}</dt><dd><a href=${`#/flows/${encodeURIComponent(run.flow)}`}>${run.flow}</a></dd>
        <dt>${t('job')}</dt><dd>${run.job ?? '—'}</dd>
        <dt>${t('trigger')}</dt><dd>${run.trigger}</dd>
        <dt>${t('started')}</dt><dd>${time(run.started)}</dd>
        <dt>${t('finished')}</dt><dd>${time(run.finished)}</dd>
        <dt>${t('duration')}</dt><dd>${ms(run.durationMs)}</dd>
        <dt>${t('batches')}</dt><dd>${run.batches.done} / ${run.batches.roots + run.batches.spawned} (${t('deadLettered')} ${run.batches.deadLettered})</dd>
        <dt>${t('params')}</dt><dd class="mono">${JSON.stringify(run.params)}</dd>
        <dt>${t('cost')}</dt><dd>${usd(run.cost.usd)} <span class="muted small">${run.cost.region}, ${run.cost.pricesAsOf}</span></dd>
        ${run.parent ? html`<dt>${t('parent')}</dt><dd><a href=${`#/runs/${encodeURIComponent(run.parent)}`} class="mono">${run.parent}</a></dd>` : ''}
      </dl>
      <div class="panel"><h2>${t('steps')}</h2>
        <table data-testid="run-steps"><thead><tr><th>${t('step')}</th><th>${t('fid')}</th><th class="num">${t('in')}</th><th class="num">${t('out')}</th><th class="num">${t('rejected')}</th><th class="num">${t('dropped')}</th><th class="num">${t('deadLettered')}</th><th class="num">${t('errors')}</th><th class="num">${t('batchesCol')}</th><th class="num">p95</th><th>${t('activity')}</th><th>${t('timeline')}</th></tr></thead>
        <tbody>${run.steps.map(
          (
            s,
          ) => html`<tr><td>${s.index}</td><td>${s.fid ?? '—'}</td><td class="num">${s.in}</td><td class="num">${s.out}</td><td class="num">${s.rejected}</td><td class="num">${s.dropped}</td><td class="num">${s.dead_lettered}</td><td class="num">${s.errors}</td><td class="num">${s.timings?.batches ?? '—'}</td><td class="num">${s.timings ? ms(s.timings.p95_ms) : '—'}</td>
          <td><div class="bar"><span class="bar-ok" style=${`width:${(100 * s.out) / widest}%`}></span><span class="bar-bad" style=${`width:${(100 * (s.rejected + s.dead_lettered)) / widest}%`}></span></div></td>
          <td>${
            s.timings
              ? html`<div class="bar" data-testid=${`timeline-${s.index}`} title=${`${s.timings.first_batch_at} → ${s.timings.last_batch_at}`}><span class="bar-ok" style=${`margin-left:${at(s.timings.first_batch_at)}%;width:${Math.max(1, at(s.timings.last_batch_at) - at(s.timings.first_batch_at))}%`}></span></div>`
              : '—'
          }</td></tr>`,
        )}</tbody></table>
      </div>
      <div class="panel"><h2>${t('rejectedRows')}</h2>
        ${
          data.deadLetters.length === 0
            ? html`<p class="muted">${t('none')}</p>`
            : html`<ul class="letters">${data.deadLetters.map(
                (d) => html`<li><b>${d.code}</b> ${t('step')} ${d.step} (${d.fid}): ${d.message}
                <ul>${d.samples.map((s) => html`<li class="mono small">${JSON.stringify(s.row)}${s.reason ? html` — ${s.reason}` : ''}</li>`)}</ul></li>`,
              )}</ul>`
        }
      </div>
      <${RunLogs} runId=${runId}/>`
    }
  </section>`;
}
