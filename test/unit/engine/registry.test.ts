import { describe, expect, it } from 'vitest';
import { defineConnector } from '../../../kisflow/engine/connector.ts';
import { defineFunction } from '../../../kisflow/engine/function.ts';
import { Registry } from '../../../kisflow/engine/registry.ts';
import { StepError } from '../../../kisflow/errors.ts';

describe('Registry', () => {
  it('registers and returns functions by fid', () => {
    const fn = defineFunction(() => {});
    const registry = new Registry().addFunction('a', fn);
    expect(registry.getFunction('a')).toBe(fn);
    expect(registry.hasFunction('a')).toBe(true);
    expect(registry.hasFunction('b')).toBe(false);
  });

  it('names a missing fid with the registered ones', () => {
    const registry = new Registry().addFunction(
      'double',
      defineFunction(() => {}),
    );
    let caught: unknown;
    try {
      registry.getFunction('doubel');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(StepError);
    expect(caught).toMatchObject({ code: 'FUNCTION_NOT_REGISTERED', context: { fid: 'doubel' } });
    expect((caught as Error).message).toMatch(/'doubel'.*did you mean "double"/);
  });

  it('refuses a value that is not a KisFunction', () => {
    expect(() => new Registry().addFunction('x', (() => {}) as never)).toThrow(/defineFunction/);
  });

  it('keeps connector implementations by type and creates one driver per connector', async () => {
    let created = 0;
    const impl = defineConnector('mem', () => {
      created++;
      return { save: async () => {}, load: async (rows) => rows.map(() => []) };
    });
    const registry = new Registry().addConnector(impl);
    expect(registry.getConnector('mem')).toBe(impl);
    expect(registry.getConnector('redis')).toBeUndefined();
    const conn = {
      cid: 'c',
      cname: 'c',
      type: 'mem',
      key: { kind: 'literal', name: 'x' },
      params: {},
      load: [],
      save: [],
      flows: [],
    } as const;
    const [a, b] = await Promise.all([registry.driver(conn), registry.driver(conn)]);
    expect(a).toBe(b);
    expect(created).toBe(1);
  });
});
