import { describe, expect, it } from 'vitest';
import { keyOf, sortOf } from '../../../kisflow/engine/keys.ts';
import { RowRejectedError } from '../../../kisflow/errors.ts';

describe('keyOf', () => {
  it('joins field values with #', () => {
    expect(keyOf({ kind: 'fields', fields: ['user', 'order'] }, { user: 'u1', order: 7 })).toBe('u1#7');
    expect(keyOf({ kind: 'fields', fields: ['user'] }, { user: 'u1' })).toBe('u1');
  });

  it('substitutes template placeholders', () => {
    const rule = { kind: 'template', template: 'user#{user}/o{order}', fields: ['user', 'order'] } as const;
    expect(keyOf(rule, { user: '用户', order: 3 })).toBe('user#用户/o3');
  });

  it('gives a literal rule its name whatever the row', () => {
    expect(keyOf({ kind: 'literal', name: 'userid_orderid_option' }, {})).toBe('userid_orderid_option');
  });

  it('rejects a row missing a key field, naming it', () => {
    const rule = { kind: 'fields', fields: ['user', 'order'] } as const;
    for (const row of [{ user: 'u1' }, { user: 'u1', order: null }, { user: 'u1', order: '' }]) {
      let caught: unknown;
      try {
        keyOf(rule, row);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(RowRejectedError);
      expect(caught).toMatchObject({ code: 'MISSING_KEY_FIELD', context: { missing: ['order'] } });
      expect((caught as Error).message).toContain("'order'");
    }
    expect(() => keyOf({ kind: 'template', template: 'u{user}', fields: ['user'] }, {})).toThrow(/'user'/);
  });

  it('keeps 0 and false as values', () => {
    expect(keyOf({ kind: 'fields', fields: ['a', 'b'] }, { a: 0, b: false })).toBe('0#false');
  });
});

describe('sortOf', () => {
  it("is '' for one-row-per-key rules", () => {
    expect(sortOf({ kind: 'fields', fields: ['a'] }, 'b1', { a: 1 })).toBe('');
    expect(sortOf({ kind: 'template', template: '{a}', fields: ['a'] }, 'b1', { a: 1 })).toBe('');
  });
  it('for a literal rule depends on the batch, the row and its occurrence, not its position', () => {
    const rule = { kind: 'literal', name: 'all' } as const;
    const a = sortOf(rule, 'b1', { id: 'a' });
    expect(a).toMatch(/^b1#[\w-]{22}#0$/);
    expect(sortOf(rule, 'b1', { id: 'a' })).toBe(a);
    expect(sortOf(rule, 'b1', { id: 'b' })).not.toBe(a);
    expect(sortOf(rule, 'b2', { id: 'a' })).not.toBe(a);
    expect(sortOf(rule, 'b1', { id: 'a' }, 1)).not.toBe(a);
  });
});
