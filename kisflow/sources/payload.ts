import type { Row } from '../ports.ts';
import type { RecordProblem } from './source-record.ts';

/** A decoding step's outcome: the value, or why there is none. */
export type Decoding<T> = { readonly value: T } | { readonly problem: RecordProblem };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Base64 as Kinesis and Kafka deliver record data; anything else is a problem, never guessed at. */
export function base64Text(data: unknown, what: string): Decoding<string> {
  if (typeof data !== 'string' || data.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(data)) {
    return problem('SOURCE_NOT_BASE64', `the record's ${what} is not base64 (${preview(data)})`);
  }
  try {
    return { value: utf8.decode(Buffer.from(data, 'base64')) };
  } catch {
    return problem('SOURCE_NOT_UTF8', `the record's ${what} is not UTF-8 text`);
  }
}

/** A JSON value; a number JSON cannot carry exactly (1e999) is refused rather than made Infinity. */
export function jsonValue(text: string, what: string): Decoding<unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return problem(
      'SOURCE_NOT_JSON',
      `the record's ${what} is not JSON: ${(err as Error).message} (${preview(text)})`,
    );
  }
  if (hasNonFinite(value)) {
    return problem(
      'SOURCE_NOT_EXACT',
      `the record's ${what} holds a number beyond double range, which a row cannot carry`,
    );
  }
  return { value };
}

/** One row (a JSON object) from text. */
export function jsonRow(text: string, what: string): Decoding<Row> {
  const parsed = jsonValue(text, what);
  if ('problem' in parsed) return parsed;
  if (!isRow(parsed.value)) {
    return problem(
      'SOURCE_NOT_OBJECT',
      `the record's ${what} is JSON but not an object (a row): ${preview(text)}`,
    );
  }
  return { value: parsed.value };
}

export function isRow(value: unknown): value is Row {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function problem(code: string, reason: string): { readonly problem: RecordProblem } {
  return { problem: { code, reason } };
}

function hasNonFinite(value: unknown): boolean {
  if (typeof value === 'number') return !Number.isFinite(value);
  if (Array.isArray(value)) return value.some(hasNonFinite);
  if (isRow(value)) return Object.values(value).some(hasNonFinite);
  return false;
}

/** At most 80 characters of a value, for a reason. */
export function preview(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return text.length <= 80 ? JSON.stringify(text) : `${JSON.stringify(text.slice(0, 80))}…`;
}
