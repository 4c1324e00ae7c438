import type { Row } from '../ports.ts';

/** True when `value` counts as present for `source.must`: not undefined, null or ''. */
export function isPresent(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '';
}

/**
 * A checker for Verify's `source.must`: true when the row is an object with every field present.
 *
 * It is compiled to straight-line code (`r["userid"] !== undefined && ...`) because a loop over the
 * field names makes every read a megamorphic keyed load, ~5× slower: on small rows that loop was
 * the engine's largest per-row cost. Field names are embedded as JSON string literals, so any name
 * is safe. Where code generation is disabled (`--disallow-code-generation-from-strings`), the
 * plain loop is used.
 */
export function compileMustCheck(must: readonly string[], codegen = true): (row: Row) => boolean {
  const isRow = (row: unknown): row is Row => typeof row === 'object' && row !== null && !Array.isArray(row);
  if (must.length === 0) return isRow;
  try {
    if (!codegen) throw new Error('code generation off');
    const tests = must.map((field) => {
      const key = JSON.stringify(field);
      return `(v = r[${key}]) !== undefined && v !== null && v !== ''`;
    });
    const check = new Function(
      'r',
      `if (typeof r !== 'object' || r === null || Array.isArray(r)) return false; let v; return ${tests.join(' && ')};`,
    ) as (row: Row) => boolean;
    return check;
  } catch {
    return (row) => {
      if (!isRow(row)) return false;
      for (const field of must) if (!isPresent(row[field])) return false;
      return true;
    };
  }
}
