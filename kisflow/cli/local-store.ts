import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UsageError } from '../errors.ts';
import { MemoryConnectorStore, MemoryStateStore } from '../memory/index.ts';
import { fsReason } from './jsonl.ts';

/**
 * The connector store and keyed state `kisflow run` keeps between runs (`.kisflow/store.json`), so
 * a later run of another flow Loads what an earlier one saved, as it would from DynamoDB.
 *
 * A run holds `<file>.lock` from reading the store to writing it back: a second run on the same
 * file waits for it rather than both reading the old store and the later write erasing the
 * earlier run's saves. The store is replaced by a rename, so a crash mid-write leaves the old one.
 */
export interface LocalStore {
  readonly connectors: MemoryConnectorStore;
  readonly state: MemoryStateStore;
  /** Writes the store (temp file, fsync, rename). @throws UsageError `STORE_UNWRITABLE` */
  save(): Promise<void>;
  /** Gives the lock up; the store is not written. */
  release(): Promise<void>;
}

export interface OpenLocalStoreOptions {
  /** Start empty instead of reading the file. */
  readonly fresh?: boolean;
  /** How long to wait for another run's lock before refusing. @default 60000 */
  readonly waitMs?: number;
  /** Told once when the store is in use and this run waits. */
  readonly onWait?: (message: string) => void;
}

export async function openLocalStore(file: string, options: OpenLocalStoreOptions = {}): Promise<LocalStore> {
  const lock = `${file}.lock`;
  await acquire(file, lock, options);
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await rm(lock, { force: true });
  };
  try {
    const { connectors, state } = options.fresh ? empty() : await read(file);
    return {
      connectors,
      state,
      async save() {
        await write(file, JSON.stringify({ connectors: connectors.snapshot(), state: state.snapshot() }));
      },
      release,
    };
  } catch (e) {
    await release();
    throw e;
  }
}

function empty() {
  return { connectors: new MemoryConnectorStore(), state: new MemoryStateStore() };
}

async function read(file: string) {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return empty();
    throw new UsageError('STORE_UNREADABLE', `cannot read the local store ${file}: ${fsReason(e)}`);
  }
  try {
    const saved = JSON.parse(text) as { connectors?: unknown; state?: unknown };
    return {
      connectors: MemoryConnectorStore.restore(saved.connectors),
      state: MemoryStateStore.restore(saved.state),
    };
  } catch (e) {
    throw new UsageError(
      'STORE_UNREADABLE',
      `the local store ${file} is not usable (${(e as Error).message}); run with --fresh to start empty`,
    );
  }
}

async function write(file: string, text: string): Promise<void> {
  const partial = `${file}.${process.pid}.tmp`;
  try {
    await mkdir(dirname(file), { recursive: true });
    const handle = await open(partial, 'w');
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(partial, file);
  } catch (e) {
    await rm(partial, { force: true }).catch(() => {});
    throw new UsageError('STORE_UNWRITABLE', `cannot write the local store ${file}: ${fsReason(e)}`, {
      file,
    });
  }
}

/** The pid in a lock file, or undefined when it is unreadable (being written, or garbage). */
async function holderOf(lock: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(await readFile(lock, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function olderThan(file: string, ms: number): Promise<boolean> {
  try {
    return Date.now() - (await stat(file)).mtimeMs > ms;
  } catch {
    return true;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function acquire(file: string, lock: string, options: OpenLocalStoreOptions): Promise<void> {
  const deadline = Date.now() + (options.waitMs ?? 60_000);
  let told = false;
  for (let madeDir = false; ; ) {
    try {
      const handle = await open(lock, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && !madeDir) {
        madeDir = true;
        await mkdir(dirname(lock), { recursive: true }).catch(() => {});
        continue;
      }
      if (code !== 'EEXIST') {
        throw new UsageError('STORE_UNWRITABLE', `cannot lock the local store ${file}: ${fsReason(e)}`, {
          file,
        });
      }
    }
    const holder = await holderOf(lock);
    // A run that died (SIGKILL, power cut) leaves its lock behind: nobody holds it any more. One
    // that died between creating the lock and writing its pid left it empty, and long ago.
    if (holder === undefined ? await olderThan(lock, 5_000) : !isAlive(holder)) {
      await rm(lock, { force: true });
      continue;
    }
    if (Date.now() >= deadline) {
      throw new UsageError(
        'STORE_LOCKED',
        `the local store ${file} is in use by another kisflow run${holder ? ` (pid ${holder})` : ''}; wait for it to finish, or give this run its own --store`,
        { file, ...(holder ? { pid: holder } : {}) },
      );
    }
    if (!told) {
      told = true;
      options.onWait?.(
        `kisflow: waiting for the local store ${file}, in use by another kisflow run${holder ? ` (pid ${holder})` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
