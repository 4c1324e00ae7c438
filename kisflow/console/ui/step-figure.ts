import { html } from './html.ts';
import { type MessageKey, t } from './i18n.ts';
import { ms } from './widgets.ts';

/** A per-step figure as the console server sends it (kisflow/console/figures/figure.ts). */
export interface StepFigure {
  readonly value: number | null;
  readonly note: MessageKey;
  readonly detail?: string;
}

/** What the figure is, or why it is unknown: the tooltip. */
export function figureTitle(f: StepFigure | undefined): string {
  if (f === undefined) return '';
  return t(f.note).replace('{n}', f.detail ?? '?');
}

/** The figure with its unit, its tooltip saying where it comes from ("—" when unknown). */
export function Figure({ figure, testid }: { figure: StepFigure; testid?: string }) {
  return html`<span class="figure" title=${figureTitle(figure)} data-testid=${testid} data-note=${figure.note}>${ms(figure.value)}</span>`;
}
