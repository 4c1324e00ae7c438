import type { z } from 'zod';
import type { ConfigIssue } from '../errors.ts';
import { type ConfigDocument, issueAt } from './config-document.ts';
import { didYouMeanHint } from './did-you-mean.ts';
import type { IssuePath } from './document-kind.ts';

/**
 * Turns zod's issues for one document into located ConfigIssues whose messages say what was
 * received and what is allowed. zod's own wording ("Invalid input") is replaced where it is vague.
 */

type ZodIssue = z.core.$ZodIssue;
type SchemaDef = { type: string } & Record<string, unknown>;

// zod has no public way to walk a schema along a path; its `_zod.def` tree is stable within v4.
function defOf(schema: unknown): SchemaDef | undefined {
  return (schema as { _zod?: { def?: SchemaDef } } | undefined)?._zod?.def;
}

/** Unwraps optional/default/lazy/... wrappers down to the schema that holds the data. */
function unwrap(schema: unknown): unknown {
  let current = schema;
  for (let i = 0; i < 20; i++) {
    const def = defOf(current);
    if (!def) return current;
    if ('innerType' in def) current = def.innerType;
    else if (def.type === 'lazy') current = (def.getter as () => unknown)();
    else if (def.type === 'pipe') current = def.in;
    else return current;
  }
  return current;
}

/** The schema describing the value at `path`, if the path leads anywhere. */
function schemaAt(schema: unknown, path: IssuePath): unknown {
  let current = unwrap(schema);
  for (const segment of path) {
    const def = defOf(current);
    if (!def) return undefined;
    if (def.type === 'object') current = (def.shape as Record<string, unknown>)[String(segment)];
    else if (def.type === 'array') current = def.element;
    else if (def.type === 'record') current = def.valueType;
    else if (def.type === 'union') {
      current = (def.options as unknown[]).map((o) => schemaAt(o, [segment])).find((s) => s !== undefined);
    } else return undefined;
    if (current === undefined) return undefined;
    current = unwrap(current);
  }
  return current;
}

/** The keys an object schema allows, for "did you mean". */
export function allowedKeys(schema: z.ZodType, path: IssuePath): string[] {
  const def = defOf(schemaAt(schema, path));
  if (def?.type === 'object') return Object.keys(def.shape as object);
  if (def?.type === 'union') {
    return [...new Set((def.options as unknown[]).flatMap((o) => allowedKeys(o as z.ZodType, [])))];
  }
  return [];
}

function descriptionAt(schema: z.ZodType, path: IssuePath): string | undefined {
  // Descriptions sit on the outermost wrapper (`.optional().describe(...)`), so walk without unwrapping the last step.
  const parent = path.length === 0 ? undefined : schemaAt(schema, path.slice(0, -1));
  const def = defOf(parent);
  const field =
    def?.type === 'object' ? (def.shape as Record<string, unknown>)[String(path.at(-1))] : undefined;
  return (field as { description?: string } | undefined)?.description;
}

/** `flows[2].params`: how messages write a path. */
export function renderPath(path: IssuePath): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

/** The value as messages show it: its type, and itself when short. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null (an empty value)';
  if (typeof value === 'string') {
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return `string ${JSON.stringify(shown)}`;
  }
  if (typeof value === 'number' || typeof value === 'bigint') return `number ${value}`;
  if (typeof value === 'boolean') return `${value}`;
  if (Array.isArray(value)) return 'a list';
  return 'a mapping';
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  record: 'a mapping',
  null: 'null',
};

function expectedName(expected: string): string {
  return EXPECTED[expected] ?? `a ${expected}`;
}

function sizeProblem(issue: ZodIssue & { code: 'too_small' | 'too_big' }): string {
  const small = issue.code === 'too_small';
  const bound = small
    ? (issue as { minimum: number | bigint }).minimum
    : (issue as { maximum: number | bigint }).maximum;
  const inclusive = issue.inclusive !== false;
  switch (issue.origin) {
    case 'string':
      if (small && Number(bound) === 1) return 'must not be empty';
      return `must have ${small ? 'at least' : 'at most'} ${bound} characters`;
    case 'array':
    case 'set':
      if (small && Number(bound) === 1) return 'must list at least one item';
      return `must list ${small ? 'at least' : 'at most'} ${bound} items`;
    default: {
      const relation = small
        ? inclusive
          ? 'at least'
          : 'greater than'
        : inclusive
          ? 'at most'
          : 'less than';
      return `must be ${relation} ${bound}, got ${describeValue(issue.input)}`;
    }
  }
}

function unionProblem(
  issue: ZodIssue & { code: 'invalid_union' },
  path: IssuePath,
  schema: z.ZodType,
): Located[] | string {
  const branches = issue.errors;
  // A branch whose own type matched but whose contents are wrong says more than "expected A or B".
  const matching = branches.find(
    (errors) => errors.length > 0 && !errors.some((e) => e.code === 'invalid_type' && e.path.length === 0),
  );
  if (matching) return matching.flatMap((e) => locate(e, [...path, ...segments(e.path)], schema));
  const expected = new Set<string>();
  for (const errors of branches) {
    for (const e of errors)
      if (e.code === 'invalid_type' && e.path.length === 0) expected.add(expectedName(e.expected));
  }
  return `expected ${[...expected].join(' or ')}, got ${describeValue(issue.input)}`;
}

interface Located {
  readonly path: IssuePath;
  readonly part: 'key' | 'value';
  readonly problem: string;
  /** Unknown key, for the hint. */
  readonly key?: string;
}

