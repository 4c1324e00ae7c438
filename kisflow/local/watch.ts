import { type FSWatcher, watch } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import type { ProjectConfig } from '../config/model.ts';

export interface WatchOptions {
  /** The flows directory: every YAML file under it. */
  readonly dir: string;
  /** The project now loaded: the folders of its function modules are watched too. */
  readonly project: () => ProjectConfig;
  /** Called once per burst of changes (an editor's save is often several events). */
  readonly onChange: (file: string) => void;
  readonly onError: (error: unknown) => void;
  /** Quiet time that ends a burst. @default 150 */
  readonly debounceMs?: number;
}

export interface ProjectWatcher {
  /** Watches the folders of the project now loaded (after a reload). */
  refresh(): void;
  close(): void;
}

const WATCHED = new Set(['.yml', '.yaml', '.ts', '.mts', '.js', '.mjs', '.json']);

/**
 * Watches the flows directory (recursively) and the folder of each function module, and reports a
 * changed YAML or module file. `refresh()` after a reload watches the folders of new functions.
 * Modules a function imports from other folders are not watched.
 *
 * @example
 * const watcher = watchProject({ dir: 'flows', project: () => current, onChange: reload, onError: log });
 */
export function watchProject(options: WatchOptions): ProjectWatcher {
  const { debounceMs = 150 } = options;
  const watchers = new Map<string, FSWatcher>();
  let timer: NodeJS.Timeout | undefined;
  let changed: string | undefined;
  let closed = false;

  const folders = (): Map<string, boolean> => {
    const wanted = new Map<string, boolean>([[resolve(options.dir), true]]);
    const project = options.project();
    for (const func of project.funcs.values()) {
      const folder = dirname(resolve(project.root, func.handler));
      if (!wanted.has(folder)) wanted.set(folder, false);
    }
    return wanted;
  };

  const sync = () => {
    const wanted = folders();
    for (const [folder, w] of watchers) {
      if (!wanted.has(folder)) {
        w.close();
        watchers.delete(folder);
      }
    }
    for (const [folder, recursive] of wanted) {
      if (watchers.has(folder)) continue;
      try {
        const w = watch(folder, { recursive, persistent: false }, (_event, name) => {
          if (name === null || !WATCHED.has(extname(String(name)))) return;
          changed = join(folder, String(name));
          clearTimeout(timer);
          timer = setTimeout(fire, debounceMs);
        });
        w.on('error', options.onError);
        watchers.set(folder, w);
      } catch (err) {
        options.onError(err);
      }
    }
  };

  const fire = () => {
    if (closed || changed === undefined) return;
    const file = changed;
    changed = undefined;
    options.onChange(file);
  };

  sync();
  return {
    refresh: () => {
      if (!closed) sync();
    },
    close() {
      closed = true;
      clearTimeout(timer);
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}
