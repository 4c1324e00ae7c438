import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The run log of `kisflow dev`: every step's Powertools JSON log line (each carries `runId` when it
 * is about a batch), appended to `.kisflow/dev/logs/steps.jsonl`, which `kisflow runs logs` reads
 * by run id. Bounded: past `maxBytes` the file is rotated (`steps.1.jsonl` ... `steps.<keep>.jsonl`,
 * the oldest dropped), so a long-running dev stack never fills the disk.
 */

/** `<root>/.kisflow/dev/logs`. */
export function runLogDir(root: string): string {
  return join(root, '.kisflow', 'dev', 'logs');
}

const CURRENT = 'steps.jsonl';
const rotated = (n: number) => `steps.${n}.jsonl`;

export interface RunLogFileOptions {
  /** @default 16 MiB */
  readonly maxBytes?: number;
  /** Rotated files kept besides the current one. @default 3 */
  readonly keep?: number;
}

/**
 * The writer. Lines are buffered and appended at most every 100 ms (one write per burst, not per
 * line); `close` writes what is left.
 *
 * @example
 * const log = new RunLogFile(runLogDir(root));
 * log.append('{"level":"INFO","message":"checked","runId":"send-1"}');
 */
export class RunLogFile {
  readonly #dir: string;
  readonly #maxBytes: number;
  readonly #keep: number;
  #pending: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #size: number;

  constructor(dir: string, options: RunLogFileOptions = {}) {
    this.#dir = dir;
    this.#maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
    this.#keep = options.keep ?? 3;
    mkdirSync(dir, { recursive: true });
    const file = join(dir, CURRENT);
    this.#size = existsSync(file) ? statSync(file).size : 0;
  }

  append(line: string): void {
    this.#pending.push(line);
    this.#timer ??= setTimeout(() => this.flush(), 100);
  }

  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const text = `${this.#pending.join('\n')}\n`;
    this.#pending = [];
    if (this.#size > 0 && this.#size + Buffer.byteLength(text) > this.#maxBytes) this.#rotate();
    appendFileSync(join(this.#dir, CURRENT), text);
    this.#size += Buffer.byteLength(text);
  }

  close(): void {
    this.flush();
  }

  #rotate(): void {
    for (let n = this.#keep; n >= 1; n--) {
      const from = join(this.#dir, n === 1 ? CURRENT : rotated(n - 1));
      if (existsSync(from)) renameSync(from, join(this.#dir, rotated(n)));
    }
    this.#size = 0;
  }
}

/** The log files oldest first: the rotated ones, then the current one. */
function logFiles(dir: string): string[] {
  const files: string[] = [];
  for (let n = 9; n >= 1; n--) {
    if (existsSync(join(dir, rotated(n)))) files.push(join(dir, rotated(n)));
  }
  if (existsSync(join(dir, CURRENT))) files.push(join(dir, CURRENT));
  return files;
}

/** One log line of a run, parsed. */
export type RunLogLine = Record<string, unknown>;

function linesOf(text: string, runId: string): RunLogLine[] {
  const out: RunLogLine[] = [];
  for (const line of text.split('\n')) {
    // A cheap test first: most lines are other runs'.
    if (!line.includes(runId)) continue;
    try {
      const value = JSON.parse(line) as RunLogLine;
      if (value.runId === runId) out.push(value);
    } catch {
      // A line cut by a crash mid-write: not a log line.
    }
  }
  return out;
}

/** The log lines of `runId` in the dev run log, oldest first. */
export function readRunLog(dir: string, runId: string): RunLogLine[] {
  return logFiles(dir).flatMap((file) => linesOf(readFileSync(file, 'utf8'), runId));
}

/**
 * Calls `onLine` for the run's lines as they are appended, after those already there, until
 * `signal` aborts (polls every 500 ms; a rotation starts the current file again from its top).
 */
export async function followRunLog(
  dir: string,
  runId: string,
  onLine: (line: RunLogLine) => void,
  signal: AbortSignal,
): Promise<void> {
  for (const line of readRunLog(dir, runId)) onLine(line);
  const file = join(dir, CURRENT);
  let offset = existsSync(file) ? statSync(file).size : 0;
  while (!signal.aborted) {
    await new Promise((r) => setTimeout(r, 500));
    const size = existsSync(file) ? statSync(file).size : 0;
    if (size < offset) offset = 0;
    if (size === offset) continue;
    const text = readFileSync(file).subarray(offset, size).toString('utf8');
    // Only whole lines: the rest is read next time.
    const end = text.lastIndexOf('\n') + 1;
    for (const line of linesOf(text.slice(0, end), runId)) onLine(line);
    offset += Buffer.byteLength(text.slice(0, end));
  }
}

const LEVELS: Record<string, number> = {
  DEBUG: 10,
  INFO: 20,
  WARN: 30,
  ERROR: 40,
  CRITICAL: 50,
  SILENT: 100,
};

/** The level the dev stack's handlers log at: INFO at least, so the run log has every step's lines. */
export function captureLevel<L extends string>(level: L): L | 'INFO' {
  return level === 'DEBUG' ? level : 'INFO';
}

/**
 * Where a flow worker's output goes under `kisflow dev`: a Powertools JSON line into the run log,
 * and to the terminal when it is at or above `terminalLevel` (what `--log-level` asked for); any
 * other output (a function's console.log) to the terminal as it was.
 */
export function devOutput(
  file: RunLogFile,
  terminalLevel: string,
): (line: string, stream: 'stdout' | 'stderr') => void {
  const threshold = LEVELS[terminalLevel] ?? LEVELS.WARN;
  return (line, stream) => {
    let level: unknown;
    if (line.startsWith('{')) {
      try {
        level = (JSON.parse(line) as { level?: unknown }).level;
      } catch {
        level = undefined;
      }
    }
    if (typeof level === 'string' && level in LEVELS) {
      file.append(line);
      if ((LEVELS[level] as number) < (threshold as number)) return;
    }
    (stream === 'stdout' ? process.stdout : process.stderr).write(`${line}\n`);
  };
}
