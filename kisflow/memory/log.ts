import type { Log } from '../ports.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * A log printing one line per entry to stderr (stdout stays free for a flow's output):
 * `LEVEL message {"data":...}`. Entries below `minLevel` are dropped.
 */
export function createConsoleLog(minLevel: LogLevel = 'info'): Log {
  const at = (level: LogLevel) => {
    if (RANK[level] < RANK[minLevel]) return () => {};
    const tag = level.toUpperCase().padEnd(5);
    return (message: string, data?: Record<string, unknown>) => {
      console.error(data === undefined ? `${tag} ${message}` : `${tag} ${message} ${safeJson(data)}`);
    };
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function safeJson(data: Record<string, unknown>): string {
  try {
    return JSON.stringify(data);
  } catch {
    return String(data);
  }
}

/** Info and above to stderr. */
export const consoleLog: Log = createConsoleLog('info');

const nothing = (): void => {};

/** Drops everything. */
export const silentLog: Log = { debug: nothing, info: nothing, warn: nothing, error: nothing };
