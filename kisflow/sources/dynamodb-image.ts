import type { Row } from '../ports.ts';
import { type Decoding, isRow, preview, problem } from './payload.ts';

/**
 * DynamoDB's attribute-value JSON (`{"S": "a"}`, `{"N": "1"}`, `{"M": {...}}`, ...) as plain JSON,
 * without the SDK: a stream record's keys and images become rows. A number keeps its digits as a
 * string when a double would change them (DynamoDB numbers have up to 38 digits). Binary values
 * stay base64 text.
 */
export function unmarshallImage(image: unknown, what: string): Decoding<Row> {
  if (!isRow(image))
    return problem('DYNAMODB_BAD_IMAGE', `${what} is not an attribute map (${preview(image)})`);
  const row: Row = {};
  for (const [name, attribute] of Object.entries(image)) {
    const value = attributeValue(attribute);
    if (value === BAD) {
      return problem(
        'DYNAMODB_BAD_IMAGE',
        `${what}.${name} is not a DynamoDB attribute value (${preview(attribute)})`,
      );
    }
    row[name] = value;
  }
  return { value: row };
}

const BAD = Symbol('bad attribute');

function attributeValue(attribute: unknown): unknown {
  if (!isRow(attribute)) return BAD;
  const entries = Object.entries(attribute);
  if (entries.length !== 1) return BAD;
  const [type, value] = entries[0] as [string, unknown];
  switch (type) {
    case 'S':
    case 'B':
      return typeof value === 'string' ? value : BAD;
    case 'N':
      return typeof value === 'string' ? number(value) : BAD;
    case 'BOOL':
      return typeof value === 'boolean' ? value : BAD;
    case 'NULL':
      return value === true ? null : BAD;
    case 'SS':
    case 'BS':
      return Array.isArray(value) && value.every((v) => typeof v === 'string') ? [...value] : BAD;
    case 'NS':
      return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value.map(number) : BAD;
    case 'L': {
      if (!Array.isArray(value)) return BAD;
      const list = value.map(attributeValue);
      return list.includes(BAD) ? BAD : list;
    }
    case 'M': {
      if (!isRow(value)) return BAD;
      const map: Row = {};
      for (const [k, v] of Object.entries(value)) {
        const inner = attributeValue(v);
        if (inner === BAD) return BAD;
        map[k] = inner;
      }
      return map;
    }
    default:
      return BAD;
  }
}

function number(text: string): number | string {
  const n = Number(text);
  if (!Number.isFinite(n)) return text;
  if (/^-?\d+$/.test(text)) return Number.isSafeInteger(n) ? n : text;
  // A double holds 15 significant digits exactly; beyond that the text is the value.
  const digits = text
    .replace(/e.*$/i, '')
    .replace(/[^0-9]/g, '')
    .replace(/^0+/, '').length;
  return digits <= 15 ? n : text;
}

/** A row as DynamoDB's attribute-value JSON (what a stream record's images hold). */
export function marshallImage(row: Row): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, marshallValue(v)]));
}

function marshallValue(value: unknown): unknown {
  if (value === null || value === undefined) return { NULL: true };
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'number') return { N: String(value) };
  if (typeof value === 'boolean') return { BOOL: value };
  if (Array.isArray(value)) return { L: value.map(marshallValue) };
  return { M: marshallImage(value as Row) };
}
