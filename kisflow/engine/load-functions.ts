import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ConnSpec, FuncSpec, ProjectConfig } from '../config/model.ts';
import { StepError } from '../errors.ts';
import { type ConnectorImplementation, isConnectorImplementation } from './connector.ts';
import { isKisFunction, type KisFunction } from './function.ts';
import { describeValue, Registry } from './registry.ts';

export interface LoadFunctionsOptions {
  /** Only the functions and connectors these flows use (default: every flow of the project). */
  readonly flowIds?: readonly string[];
  /** Register into this registry (functions and connector types already in it are kept). */
  readonly registry?: Registry;
}

const EXTENSIONS = ['.ts', '.js', '.mts'];

function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/** The module file for a handler path: as written, then with each known extension. */
function findModule(root: string, handler: string): { file?: string; tried: string[] } {
  const base = isAbsolute(handler) ? handler : resolve(root, handler);
  const tried = [base, ...EXTENSIONS.map((ext) => base + ext)];
  return { file: tried.find(isFile), tried };
}

async function importDefault(file: string, what: string): Promise<unknown> {
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (err) {
    throw new StepError(
      'BAD_FUNCTION_MODULE',
      `Loading ${what} module ${file} failed: ${err instanceof Error ? err.message : String(err)}`,
      { file },
      { cause: err },
    );
  }
  return mod.default;
}

/**
 * Imports the functions (and connector implementations) a project's flows use and registers them.
 * A function's module is its `handler` (default `functions/<fid>.ts`) resolved against the project
 * root, tried as written and then with `.ts`, `.js`, `.mts`; its default export must come from
 * `defineFunction`. A connector of a type other than `dynamodb` loads its `handler` module, or
 * `connectors/<type>.ts` when that file exists; its default export must come from
 * `defineConnector`. Functions and types already in `options.registry` are not loaded again.
 *
 * @throws StepError `FUNCTION_MODULE_NOT_FOUND` (paths tried listed), `BAD_FUNCTION_MODULE` (the
 *   module failed to load or its default export is not a function/connector), `UNKNOWN_FLOW`.
 * @example
 * const registry = await loadFunctions(project, { flowIds: ['orders'] });
 */
export async function loadFunctions(
  project: ProjectConfig,
  options: LoadFunctionsOptions = {},
): Promise<Registry> {
  const registry = options.registry ?? new Registry();
  const flowIds = options.flowIds ?? [...project.flows.keys()];
  const fids = new Set<string>();
  for (const flowId of flowIds) {
    const flow = project.flows.get(flowId);
    if (flow === undefined) {
      throw new StepError('UNKNOWN_FLOW', `There is no flow '${flowId}' to load functions for.`, { flowId });
    }
    for (const step of flow.steps) fids.add(step.fid);
  }
  const loader = moduleLoader(project);
  const cids = new Set<string>();
  await Promise.all(
    [...fids].map(async (fid) => {
      const func = project.funcs.get(fid);
      if (func?.cid !== undefined) cids.add(func.cid);
      if (func === undefined || registry.hasFunction(fid)) return;
      registry.addFunction(fid, await loader.func(fid));
    }),
  );
  for (const cid of cids) {
    const conn = project.conns.get(cid);
    if (conn === undefined || conn.type === 'dynamodb' || registry.getConnector(conn.type) !== undefined)
      continue;
    const exported = await loader.connector(cid);
    if (exported !== undefined) registry.addConnector(exported);
  }
  return registry;
}

/** A module that failed to load for `kisflow validate`: which func or conn, and why. */
export interface ModuleProblem {
  readonly fid?: string;
  readonly cid?: string;
  readonly error: StepError;
}

/**
 * Imports the module of every function and connector implementation of a project (used by a flow
 * or not), as a deploy would bundle them, and returns each that is missing, fails to load, or
 * has the wrong default export. Never throws for a user's module.
 *
 * @example
 * for (const { fid, error } of await moduleProblems(project)) console.error(fid, error.message);
 */
export async function moduleProblems(project: ProjectConfig): Promise<ModuleProblem[]> {
  const loader = moduleLoader(project);
  const attempt = async (ids: { fid?: string; cid?: string }, load: () => Promise<unknown>) => {
    try {
      await load();
      return [];
    } catch (error) {
      if (error instanceof StepError) return [{ ...ids, error }];
      throw error;
    }
  };
  const problems = await Promise.all([
    ...[...project.funcs.keys()].map((fid) => attempt({ fid }, () => loader.func(fid))),
    ...[...project.conns.values()]
      .filter((conn) => conn.type !== 'dynamodb')
      .map((conn) => attempt({ cid: conn.cid }, () => loader.connector(conn.cid))),
  ]);
  return problems.flat();
}

/** Finds, imports and checks function and connector modules, one import per file. */
function moduleLoader(project: ProjectConfig) {
  const imports = new Map<string, Promise<unknown>>();
  const load = (file: string, what: string) => {
    let pending = imports.get(file);
    if (pending === undefined) {
      pending = importDefault(file, what);
      imports.set(file, pending);
    }
    return pending;
  };
  return {
    async func(fid: string): Promise<KisFunction> {
      const func = project.funcs.get(fid) as FuncSpec;
      const { file, tried } = findModule(project.root, func.handler);
      if (file === undefined) {
        throw new StepError(
          'FUNCTION_MODULE_NOT_FOUND',
          `No module for function '${fid}': tried ${tried.join(', ')}. Create ${func.handler} exporting \`export default defineFunction(...)\`, or set the func's handler to its path.`,
          { fid, handler: func.handler, tried },
        );
      }
      const exported = await load(file, `function '${fid}'`);
      if (!isKisFunction(exported)) {
        throw new StepError(
          'BAD_FUNCTION_MODULE',
          `Module ${file} (function '${fid}') must \`export default defineFunction(...)\`, but its default export is ${describeValue(exported)}.`,
          { fid, file },
        );
      }
      return exported;
    },
    /** The implementation of a non-dynamodb connector; undefined when it has no module (optional without a handler). */
    async connector(cid: string): Promise<ConnectorImplementation | undefined> {
      const conn = project.conns.get(cid) as ConnSpec;
      let file: string | undefined;
      if (conn.handler !== undefined) {
        const found = findModule(project.root, conn.handler);
        if (found.file === undefined) {
          throw new StepError(
            'FUNCTION_MODULE_NOT_FOUND',
            `No module for connector '${cid}' (type '${conn.type}'): tried ${found.tried.join(', ')}.`,
            { cid, handler: conn.handler, tried: found.tried },
          );
        }
        file = found.file;
      } else {
        // Without a handler the conventional module is optional: a missing one is reported when a
        // step uses the connector (CONNECTOR_TYPE_NOT_IMPLEMENTED), not for flows that never do.
        file = findModule(project.root, `connectors/${conn.type}`).file;
        if (file === undefined) return undefined;
      }
      const exported = await load(file, `connector '${cid}'`);
      if (!isConnectorImplementation(exported)) {
        throw new StepError(
          'BAD_FUNCTION_MODULE',
          `Module ${file} (connector '${cid}') must \`export default defineConnector('${conn.type}', ...)\`, but its default export is ${describeValue(exported)}.`,
          { cid, file },
        );
      }
      if (exported.type !== conn.type) {
        throw new StepError(
          'BAD_FUNCTION_MODULE',
          `Module ${file} implements connector type '${exported.type}', but connector '${cid}' has type '${conn.type}'.`,
          { cid, file, exported: exported.type, type: conn.type },
        );
      }
      return exported;
    },
  };
}