function segments(path: readonly PropertyKey[]): IssuePath {
  return path.filter((s): s is string | number => typeof s !== 'symbol');
}

function locate(issue: ZodIssue, path: IssuePath, schema: z.ZodType): Located[] {
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({ path: [...path, key], part: 'key', problem: '', key }));
    case 'invalid_type': {
      if (issue.input === undefined) return [{ path, part: 'value', problem: '' }];
      // zod says "number" for a non-number given to z.int(); the schema knows it wants an integer.
      const wantsInt = issue.expected === 'number' && defOf(schemaAt(schema, path))?.format === 'safeint';
      const expected = expectedName(wantsInt ? 'int' : issue.expected);
      const quote =
        issue.expected === 'string' && (typeof issue.input === 'number' || typeof issue.input === 'boolean')
          ? ` (quote it: "${issue.input}")`
          : '';
      return [
        {
          path,
          part: 'value',
          problem: `expected ${expected}, got ${describeValue(issue.input)}${quote}`,
        },
      ];
    }
    case 'invalid_union': {
      const result = unionProblem(issue, path, schema);
      return typeof result === 'string' ? [{ path, part: 'value', problem: result }] : result;
    }
    case 'invalid_value': {
      const allowed = issue.values.map((v) => JSON.stringify(v));
      const hint =
        typeof issue.input === 'string' ? didYouMeanHint(issue.input, issue.values.map(String)) : '';
      return [
        {
          path,
          part: 'value',
          problem: `must be ${allowed.join(' or ')}, got ${describeValue(issue.input)}${hint}`,
        },
      ];
    }
    case 'too_small':
    case 'too_big':
      return [{ path, part: 'value', problem: sizeProblem(issue) }];
    default:
      return [{ path, part: 'value', problem: issue.message }];
  }
}

/**
 * ConfigIssues for one document's zod issues. `subject` names the object (`func "SaveOrder"`).
 *
 * @example
 * const result = schema.safeParse(doc.value, { reportInput: true });
 * if (!result.success) issues.push(...shapeIssues(doc, schema, result.error.issues, 'func "SaveOrder"'));
 */
export function shapeIssues(
  doc: ConfigDocument,
  schema: z.ZodType,
  issues: readonly ZodIssue[],
  subject: string,
): ConfigIssue[] {
  return issues.flatMap((issue) =>
    locate(issue, segments(issue.path), schema).map((found) => {
      if (found.key !== undefined) {
        const where = found.path.length > 1 ? ` in ${renderPath(found.path.slice(0, -1))}` : '';
        const allowed = allowedKeys(schema, found.path.slice(0, -1)).filter((k) => k !== 'kistype');
        const hint = didYouMeanHint(found.key, allowed) || `; allowed keys: ${allowed.join(', ')}`;
        return issueAt(doc, found.path, `${subject}: unknown key "${found.key}"${where}${hint}`, 'key');
      }
      if (found.problem === '') {
        const description = descriptionAt(schema, found.path);
        const about = description ? ` (${description})` : '';
        return issueAt(
          doc,
          found.path,
          `${subject}: missing required field "${renderPath(found.path)}"${about}`,
        );
      }
      const field = found.path.length > 0 ? `${renderPath(found.path)}: ` : '';
      return issueAt(doc, found.path, `${subject}: ${field}${found.problem}`, found.part);
    }),
  );
}
