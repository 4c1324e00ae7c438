import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defineFunction } from '../../../kisflow/engine/function.ts';
import { loadFunctions } from '../../../kisflow/engine/load-functions.ts';
import { FlowPlan } from '../../../kisflow/engine/plan.ts';
import { Registry } from '../../../kisflow/engine/registry.ts';
import { runFlow } from '../../../kisflow/engine/run-flow.ts';
import { StepError } from '../../../kisflow/errors.ts';
import { memoryDeps, project } from './project.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'loadable');

describe('loadFunctions', () => {
  it('imports each used function by its handler path (default functions/<fid>.ts, extensions tried)', async () => {
    const proj = project({
      root,
      funcs: [
        { fid: 'double' },
        { fid: 'js', handler: 'lib/shared' },
        { fid: 'unused', handler: 'missing.ts' },
      ],
      flows: [{ flowId: 'f', steps: ['double', 'js', 'double'] }],
    });
    const registry = await loadFunctions(proj, { flowIds: ['f'] });
    expect(registry.hasFunction('double')).toBe(true);
    expect(registry.hasFunction('js')).toBe(true);
    expect(registry.hasFunction('unused')).toBe(false);
    const result = await runFlow(FlowPlan.build(proj, 'f'), [{ n: 1 }], registry, memoryDeps());
    expect(result.output).toEqual([{ n: 4, js: true }]);
  });

  it('keeps functions already in the given registry', async () => {
    const proj = project({ root, funcs: [{ fid: 'absent' }], flows: [{ flowId: 'f', steps: ['absent'] }] });
    const fn = defineFunction(() => {});
    const registry = new Registry().addFunction('absent', fn);
    expect(await loadFunctions(proj, { registry })).toBe(registry);
    expect(registry.getFunction('absent')).toBe(fn);
  });

  it('names the paths tried for a missing module', async () => {
    const proj = project({ root, funcs: [{ fid: 'ghost' }], flows: [{ flowId: 'f', steps: ['ghost'] }] });
    await expect(loadFunctions(proj)).rejects.toMatchObject({
      code: 'FUNCTION_MODULE_NOT_FOUND',
      message: expect.stringContaining(join(root, 'functions', 'ghost.ts')),
    });
  });

  it('names the file and what it exported when the default export is not a function', async () => {
    const proj = project({
      root,
      funcs: [{ fid: 'not-a-function' }],
      flows: [{ flowId: 'f', steps: ['not-a-function'] }],
    });
    const failure = loadFunctions(proj);
    await expect(failure).rejects.toBeInstanceOf(StepError);
    await expect(loadFunctions(proj)).rejects.toMatchObject({
      code: 'BAD_FUNCTION_MODULE',
      message: expect.stringMatching(/not-a-function\.ts.*defineFunction.*an object with keys answer/),
    });
  });

  it('loads connector implementations from connectors/<type>.ts, and not for dynamodb', async () => {
    const proj = project({
      root,
      funcs: [
        { fid: 'double', fmode: 'Save', cid: 'kv' },
        { fid: 'js', handler: 'lib/shared.js', cid: 'table' },
      ],
      conns: [
        { cid: 'kv', type: 'memkv', key: 'all' },
        { cid: 'table', key: ['n'] },
      ],
      flows: [{ flowId: 'f', steps: ['double', 'js'] }],
    });
    const registry = await loadFunctions(proj);
    expect(registry.getConnector('memkv')?.type).toBe('memkv');
    expect(registry.getConnector('dynamodb')).toBeUndefined();
  });

  it('reports a connector module that implements another type', async () => {
    const proj = project({
      root,
      funcs: [{ fid: 'double', cid: 'kv' }],
      conns: [{ cid: 'kv', type: 'redis', key: 'all', handler: 'connectors/memkv.ts' }],
      flows: [{ flowId: 'f', steps: ['double'] }],
    });
    await expect(loadFunctions(proj)).rejects.toMatchObject({
      code: 'BAD_FUNCTION_MODULE',
      message: expect.stringContaining("type 'memkv'"),
    });
  });

  it('rejects an unknown flow id', async () => {
    const proj = project({ root, funcs: [], flows: [] });
    await expect(loadFunctions(proj, { flowIds: ['nope'] })).rejects.toMatchObject({ code: 'UNKNOWN_FLOW' });
  });
});
