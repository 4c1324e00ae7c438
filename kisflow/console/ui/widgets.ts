import type { ApiError } from './api.ts';
import { html } from './html.ts';
import { statusText, t } from './i18n.ts';

export const pct = (r: number | null | undefined) =>
  r === null || r === undefined ? '—' : `${(r * 100).toFixed(1)}%`;

export function ms(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  if (n < 1000) return `${n} ms`;
  if (n < 120_000) return `${(n / 1000).toFixed(1)} s`;
  return `${Math.round(n / 60_000)} min`;
}

export const usd = (n: number) => (n === 0 ? '$0' : n < 0.01 ? `$${n.toPrecision(2)}` : `$${n.toFixed(2)}`);

export const time = (iso: string | null | undefined) =>
  iso ? new Date(iso).toLocaleString(undefined, { hour12: false }) : '—';

export function Status({ status }: { status: string }) {
  return html`<span class=${`status status-${status}`} data-status=${status} title=${status}>${statusText(status)}</span>`;
}

export function Problem({ error }: { error?: ApiError }) {
  if (!error) return null;
  return html`<div class="problem" role="alert" data-code=${error.code}><b>${error.code}</b> ${error.message}</div>`;
}

export function Loading() {
  return html`<p class="muted">${t('loading')}</p>`;
}

export function Card({ label, value, testid }: { label: string; value: unknown; testid?: string }) {
  return html`<div class="card" data-testid=${testid}><div class="card-value">${value}</div><div class="card-label">${label}</div></div>`;
}

export const json = (v: unknown) => JSON.stringify(v);
