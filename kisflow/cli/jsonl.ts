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

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const dropCR = (line: string) => (line.endsWith('\r') ? line.slice(0, -1) : line);

/**
 * The lines of a byte stream, split on LF (a CR before it dropped): decoded text, or the bytes of
 * a line that is not UTF-8. Each chunk's whole lines are decoded at once (a LF is always a
 * character boundary); only a chunk that fails is decoded line by line to find the bad ones.
 */
async function* lines(input: AsyncIterable<Buffer | string>): AsyncGenerator<string | Buffer> {
  let pending: Buffer[] = [];
  for await (const piece of input) {
    const chunk = typeof piece === 'string' ? Buffer.from(piece) : piece;
    const last = chunk.lastIndexOf(10);
    if (last === -1) {
      pending.push(chunk);
      continue;
    }
    const whole = Buffer.concat([...pending, chunk.subarray(0, last)]);
    pending = last + 1 < chunk.length ? [chunk.subarray(last + 1)] : [];
    let text: string | undefined;
    try {
      text = decoder.decode(whole);
    } catch {
      yield* lineByLine(whole);
    }
    if (text !== undefined) for (const line of text.split('\n')) yield dropCR(line);
  }
  if (pending.length > 0) yield* lineByLine(Buffer.concat(pending));
}

function* lineByLine(bytes: Buffer): Generator<string | Buffer> {
  let start = 0;
  for (let end = bytes.indexOf(10); ; end = bytes.indexOf(10, start)) {
    const line = bytes.subarray(start, end === -1 ? bytes.length : end);
    const decoded = decodeUtf8(line);
    yield decoded.ok ? dropCR(decoded.value) : line.at(-1) === 13 ? line.subarray(0, -1) : line;
    if (end === -1) return;
    start = end + 1;
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
    for await (const read of lines(stream)) {
      line++;
      if (typeof read !== 'string') {
        const decoded = decodeUtf8(read);
        reject(
          line,
          showBytes(read),
          decoded.ok ? { code: 'NOT_UTF8', reason: 'not UTF-8' } : decoded.problem,
        );
        continue;
      }
      // A byte order mark is allowed at the start of the file, nowhere else.
      const text = line === 1 && read.startsWith('\uFEFF') ? read.slice(1) : read;
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
