import { createHash } from 'node:crypto';
import type { KeyRule } from '../config/model.ts';
import { RowRejectedError } from '../errors.ts';
import type { Row } from '../ports.ts';

/** A key part is absent when the field is undefined, null or the empty string (as for `source.must`). */
function part(rule: KeyRule, row: Row, field: string): string {
  const value = row[field];
  if (value === undefined || value === null || value === '') {
    const fields = rule.kind === 'literal' ? [] : rule.fields;
    const missing = fields.filter((f) => row[f] === undefined || row[f] === null || row[f] === '');
    throw new RowRejectedError(
      'MISSING_KEY_FIELD',
      `The row has no value for key field${missing.length === 1 ? '' : 's'} ${missing.map((f) => `'${f}'`).join(', ')}; the connector key is built from ${fields.map((f) => `'${f}'`).join(', ')}. Give the row these fields (or change the connector's key).`,
      { missing, fields },
    );
  }
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/**
 * The connector key of a row under a key rule.
 * - `fields`: the values joined with `#` (`[user, order]` → `u1#o7`);
 * - `template`: each `{field}` replaced by its value (`user#{user}` → `user#u1`);
 * - `literal`: the rule's name, whatever the row (one partition collects every row).
 *
 * @throws RowRejectedError code `MISSING_KEY_FIELD` naming the fields the row lacks.
 * @example keyOf({ kind: 'fields', fields: ['user', 'order'] }, { user: 'u1', order: 7 }) // 'u1#7'
 */
export function keyOf(rule: KeyRule, row: Row): string {
  switch (rule.kind) {
    case 'fields': {
      const { fields } = rule;
      if (fields.length === 1) return part(rule, row, fields[0] as string);
      let key = '';
      for (let i = 0; i < fields.length; i++)
        key += (i === 0 ? '' : '#') + part(rule, row, fields[i] as string);
      return key;
    }
    case 'template':
      return rule.template.replace(/\{([^{}]+)\}/g, (_, field: string) => part(rule, row, field));
    case 'literal':
      return rule.name;
  }
}

/**
 * The sort key of a row a step stores in batch `batchId`.
 * `fields`/`template` rules address one row per key, so the sort key is '' and the latest write
 * wins. A `literal` rule collects many rows under one key, so each gets
 * `${batchId}#${digest of the row}#${occurrence}`, where `occurrence` counts identical rows before
 * it in the same save. It depends on the row itself, not on its position: a redelivered batch
 * that saves a different subset (a row failed this time, or succeeded) rewrites the same items
 * instead of shifting them onto each other.
 */
export function sortOf(rule: KeyRule, batchId: string, row: Row, occurrence = 0): string {
  if (rule.kind !== 'literal') return '';
  const digest = createHash('sha256').update(JSON.stringify(row)).digest('base64url').slice(0, 22);
  return `${batchId}#${digest}#${occurrence}`;
}
