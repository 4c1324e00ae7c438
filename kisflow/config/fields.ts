import * as z from 'zod';
import type { ParamValue } from './model.ts';

/**
 * Field schemas shared by several kistypes. Ids are any non-empty string: the seed's ids are
 * Chinese, and cloud names are derived from them separately (names.ts).
 */

export const idField = z.string().min(1, { error: 'must not be empty' });

/** A row field name (in `source.must`, `key`). */
export const fieldName = z.string().min(1, { error: 'must not be empty' });

export const paramValue: z.ZodType<ParamValue> = z
  .lazy(() =>
    z.union([
      z.string(),
      z.number(),
      z.boolean(),
      z.null(),
      z.array(paramValue),
      z.record(z.string(), paramValue),
    ]),
  )
  .meta({ id: 'ParamValue', description: 'A param value: a string as in KisFlow, or any JSON value.' });

/** Params map; YAML `params:` with nothing under it is null and means "none". */
export const paramsField = z.record(z.string(), paramValue).nullable();

/** KisFlow's on/off switch: 1 on, 0 off. */
export const statusField = z.literal([0, 1]);

/** A module path relative to the project root. */
export const handlerField = z
  .string()
  .min(1, { error: 'must not be empty' })
  .refine((path) => !path.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(path), {
    error: 'must be a path relative to the project root (e.g. functions/orders.ts), not an absolute path',
  });

/** A list that YAML may leave empty (`load: null`, or the key with no value). */
export function nullableList<T extends z.ZodType>(item: T) {
  return z.array(item).nullable();
}

type RefinementContext = {
  addIssue(issue: { code: 'custom'; message: string; path: (string | number)[] }): void;
};

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/**
 * Requires one of a field's two spellings (the seed's first, Go's second). Runs even when other
 * fields failed, so a missing id is reported together with everything else.
 */
export function requireOneOf(value: unknown, ctx: RefinementContext, keys: readonly [string, string]): void {
  const record = asRecord(value);
  if (record && record[keys[0]] === undefined && record[keys[1]] === undefined) {
    ctx.addIssue({ code: 'custom', message: `needs ${keys[0]} (or Go's spelling ${keys[1]})`, path: [] });
  }
}

/** Where both spellings of one field are written, they must agree. */
export function requireSameValue(
  value: unknown,
  ctx: RefinementContext,
  keys: readonly [string, string],
): void {
  const record = asRecord(value);
  if (!record) return;
  const [first, second] = keys;
  if (record[first] !== undefined && record[second] !== undefined && record[first] !== record[second]) {
    ctx.addIssue({
      code: 'custom',
      message: `${second} ${JSON.stringify(record[second])} differs from ${first} ${JSON.stringify(record[first])}: they are two spellings of one field, keep one`,
      path: [second],
    });
  }
}

/** Refinement options: run even when the object has other problems, to report everything at once. */
export const ALWAYS = { when: () => true } as const;
