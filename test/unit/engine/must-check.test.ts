import { describe, expect, it } from 'vitest';
import { compileMustCheck } from '../../../kisflow/engine/must-check.ts';

describe('compileMustCheck', () => {
  for (const codegen of [true, false]) {
    describe(codegen ? 'compiled' : 'without code generation', () => {
      it('accepts rows with every field present, 0 and false included', () => {
        const check = compileMustCheck(['userid', '订单', 'quote"d\\'], codegen);
        expect(check({ userid: 1, 订单: 0, 'quote"d\\': false })).toBe(true);
      });

      it('refuses rows with a field undefined, null or empty, and non-objects', () => {
        const check = compileMustCheck(['a', 'b'], codegen);
        expect(check({ a: 1 })).toBe(false);
        expect(check({ a: 1, b: null })).toBe(false);
        expect(check({ a: '', b: 2 })).toBe(false);
        expect(check(null as never)).toBe(false);
        expect(check([1, 2] as never)).toBe(false);
        expect(check(7 as never)).toBe(false);
      });

      it('with no fields only checks the row is an object', () => {
        const check = compileMustCheck([], codegen);
        expect(check({})).toBe(true);
        expect(check(null as never)).toBe(false);
      });
    });
  }
});
