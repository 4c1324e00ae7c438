import type { z } from 'zod';
import type { SourcePosition } from './model.ts';

export type Kistype = 'func' | 'flow' | 'conn' | 'global' | 'job';

/** A path into a config document, as zod reports it: keys and list indexes. */
export type IssuePath = readonly (string | number)[];

/** Locates a path of the document being converted; `undefined` for config given in code. */
export type Locate = (path: IssuePath) => SourcePosition | undefined;

/**
 * Everything the loader knows about one kistype: its schema (YAML spelling, the single source of
 * the JSON Schema and the docs), where its id may be written, and how it maps to the model.
 */
export interface DocumentKind<Schema extends z.ZodType = z.ZodType, Spec = unknown> {
  readonly kistype: Kistype;
  readonly schema: Schema;
  /** Keys that may hold the id, by precedence (`fid`, then Go's `fname`). Empty for `global`. */
  readonly idKeys: readonly string[];
  readonly toSpec: (parsed: z.output<Schema>, locate: Locate) => Spec;
}

/** A plain object (a YAML mapping), as opposed to a list, a scalar or null. */
export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The id key a raw document actually uses, if any holds a non-empty string. */
export function idKeyOf(kind: Pick<DocumentKind, 'idKeys'>, value: unknown): string | undefined {
  if (!isMapping(value)) return undefined;
  return kind.idKeys.find((key) => typeof value[key] === 'string' && value[key] !== '');
}

/** Drops keys whose value is `undefined`, so specs compare and serialise exactly. */
export function defined<T extends Record<string, unknown>>(object: T): T {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined)) as T;
}
