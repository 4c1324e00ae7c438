import { createReadStream, createWriteStream } from 'node:fs';
import { UsageError } from '../errors.ts';
import type { Row } from '../ports.ts';
import { decodeUtf8, type Problem, parseRow, showBytes, stringifyRow } from './exact-json.ts';

/** A line of the input that is not a row as written: reported with a code, never dropped or altered. */
export interface MalformedLine {
  readonly line: number;
  readonly text: string;
  /** `MALFORMED_ROW` (not JSON, not an object), `NOT_UTF8`, `NUMBER_OUT_OF_RANGE`, `INTEGER_NOT_EXACT`, `LONE_SURROGATE` */
  readonly code: string;
  readonly reason: string;
}

const BOM = [0xef, 0xbb, 0xbf];

/** The lines of a byte stream, split on LF (a CR before it dropped), undecoded. */
async function* byteLines(input: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  for await (const piece of input) {
    const chunk = typeof piece === 'string' ? Buffer.from(piece) : piece;
    let start = 0;
    for (let end = chunk.indexOf(10); end !== -1; end = chunk.indexOf(10, start)) {
      pending.push(chunk.subarray(start, end));
      const line = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending);
      pending = [];
      yield line.at(-1) === 13 ? line.subarray(0, -1) : line;
      start = end + 1;
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  }
  if (pending.length > 0) {
    const line = Buffer.concat(pending);
    yield line.at(-1) === 13 ? line.subarray(0, -1) : line;
  }
}

/**
 * Reads JSON Lines from a file or `-` (stdin). Blank lines are skipped; a UTF-8 byte order mark
 * at the start is accepted. A line that is not valid UTF-8, not a JSON object, or holds a value
 * JSON.parse would change (see exact-json.ts) is returned in `malformed`, never altered.
 */
export async function readJsonLines(source: string): Promise<{ rows: Row[]; malformed: MalformedLine[] }> {
  if (source === '-' && process.stdin.isTTY) {
    throw new UsageError(
      'NO_INPUT',
      'no input rows: give --input rows.jsonl, or pipe JSON Lines into kisflow',
    );
  }
  const stream = source === '-' ? process.stdin : createReadStream(source);
  const rows: Row[] = [];
  const malformed: MalformedLine[] = [];
  const reject = (line: number, text: string, problem: Problem) =>
    malformed.push({ line, text, code: problem.code, reason: problem.reason });
  let line = 0;
  try {
    for await (let bytes of byteLines(stream)) {
      line++;
      if (line === 1 && BOM.every((b, i) => bytes[i] === b)) bytes = bytes.subarray(BOM.length);
      const decoded = decodeUtf8(bytes);
      if (!decoded.ok) {
        reject(line, showBytes(bytes), decoded.problem);
        continue;
      }
      const text = decoded.value;
      if (text.trim() === '') continue;
      const parsed = parseRow(text);
      if (parsed.ok) rows.push(parsed.value);
      else reject(line, text, parsed.problem);
    }
  } catch (e) {
    // A missing file, a directory, a read error: the user's input, not a KisFlow bug.
    throw new UsageError('INPUT_UNREADABLE', `cannot read input ${source}: ${fsReason(e)}`);
  }
  return { rows, malformed };
}

/**
 * A line writer to a file or `-` (stdout) that respects back-pressure. A value JSON would change
 * (NaN, Infinity, a BigInt) is not written: `write` returns the problem for the caller to reject it.
 */
export async function openJsonLinesWriter(target: string): Promise<{
  write(value: unknown): Promise<Problem | undefined>;
  close(): Promise<void>;
}> {
  if (target === '-') {
    return {
      async write(value) {
        const line = stringifyRow(value);
        if (!line.ok) return line.problem;
        if (!process.stdout.write(`${line.value}\n`)) {
          await new Promise<void>((r) => process.stdout.once('drain', () => r()));
        }
        return undefined;
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
      const line = stringifyRow(value);
      if (!line.ok) return line.problem;
      if (!stream.write(`${line.value}\n`)) {
        await new Promise<void>((resolve, reject) => {
          stream.once('drain', () => resolve());
          stream.once('error', (e) => reject(fail(e)));
        });
      }
      return undefined;
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
