import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { UsageError } from '../errors.ts';
import type { Row } from '../ports.ts';

/** A line of the input that is not a JSON object: reported, never silently dropped. */
export interface MalformedLine {
  readonly line: number;
  readonly text: string;
  readonly reason: string;
}

/** Reads JSON Lines from a file or `-` (stdin). Blank lines are skipped. */
export async function readJsonLines(source: string): Promise<{ rows: Row[]; malformed: MalformedLine[] }> {
  if (source === '-' && process.stdin.isTTY) {
    throw new UsageError(
      'NO_INPUT',
      'no input rows: give --input rows.jsonl, or pipe JSON Lines into kisflow',
    );
  }
  const stream = source === '-' ? process.stdin : createReadStream(source, 'utf8');
  const opened = new Promise<void>((resolve, reject) => {
    if (source === '-') return resolve();
    stream.once('open', () => resolve());
    stream.once('error', (e: NodeJS.ErrnoException) =>
      reject(new UsageError('INPUT_UNREADABLE', `cannot read input ${source}: ${e.code ?? e.message}`)),
    );
  });
  await opened;
  const rows: Row[] = [];
  const malformed: MalformedLine[] = [];
  let line = 0;
  for await (const text of createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })) {
    line++;
    if (text.trim() === '') continue;
    try {
      const value: unknown = JSON.parse(text);
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) rows.push(value as Row);
      else malformed.push({ line, text, reason: 'not a JSON object' });
    } catch (e) {
      malformed.push({ line, text, reason: `not JSON: ${(e as Error).message}` });
    }
  }
  return { rows, malformed };
}

/** A line writer to a file or `-` (stdout) that respects back-pressure. */
export function openJsonLinesWriter(target: string): {
  write(value: unknown): Promise<void>;
  close(): Promise<void>;
} {
  const stream = target === '-' ? process.stdout : createWriteStream(target, 'utf8');
  return {
    async write(value) {
      if (!stream.write(`${JSON.stringify(value)}\n`))
        await new Promise<void>((r) => stream.once('drain', () => r()));
    },
    async close() {
      if (stream === process.stdout) return;
      await new Promise<void>((resolve, reject) =>
        stream.end((e?: Error | null) => (e ? reject(e) : resolve())),
      );
    },
  };
}
