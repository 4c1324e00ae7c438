import { isUtf8 } from 'node:buffer';
import type { Row } from '../ports.ts';

/**
 * JSON rows read and written without silent changes: what cannot be kept exactly is refused with
 * a code and a reason. `JSON.parse` alone turns `1e999` into Infinity (written back as `null`),
 * rounds 12345678901234567891 to ...900, and keeps lone surrogates that UTF-8 (SQS, DynamoDB)
 * then replaces with U+FFFD; Node's UTF-8 decoding replaces bad bytes with U+FFFD too.
 */
export type Exact<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly problem: Problem };

export interface Problem {
  /** `NOT_UTF8`, `MALFORMED_ROW`, `NUMBER_OUT_OF_RANGE`, `INTEGER_NOT_EXACT`, `LONE_SURROGATE`, `NOT_JSON_VALUE` */
  readonly code: string;
  readonly reason: string;
}

const fail = (code: string, reason: string) => ({ ok: false, problem: { code, reason } }) as const;
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The text of one line's bytes, or NOT_UTF8 naming the first bad byte. */
export function decodeUtf8(bytes: Uint8Array): Exact<string> {
  try {
    return { ok: true, value: decoder.decode(bytes) };
  } catch {
    const shown = showBytes(bytes);
    const first = shown.indexOf('\\x');
    return fail(
      'NOT_UTF8',
      `not UTF-8: invalid byte ${shown.slice(first, first + 4)} (the line as read: ${shown})`,
    );
  }
}

/** Bytes as text, exactly: valid UTF-8 as its characters, every other byte as `\xNN`. */
export function showBytes(bytes: Uint8Array): string {
  let shown = '';
  for (let i = 0; i < bytes.length; ) {
    const lead = bytes[i] as number;
    const size = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
    const char = bytes.subarray(i, i + size);
    if (char.length === size && isUtf8(char)) {
      shown += decoder.decode(char);
      i += size;
    } else {
      shown += `\\x${lead.toString(16).padStart(2, '0')}`;
      i += 1;
    }
  }
  return shown;
}

// A JSON string, or a number outside one: numbers are checked against the value parsed.
const TOKENS = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;
// A \uD800-\uDFFF escape, or any surrogate code unit (pairs too): a cheap first look.
const SURROGATE = /\\u[dD][89a-fA-F]|[\uD800-\uDFFF]/;

const SAFE = Number.MAX_SAFE_INTEGER;

/**
 * Whether a parsed value holds a number JSON.parse may have changed: a non-finite one, or one
 * beyond ±2^53 (where integers stop being exact). Only such rows pay for the token scan.
 */
function hasUnsafeNumber(root: object): boolean {
  const stack: object[] = [root];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const obj = next as Record<string, unknown>;
    for (const key in obj) {
      const v = obj[key];
      if (typeof v === 'number') {
        if (!(v <= SAFE && v >= -SAFE)) return true;
      } else if (typeof v === 'object' && v !== null) stack.push(v);
    }
  }
  return false;
}

/** Tokenizes the line, so a digit run inside a string is never taken for a number. */
function exactScan(text: string): Problem | undefined {
  for (const [token] of text.matchAll(TOKENS)) {
    if (token.charCodeAt(0) === 34 /* " */) continue;
    const problem = numberProblem(token);
    if (problem) return problem;
  }
  return undefined;
}

function numberProblem(token: string): Problem | undefined {
  const number = Number(token);
  // Most long numbers are still safe integers or plain decimals: no BigInt needed for them.
  if (Number.isSafeInteger(number)) return undefined;
  if (!Number.isFinite(number)) {
    return {
      code: 'NUMBER_OUT_OF_RANGE',
      reason: `the number ${token} is beyond a 64-bit float (it would become Infinity); send it as a string`,
    };
  }
  if (/^-?\d+$/.test(token) && BigInt(token) !== BigInt(number)) {
    return {
      code: 'INTEGER_NOT_EXACT',
      reason: `the integer ${token} is beyond 2^53 and would be kept as ${BigInt(number)}; send it as a string`,
    };
  }
  return undefined;
}

/** A JSON object row from one line, exactly as written, or why it cannot be one. */
export function parseRow(text: string): Exact<Row> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return fail('MALFORMED_ROW', `not JSON: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('MALFORMED_ROW', 'not a JSON object');
  }
  if (hasUnsafeNumber(value)) {
    const changed = exactScan(text);
    if (changed) return { ok: false, problem: changed };
  }
  if (SURROGATE.test(text)) {
    const lone = findLoneSurrogate(value);
    if (lone !== undefined) {
      return fail('LONE_SURROGATE', `${lone} holds a lone UTF-16 surrogate, which UTF-8 cannot carry`);
    }
  }
  return { ok: true, value: value as Row };
}

const LONE = /\p{Surrogate}/u;

/** The path of the first key or string holding a lone surrogate; iterative, for deep rows. */
function findLoneSurrogate(root: unknown): string | undefined {
  const stack: [unknown, string][] = [[root, '$']];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [value, path] = next;
    if (typeof value === 'string') {
      if (LONE.test(value)) return path;
    } else if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) stack.push([value[i], `${path}[${i}]`]);
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, item] of Object.entries(value)) {
        if (LONE.test(key)) return `a key in ${path}`;
        stack.push([item, `${path}.${key}`]);
      }
    }
  }
  return undefined;
}

/**
 * One JSON line for a value, or why JSON would change it: `JSON.stringify` writes NaN and
 * Infinity as `null` and throws on a BigInt.
 */
export function stringifyRow(value: unknown): Exact<string> {
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    return fail('NOT_JSON_VALUE', `cannot be written as JSON: ${(e as Error).message}`);
  }
  // A non-finite number shows as `null`: only such lines pay for the second, checking pass.
  if (text.includes('null')) {
    let problem: Problem | undefined;
    JSON.stringify(value, (key, v: unknown) => {
      if (problem === undefined && typeof v === 'number' && !Number.isFinite(v)) {
        problem = {
          code: 'NOT_JSON_VALUE',
          reason: `${key === '' ? 'the row' : `field "${key}"`} is ${v}, which JSON cannot carry (it would be written as null)`,
        };
      }
      return v;
    });
    if (problem) return { ok: false, problem };
  }
  return { ok: true, value: text };
}

/**
 * JSON for a diagnostic line (a rejected row): never throws, and shows what JSON cannot carry as
 * a labelled string (`"NaN"`, `"Infinity"`, `"123n"`) rather than `null` or a crash.
 */
export function stringifyForReport(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'bigint' ? `${v}n` : typeof v === 'number' && !Number.isFinite(v) ? String(v) : v,
  );
}
