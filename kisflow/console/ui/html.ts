/// <reference lib="dom" />
import htm from 'htm';
import { h } from 'preact';

/** JSX-free templates (no build step of their own, no tsconfig change): html`<p>${x}</p>`. */
export const html = htm.bind(h);
