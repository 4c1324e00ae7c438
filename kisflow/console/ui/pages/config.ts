import { useApi } from '../api.ts';
import { html } from '../html.ts';
import { t } from '../i18n.ts';
import { Loading, Problem } from '../widgets.ts';

interface Issue {
  file: string | null;
  line: number | null;
  col: number | null;
  message: string;
}

interface ConfigView {
  dir: string;
  files: { file: string; text: string }[];
  issues: Issue[];
  flows: { flowId: string; flowName: string; enabled: boolean; modes: string; steps: number }[];
  funcs: { fid: string; fname: string; fmode: string; handler: string; cid: string | null }[];
  jobs: { jobId: string; flowId: string; schedule: string; timezone: string }[];
}

const where = (i: Issue) =>
  i.file === null ? '' : `${i.file}${i.line === null ? '' : `:${i.line}:${i.col ?? 1}`}`;

/** A YAML file with each problem shown under the line it is about. */
function File({ file, text, issues }: { file: string; text: string; issues: Issue[] }) {
  const lines = text.split('\n');
  return html`<div class="panel" data-testid=${`file-${file}`}><h3 class="mono">${file}</h3><pre class="yaml">${lines.map(
    (line, n) => {
      const here = issues.filter((i) => i.line === n + 1);
      return html`<div class=${here.length > 0 ? 'line bad' : 'line'}><span class="ln">${n + 1}</span>${line}</div>${here.map(
        (i) =>
          html`<div class="issue" data-testid="issue-in-place">${' '.repeat(Math.max(0, (i.col ?? 1) - 1) + 5)}^ ${i.message}</div>`,
      )}`;
    },
  )}</pre></div>`;
}

export function ConfigPage() {
  const { data, error } = useApi<ConfigView>('/api/config');
  return html`<section data-testid="page-config">
    <h1>${t('config')} <small class="muted mono">${data?.dir ?? ''}</small></h1>
    <${Problem} error=${error}/>
    ${
      !data
        ? html`<${Loading}/>`
        : html`
      <div class="panel"><h2>${t('problems')}</h2>
        ${data.issues.length === 0 ? html`<p data-testid="no-problems">${t('noProblems')}</p>` : html`<ul class="issues" data-testid="problems">${data.issues.map((i) => html`<li class="mono"><b>${where(i)}</b> ${i.message}</li>`)}</ul>`}
      </div>
      <div class="grid2">
        <div class="panel"><h2>${t('flows')}</h2><table><tbody>${data.flows.map((f) => html`<tr><td><a href=${`#/flows/${encodeURIComponent(f.flowId)}`}>${f.flowId}</a></td><td class="mono">${f.modes}</td><td>${f.enabled ? '' : 'off'}</td></tr>`)}</tbody></table></div>
        <div class="panel"><h2>${t('jobs')}</h2><table><tbody>${data.jobs.map((j) => html`<tr><td>${j.jobId}</td><td>${j.flowId}</td><td class="mono">${j.schedule}</td><td>${j.timezone}</td></tr>`)}</tbody></table></div>
      </div>
      <div class="panel"><h2>${t('functions')}</h2><table><thead><tr><th>${t('fid')}</th><th>${t('mode')}</th><th>${t('connector')}</th><th>${t('handler')}</th></tr></thead><tbody>${data.funcs.map((f) => html`<tr><td title=${f.fname}>${f.fid}</td><td>${f.fmode}</td><td>${f.cid ?? '—'}</td><td class="mono small">${f.handler}</td></tr>`)}</tbody></table></div>
      <h2>${t('files')}</h2>
      ${data.files.map((f) => html`<${File} file=${f.file} text=${f.text} issues=${data.issues.filter((i) => i.file === f.file)}/>`)}`
    }
  </section>`;
}
