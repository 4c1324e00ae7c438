import { useState } from 'preact/hooks';
import { type ApiError, post, useApi } from '../api.ts';
import { html } from '../html.ts';
import { t } from '../i18n.ts';
import { Loading, Problem } from '../widgets.ts';

export interface DeadLetterView {
  flowId: string;
  step: number;
  fid: string | null;
  messageId: string;
  code: string;
  message: string;
  rows: number;
  receivedCount: number;
  runId: string | null;
  samples: { row: unknown; code?: string; reason?: string }[];
}

/** Not live: listing a DLQ receives its messages (briefly), so it is read on demand only. */
export function DeadLettersPage() {
  const { data, error, reload } = useApi<DeadLetterView[]>('/api/dead-letters', false);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [result, setResult] = useState<string | undefined>();
  const [actionError, setActionError] = useState<ApiError | undefined>();
  const toggle = (id: string) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  };
  const redrive = async () => {
    setActionError(undefined);
    const byFlow = new Map<string, Map<number, string[]>>();
    for (const d of data ?? []) {
      if (!selected.has(d.messageId)) continue;
      const steps = byFlow.get(d.flowId) ?? new Map<number, string[]>();
      steps.set(d.step, [...(steps.get(d.step) ?? []), d.messageId]);
      byFlow.set(d.flowId, steps);
    }
    try {
      let moved = 0;
      for (const [flow, steps] of byFlow) {
        const r = await post<{ moved: number }>(`/api/dead-letters/${encodeURIComponent(flow)}/redrive`, {
          selected: [...steps].map(([step, messageIds]) => ({ step, messageIds })),
        });
        moved += r.moved;
      }
      setResult(`${moved} ${t('moved')}`);
      setSelected(new Set());
      reload();
    } catch (e) {
      setActionError(e as ApiError);
    }
  };
  return html`<section data-testid="page-dead-letters">
    <h1>${t('deadLetters')}</h1>
    <div class="actions">
      <button data-testid="refresh-dead-letters" onClick=${reload}>${t('refresh')}</button>
      <button data-testid="select-all" onClick=${() => setSelected(new Set((data ?? []).map((d) => d.messageId)))}>${t('selectAll')}</button>
      <button class="primary" data-testid="redrive" disabled=${selected.size === 0} onClick=${redrive}>${t('redriveSelected')} (${selected.size})</button>
      ${result ? html`<span data-testid="redrive-result">${result}</span>` : ''}
    </div>
    <${Problem} error=${error}/><${Problem} error=${actionError}/>
    ${
      !data
        ? html`<${Loading}/>`
        : data.length === 0
          ? html`<p class="muted" data-testid="no-dead-letters">${t('noDeadLetters')}</p>`
          : html`<div class="panel"><table data-testid="dead-letters-table"><thead><tr><th></th><th>${t('flow')}</th><th>${t('step')}</th><th>${t('code')}</th><th>${t('message')}</th><th class="num">${t('rows')}</th><th class="num">${t('received')}</th><th>${t('run')}</th><th>${t('samples')}</th></tr></thead>
        <tbody>${data.map(
          (
            d,
          ) => html`<tr data-message=${d.messageId}><td><input type="checkbox" data-testid="pick" checked=${selected.has(d.messageId)} onChange=${() => toggle(d.messageId)}/></td>
          <td><a href=${`#/flows/${encodeURIComponent(d.flowId)}`}>${d.flowId}</a></td><td>${d.step} ${d.fid ?? ''}</td><td><b>${d.code}</b></td><td>${d.message}</td><td class="num">${d.rows}</td><td class="num">${d.receivedCount}</td>
          <td>${d.runId ? html`<a class="mono small" href=${`#/runs/${encodeURIComponent(d.runId)}`}>${d.runId}</a>` : '—'}</td>
          <td>${d.samples.map((s) => html`<div class="mono small">${JSON.stringify(s.row)}${s.reason ? html` <span class="muted">— ${s.reason}</span>` : ''}</div>`)}</td></tr>`,
        )}</tbody></table></div>`
    }
  </section>`;
}
