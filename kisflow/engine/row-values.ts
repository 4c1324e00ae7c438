import type { Row } from '../ports.ts';

/**
 * How deep a row may nest. DynamoDB stores documents up to 32 levels
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-attributes),
 * and a row that travels should also be storable; the bound also keeps every walk over a row
 * (JSON.stringify in a transport, a digest, a checker) far from the call-stack limit.
 */
export const MAX_ROW_DEPTH = 32;

const OBJECT = Object.prototype;

function field(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key)
    ? path === ''
      ? key
      : `${path}.${key}`
    : `${path}[${JSON.stringify(key)}]`;
}

function kindOf(value: object): string {
  if (value instanceof Date) return 'a Date (commit date.toISOString() or a number)';
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor
    ?.name;
  return `an instance of ${typeof name === 'string' && name !== '' ? name : 'a class'} (commit a plain object or array)`;
}

function show(value: unknown): string {
  switch (typeof value) {
    case 'bigint':
      return `a BigInt (${value}n; commit it as a string or a number)`;
    case 'function':
      return 'a function';
    case 'symbol':
      return `a symbol (${String(value)})`;
    case 'number':
      return `${value} (JSON has no NaN or Infinity: commit null or a string)`;
    default:
      return 'undefined inside an array (JSON would turn it into null)';
  }
}

function problemIn(value: unknown, path: string, ancestors: object[]): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return value - value === 0 ? undefined : `${path} is ${show(value)}`;
    case 'object': {
      if (value === null) return undefined;
      if (ancestors.includes(value)) return `${path} refers back to a value that contains it (a cycle)`;
      if (ancestors.length >= MAX_ROW_DEPTH) return `${path} nests deeper than ${MAX_ROW_DEPTH} levels`;
      ancestors.push(value);
      try {
        if (Array.isArray(value)) {
          for (let i = 0; i < value.length; i++) {
            const v = value[i];
            const problem =
              v === undefined ? `${path}[${i}] is ${show(v)}` : problemIn(v, `${path}[${i}]`, ancestors);
            if (problem !== undefined) return problem;
          }
          return undefined;
        }
        const proto = Object.getPrototypeOf(value);
        if (proto !== OBJECT && proto !== null) return `${path} is ${kindOf(value)}`;
        return fieldsProblem(value as Row, path, ancestors);
      } finally {
        ancestors.pop();
      }
    }
    default:
      return `${path} is ${show(value)}`;
  }
}

function fieldsProblem(row: Row, path: string, ancestors: object[]): string | undefined {
  for (const key in row) {
    const v = row[key];
    // The common case first, without a call: flat fields.
    if (typeof v === 'string' || typeof v === 'boolean' || v === null || v === undefined) continue;
    if (typeof v === 'number' && v - v === 0) continue;
    const problem = problemIn(v, field(path, key), ancestors);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/**
 * Why `row` is not a row that can travel as JSON and come back the same, or undefined when it
 * can: a plain object whose values are strings, finite numbers, booleans, null, plain objects
 * and arrays, nested at most MAX_ROW_DEPTH levels, with no cycle. A field holding `undefined`
 * counts as absent, as JSON makes it; anything JSON would drop, change or fail on (BigInt,
 * functions, symbols, NaN, Infinity, Dates, Maps, class instances, `undefined` in an array) is
 * named with its path.
 *
 * @example rowProblem({ id: 1, n: 10n }) // 'n is a BigInt (10n; commit it as a string or a number)'
 */
export function rowProblem(row: unknown): string | undefined {
  if (typeof row !== 'object' || row === null || Array.isArray(row)) {
    return `the row is ${row === null ? 'null' : Array.isArray(row) ? 'an array' : typeof row === 'object' ? 'an object' : `a ${typeof row}`}, not a JSON object such as { "id": 1 }`;
  }
  const proto = Object.getPrototypeOf(row);
  if (proto !== OBJECT && proto !== null) return `the row is ${kindOf(row)}`;
  return fieldsProblem(row as Row, '', [row]);
}

/**
 * Why `value` (a keyed-state value) cannot be stored as JSON unchanged, or undefined; `what`
 * names it in the message.
 */
export function valueProblem(value: unknown, what: string): string | undefined {
  if (value === undefined) return `${what} is undefined (store null to clear a value)`;
  return problemIn(value, what, []);
}
