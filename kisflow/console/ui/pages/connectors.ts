import { useState } from 'preact/hooks';
import { useApi } from '../api.ts';
import { html } from '../html.ts';
import { t } from '../i18n.ts';
import { Loading, Problem } from '../widgets.ts';

interface ConnectorView {
  cid: string;
  cname: string;
  type: string;
  key: unknown;
  save: string[];
  load: string[];
  flows: string[];
  browsable: boolean;
}

function Items({ cid }: { cid: string }) {
  const [prefix, setPrefix] = useState('');
  const { data, error } = useApi<{ items: { key: string; sort: string; row: unknown }[]; next?: string }>(
    `/api/connectors/${encodeURIComponent(cid)}/items?limit=100${prefix ? `&key=${encodeURIComponent(prefix)}` : ''}`,
  );
  return html`<div data-testid=${`items-${cid}`}>
    <label>${t('keyPrefix')} <input data-testid="key-prefix" value=${prefix} onInput=${(e: Event) => setPrefix((e.target as HTMLInputElement).value)}/></label>
    <${Problem} error=${error}/>
    ${
      !data
        ? html`<${Loading}/>`
        : html`<table><thead><tr><th>${t('key')}</th><th>${t('sort')}</th><th>${t('row')}</th></tr></thead>
      <tbody>${data.items.map((i) => html`<tr data-key=${i.key}><td class="mono">${i.key}</td><td class="mono">${i.sort || '—'}</td><td class="mono small">${JSON.stringify(i.row)}</td></tr>`)}</tbody></table>
      ${data.next ? html`<p class="muted">${t('more')}…</p>` : ''}`
    }
  </div>`;
}

export function ConnectorsPage() {
  const { data, error } = useApi<ConnectorView[]>('/api/connectors', false);
  const [open, setOpen] = useState<string | undefined>();
  return html`<section data-testid="page-connectors">
    <h1>${t('connectors')}</h1>
    <${Problem} error=${error}/>
    ${
      !data
        ? html`<${Loading}/>`
        : data.map(
            (c) => html`<div class="panel" data-testid=${`connector-${c.cid}`}>
      <div class="panel-head"><h2>${c.cid} <small class="muted">${c.cname} · ${c.type}</small></h2>
        ${c.browsable ? html`<button data-testid=${`browse-${c.cid}`} onClick=${() => setOpen(open === c.cid ? undefined : c.cid)}>${t('browse')}</button>` : ''}</div>
      <p class="small">${t('key')}: <span class="mono">${JSON.stringify(c.key)}</span> · ${t('saves')}: ${c.save.join(', ') || '—'} · ${t('loads')}: ${c.load.join(', ') || '—'} · ${t('flows')}: ${c.flows.map((f) => html`<a href=${`#/flows/${encodeURIComponent(f)}`} class="chip">${f}</a>`)}</p>
      ${open === c.cid ? html`<${Items} cid=${c.cid}/>` : ''}
    </div>`,
          )
    }
  </section>`;
}
