import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { KisFlowError } from '../errors.ts';

/** Where the UI's sources are, and where their bundle goes (shipped in the package: no CDN). */
export const UI_DIR = join(import.meta.dirname, 'ui');
export const DIST_DIR = join(import.meta.dirname, 'dist');

export interface ConsoleAssets {
  readonly js: string;
  readonly css: string;
}

async function newest(dir: string): Promise<number> {
  let latest = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? await newest(path) : (await stat(path)).mtimeMs);
  }
  return latest;
}

async function builtAt(): Promise<number | undefined> {
  try {
    return (await stat(join(DIST_DIR, 'console.js'))).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * Bundles the UI (Preact, uPlot and the pages) into `dist/console.js` and `dist/console.css` with
 * esbuild. `npm pack` runs it (prepack), so an installed kisflow ships the bundle; in a clone it
 * runs on the first `kisflow console` (or test) after a UI source changed. Written to a temporary
 * folder and renamed, so two processes building at once never serve half a file.
 */
export async function buildConsoleAssets(): Promise<void> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch (error) {
    throw new KisFlowError(
      'CONSOLE_ASSETS_MISSING',
      `The console's UI bundle (${DIST_DIR}) is missing and esbuild is not installed to build it. Reinstall kisflow, or run \`npm install\` in its folder.`,
      { dist: DIST_DIR },
      { cause: error },
    );
  }
  // A name of its own: two builds may start in one process (test files in worker threads) at once.
  const temporary = `${DIST_DIR}.${randomUUID()}`;
  await mkdir(temporary, { recursive: true });
  try {
    await esbuild.build({
      entryPoints: { console: join(UI_DIR, 'main.ts') },
      bundle: true,
      minify: true,
      format: 'esm',
      target: 'es2020',
      outdir: temporary,
      logLevel: 'silent',
      legalComments: 'none',
    });
    // File by file: a rename replaces a file atomically, so a reader never finds the bundle gone,
    // and of two builds at once the last one's files win whole.
    await mkdir(DIST_DIR, { recursive: true });
    for (const file of await readdir(temporary)) await rename(join(temporary, file), join(DIST_DIR, file));
  } finally {
    await rm(temporary, { recursive: true, force: true });
  }
}

/** The bundle, built first when it is missing or older than a UI source. */
export async function consoleAssets(): Promise<ConsoleAssets> {
  for (let attempt = 0; ; attempt++) {
    const at = await builtAt();
    const sources = await newest(UI_DIR).catch(() => 0);
    if (at === undefined || (sources > 0 && sources > at)) await buildConsoleAssets();
    try {
      const [js, css] = await Promise.all([
        readFile(join(DIST_DIR, 'console.js'), 'utf8'),
        readFile(join(DIST_DIR, 'console.css'), 'utf8'),
      ]);
      return { js, css };
    } catch (error) {
      // Another process swapped in its build between ours and this read: read that one.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 3) throw error;
    }
  }
}
