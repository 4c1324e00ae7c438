import type { KinesisStreamRecord, SQSRecord } from 'aws-lambda';
import { UsageError } from '../errors.ts';

/** A record test built from a mapping's filter criteria. */
export type KinesisRecordFilter = (record: KinesisStreamRecord) => boolean;

type Pattern = { readonly [field: string]: unknown };

/**
 * Lambda's event filtering for a Kinesis mapping: a record is delivered when any pattern matches
 * it. Patterns use EventBridge's syntax (values listed in arrays; `prefix`, `suffix`,
 * `equals-ignore-case`, `anything-but`, `numeric`, `exists`) against the record's `kinesis`
 * fields, with `data` decoded as JSON (a record whose data is not JSON matches no pattern on
 * `data`). A filter may be the pattern itself or `{ pattern: "<JSON>" }` (the CloudFormation form).
 * https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis-filtering.html
 *
 * @returns undefined when there are no filters (every record is delivered).
 * @throws UsageError `KINESIS_FILTER_INVALID` for a pattern that is not an object of arrays/objects.
 * @example
 * const keep = kinesisRecordFilter([{ data: { kind: ['order'], total: [{ numeric: ['>', 0] }] } }]);
 */
export function kinesisRecordFilter(
  filters: readonly Record<string, unknown>[] | undefined,
): KinesisRecordFilter | undefined {
  return patternFilter(filters, 'kinesis', kinesisSubject);
}

/**
 * The same for an SQS mapping: patterns against the message's fields, with `body` decoded as
 * JSON (a body that is not JSON is matched as its text).
 * https://docs.aws.amazon.com/lambda/latest/dg/with-sqs-filtering.html
 * @throws UsageError `SQS_FILTER_INVALID` for a pattern that is not an object of arrays/objects.
 */
export function sqsMessageFilter(
  filters: readonly Record<string, unknown>[] | undefined,
): ((record: SQSRecord) => boolean) | undefined {
  return patternFilter(filters, 'sqs', sqsSubject);
}

function patternFilter<T>(
  filters: readonly Record<string, unknown>[] | undefined,
  kind: 'kinesis' | 'sqs',
  subjectOf: (record: T) => Record<string, unknown>,
): ((record: T) => boolean) | undefined {
  if (filters === undefined || filters.length === 0) return undefined;
  const patterns = filters.map((f) => toPattern(f, kind));
  return (record) => {
    const subject = subjectOf(record);
    return patterns.some((p) => matchesObject(p, subject));
  };
}

function toPattern(filter: Record<string, unknown>, kind: 'kinesis' | 'sqs'): Pattern {
  let pattern: unknown = filter;
  if (typeof filter.pattern === 'string' && Object.keys(filter).length === 1) {
    try {
      pattern = JSON.parse(filter.pattern);
    } catch (error) {
      throw invalid(`its pattern is not JSON (${(error as Error).message})`, filter, kind);
    }
  }
  check(pattern, filter, kind);
  return pattern as Pattern;
}

function check(pattern: unknown, filter: Record<string, unknown>, kind: 'kinesis' | 'sqs'): void {
  if (typeof pattern !== 'object' || pattern === null || Array.isArray(pattern))
    throw invalid('a pattern must be an object', filter, kind);
  for (const value of Object.values(pattern)) {
    if (Array.isArray(value)) continue;
    if (typeof value === 'object' && value !== null) check(value, filter, kind);
    else throw invalid('each field must hold an array of values or a nested object', filter, kind);
  }
}

function invalid(why: string, filter: unknown, kind: 'kinesis' | 'sqs'): UsageError {
  const example = kind === 'kinesis' ? '{ data: { kind: [order] } }' : '{ body: { kind: [order] } }';
  return new UsageError(
    `${kind.toUpperCase()}_FILTER_INVALID`,
    `source.${kind}.filters: ${why}, received ${JSON.stringify(filter)}. Write e.g. ${example}.`,
    { filter },
  );
}

function kinesisSubject(record: KinesisStreamRecord): Record<string, unknown> {
  let data: unknown;
  try {
    data = JSON.parse(Buffer.from(record.kinesis.data, 'base64').toString('utf8'));
  } catch {
    data = undefined;
  }
  return { ...record.kinesis, data };
}

function sqsSubject(record: SQSRecord): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch {
    body = record.body;
  }
  return { ...record, body };
}

function matchesObject(pattern: Pattern, subject: unknown): boolean {
  const value = (typeof subject === 'object' && subject !== null ? subject : {}) as Record<string, unknown>;
  for (const [field, expected] of Object.entries(pattern)) {
    const actual = value[field];
    if (Array.isArray(expected)) {
      if (!expected.some((matcher) => matchesValue(matcher, actual))) return false;
    } else if (!matchesObject(expected as Pattern, actual)) {
      return false;
    }
  }
  return true;
}

/** One matcher of a field's array against the field's value (any element, for an array value). */
function matchesValue(matcher: unknown, actual: unknown): boolean {
  if (typeof matcher === 'object' && matcher !== null && 'exists' in matcher)
    return (matcher as { exists: unknown }).exists === (actual !== undefined);
  if (actual === undefined) return false;
  if (Array.isArray(actual)) return actual.some((a) => matchesValue(matcher, a));
  if (typeof matcher !== 'object' || matcher === null) return matcher === actual;
  const [op, arg] = Object.entries(matcher)[0] ?? [];
  switch (op) {
    case 'prefix':
      return typeof actual === 'string' && typeof arg === 'string' && actual.startsWith(arg);
    case 'suffix':
      return typeof actual === 'string' && typeof arg === 'string' && actual.endsWith(arg);
    case 'equals-ignore-case':
      return (
        typeof actual === 'string' && typeof arg === 'string' && actual.toLowerCase() === arg.toLowerCase()
      );
    case 'anything-but': {
      if (typeof arg === 'object' && arg !== null && !Array.isArray(arg)) return !matchesValue(arg, actual);
      return !(Array.isArray(arg) ? arg : [arg]).includes(actual);
    }
    case 'numeric':
      return typeof actual === 'number' && Array.isArray(arg) && numeric(arg, actual);
    default:
      return false;
  }
}

function numeric(conditions: readonly unknown[], n: number): boolean {
  for (let i = 0; i + 1 < conditions.length; i += 2) {
    const bound = conditions[i + 1];
    if (typeof bound !== 'number') return false;
    const ok =
      conditions[i] === '>'
        ? n > bound
        : conditions[i] === '>='
          ? n >= bound
          : conditions[i] === '<'
            ? n < bound
            : conditions[i] === '<='
              ? n <= bound
              : conditions[i] === '='
                ? n === bound
                : false;
    if (!ok) return false;
  }
  return true;
}
