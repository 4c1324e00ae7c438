import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { useApi, watchChanges } from './api.ts';
import { html } from './html.ts';
import { initialLang, lang, onLangChange, setLang, t } from './i18n.ts';
import { ConfigPage } from './pages/config.ts';
import { ConnectorsPage } from './pages/connectors.ts';
import { DeadLettersPage } from './pages/dead-letters.ts';
import { FlowPage } from './pages/flow.ts';
import { JobsPage } from './pages/jobs.ts';
import { OverviewPage } from './pages/overview.ts';
import { RunPage } from './pages/run.ts';
import { RunsPage } from './pages/runs.ts';
import './styles.css';

interface Meta {
  source: string;
  prefix: string;
  dir: string;
  flows: { flowId: string; enabled: boolean; modes: string }[];
  configProblems: number;
  jobs: string[];
}

function useRoute(): string[] {
  const read = () => location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent).filter(Boolean);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

function App() {
  const route = useRoute();
  const [, redraw] = useState(0);
  const [live, setLive] = useState(false);
  useEffect(() => onLangChange(() => redraw((n) => n + 1)), []);
  useEffect(() => watchChanges(setLive), []);
  const { data: meta } = useApi<Meta>('/api/meta');
  const flows = (meta?.flows ?? []).filter((f) => f.enabled);
  const [page = 'overview', arg] = route;
  const nav = (href: string, key: Parameters<typeof t>[0], active: boolean) =>
    html`<a href=${href} class=${active ? 'active' : ''} data-testid=${`nav-${key}`}>${t(key)}</a>`;
  const body =
    page === 'flows' && arg
      ? html`<${FlowPage} key=${arg} flowId=${arg}/>`
      : page === 'runs' && arg
        ? html`<${RunPage} key=${arg} runId=${arg}/>`
        : page === 'runs'
          ? html`<${RunsPage} flows=${flows.map((f) => f.flowId)} jobs=${meta?.jobs ?? []}/>`
          : page === 'jobs'
            ? html`<${JobsPage}/>`
            : page === 'dead-letters'
              ? html`<${DeadLettersPage}/>`
              : page === 'connectors'
                ? html`<${ConnectorsPage}/>`
                : page === 'config'
                  ? html`<${ConfigPage}/>`
                  : html`<${OverviewPage}/>`;
  return html`<div class="layout" lang=${lang()}>
    <nav class="side">
      <div class="brand">KisFlow</div>
      ${nav('#/', 'overview', page === 'overview')}
      <div class="nav-group">${t('flows')}</div>
      ${flows.map(
        (f) =>
          html`<a href=${`#/flows/${encodeURIComponent(f.flowId)}`} class=${page === 'flows' && arg === f.flowId ? 'active sub' : 'sub'} data-testid=${`nav-flow-${f.flowId}`}>${f.flowId} <span class="muted mono">${f.modes}</span></a>`,
      )}
      ${nav('#/runs', 'runs', page === 'runs')}
      ${nav('#/jobs', 'jobs', page === 'jobs')}
      ${nav('#/dead-letters', 'deadLetters', page === 'dead-letters')}
      ${nav('#/connectors', 'connectors', page === 'connectors')}
      <a href="#/config" class=${page === 'config' ? 'active' : ''} data-testid="nav-config">${t('config')}${meta && meta.configProblems > 0 ? html` <span class="badge">${meta.configProblems}</span>` : ''}</a>
      <div class="side-foot">
        <button data-testid="lang-switch" onClick=${() => setLang(lang() === 'zh' ? 'en' : 'zh')}>${t('language')}</button>
        <div class="muted small"><span class=${live ? 'dot on' : 'dot'}></span>${t('live')} · ${meta ? `${meta.source} · ${meta.prefix}` : ''}</div>
      </div>
    </nav>
    <main>${body}</main>
  </div>`;
}

setLang(initialLang());
render(html`<${App}/>`, document.getElementById('app') as HTMLElement);
