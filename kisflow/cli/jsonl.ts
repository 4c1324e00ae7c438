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
  const rows: Row[] = [];
  const malformed: MalformedLine[] = [];
  let line = 0;
  try {
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
  } catch (e) {
    // A missing file, a directory, a read error: the user's input, not a KisFlow bug.
    throw new UsageError('INPUT_UNREADABLE', `cannot read input ${source}: ${fsReason(e)}`);
  }
  return { rows, malformed };
}

/** A line writer to a file or `-` (stdout) that respects back-pressure. */
export async function openJsonLinesWriter(target: string): Promise<{
  write(value: unknown): Promise<void>;
  close(): Promise<void>;
}> {
  if (target === '-') {
    return {
      async write(value) {
        if (!process.stdout.write(`${JSON.stringify(value)}\n`)) {
          await new Promise<void>((r) => process.stdout.once('drain', () => r()));
        }
      },
      async close() {},
    };
  }
  const stream = createWriteStream(target, 'utf8');
  let failure: UsageError | undefined;
  const fail = (e: unknown) => {
    failure ??= new UsageError('OUTPUT_UNWRITABLE', `cannot write output ${target}: ${fsReason(e)}`);
    return failure;
  };
  stream.on('error', fail);
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', (e) => reject(fail(e)));
  });
  return {
    async write(value) {
      if (failure) throw failure;
      if (!stream.write(`${JSON.stringify(value)}\n`)) {
        await new Promise<void>((resolve, reject) => {
          stream.once('drain', () => resolve());
          stream.once('error', (e) => reject(fail(e)));
        });
      }
    },
    async close() {
      await new Promise<void>((resolve, reject) =>
        stream.end((e?: Error | null) => (e ? reject(fail(e)) : resolve())),
      );
      if (failure) throw failure;
    },
  };
}

/** `ENOENT (no such file or directory)` from a Node file-system error. */
export function fsReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code
    ? `${err.code} (${err.message.replace(/^\w+: /, '').split(',')[0]})`
    : String(err?.message ?? e);
}
