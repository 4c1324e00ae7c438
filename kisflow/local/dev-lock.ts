import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.ts';
import { isProcessAlive } from './dev-endpoints.ts';

/** The lock that keeps a second `kisflow dev` out of a folder whose `.kisflow/dev/` one is using. */
export interface DevLock {
  readonly file: string;
  /** Removes the lock (only if it is still ours). Safe to call twice. */
  release(): void;
}

/** `<root>/.kisflow/dev.lock`. */
export function devLockFile(root: string): string {
  return join(root, '.kisflow', 'dev.lock');
}

function holder(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
    return Number.isInteger(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes `<root>/.kisflow/dev.lock` for this process. A lock left by a process that is gone (killed,
 * crashed) is taken over; one held by a live process is refused.
 *
 * @throws UsageError `DEV_ALREADY_RUNNING` when another live `kisflow dev` holds the folder.
 * @example
 * const lock = acquireDevLock(process.cwd());
 * // ...
 * lock.release();
 */
export function acquireDevLock(root: string): DevLock {
  const file = devLockFile(root);
  mkdirSync(join(root, '.kisflow'), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      // 'wx': created only if absent, so two starting at once cannot both win.
      fd = openSync(file, 'wx');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = holder(file);
      if (pid !== undefined && pid !== process.pid && isProcessAlive(pid)) {
        throw new UsageError(
          'DEV_ALREADY_RUNNING',
          `kisflow dev is already running in ${root} (pid ${pid}); its queues and tables in .kisflow/dev/ serve one process at a time. Stop it first (Ctrl-C), or run this one in another folder.`,
          { pid, root },
        );
      }
      if (pid === undefined && attempt === 0) {
        // Another start may be between creating the file and writing its pid: give it a moment.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
        continue;
      }
      // Stale: its process is gone, or it never wrote its pid (killed between create and write).
      try {
        unlinkSync(file);
      } catch {
        // Someone else took it over first: the next attempt sees their lock.
      }
      continue;
    }
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    let released = false;
    return {
      file,
      release() {
        if (released) return;
        released = true;
        if (holder(file) === process.pid) unlinkSync(file);
      },
    };
  }
  throw new UsageError('DEV_LOCK_FAILED', `Could not take ${file}: other processes keep replacing it.`, {
    file,
  });
}
