import type { ConfigIssue } from '../errors.ts';
import type { IssuePath, Kistype } from './document-kind.ts';
import type { SourcePosition } from './model.ts';

/**
 * One config object before validation, from a YAML document or from code, with what is needed to
 * point at its parts in messages.
 */
export interface ConfigDocument {
  /** The document as plain data (a YAML mapping turned into an object). */
  readonly value: unknown;
  /** File the document came from, as shown in messages (relative to the cwd when inside it). */
  readonly file?: string;
  /** How messages name an object given in code: `funcs[0]`. */
  readonly label?: string;
  /** For objects given in code, the kistype of the list they are in (`kistype` may be left out). */
  readonly kistype?: Kistype;
  /**
   * Where the node at `path` is written: its key (`part: 'key'`) or its value. For a path that is
   * absent, the nearest written ancestor's key, or the document's start. `undefined` without text.
   */
  position(path: IssuePath, part?: 'key' | 'value'): SourcePosition | undefined;
  /** Whether the document writes anything at `path` (to tell `fid` from Go's `fname`). */
  has(path: IssuePath): boolean;
}

/** A ConfigIssue located at a path of a document (or naming only the file, without text positions). */
export function issueAt(
  doc: ConfigDocument,
  path: IssuePath,
  message: string,
  part: 'key' | 'value' = 'value',
): ConfigIssue {
  const at = doc.position(path, part);
  if (at) return { file: at.file, line: at.line, col: at.col, message };
  return doc.file === undefined ? { message } : { file: doc.file, message };
}

/** `file:line` of a position, or an in-code object's label, to name where something else is. */
export function whereIs(doc: ConfigDocument, path: IssuePath): string {
  const at = doc.position(path);
  if (at) return `${at.file}:${at.line}:${at.col}`;
  return doc.label ?? doc.file ?? 'an earlier document';
}
