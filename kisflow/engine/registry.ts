import { didYouMeanHint } from '../config/did-you-mean.ts';
import type { ConnSpec, Params } from '../config/model.ts';
import { ConnectorError, KisFlowError, StepError } from '../errors.ts';
import type { Row } from '../ports.ts';
import {
  type ConnectorDriver,
  type ConnectorImplementation,
  isConnectorImplementation,
} from './connector.ts';
import { isKisFunction, type KisFunction } from './function.ts';

/** Short description of a value for error messages ("a function", "an object with keys a, b"). */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing (undefined)';
  if (value === null) return 'null';
  if (typeof value === 'function') return 'a plain function';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') {
    const keys = Object.keys(value);
    return keys.length === 0 ? 'an empty object' : `an object with keys ${keys.slice(0, 6).join(', ')}`;
  }
  return `a ${typeof value} (${JSON.stringify(value)})`;
}

/**
 * The functions and connector implementations a process can run, by fid and by connector type.
 * Not a global: a runtime creates one (usually through `loadFunctions`) and passes it on, so tests
 * and several projects in one process never see each other's functions.
 *
 * @example
 * const registry = new Registry().addFunction('double', defineFunction((rows, ctx) => {
 *   for (const r of rows) ctx.commit({ ...r, n: Number(r.n) * 2 });
 * }));
 */
export class Registry {
  readonly #functions = new Map<string, KisFunction>();
  readonly #connectors = new Map<string, ConnectorImplementation>();
  // One driver per connector per process (KisFlow's CaaSInit), shared by every step using it, so
  // a driver holding state in its closure sees what another step saved.
  readonly #drivers = new Map<string, Promise<ConnectorDriver>>();

  /** Registers (or replaces) the function run for `fid`. */
  addFunction<In extends Row, P extends Params>(fid: string, fn: KisFunction<In, P>): this {
    if (!isKisFunction(fn)) {
      throw new StepError(
        'BAD_FUNCTION',
        `Function '${fid}' must be made with defineFunction(...), received ${describeValue(fn)}.`,
        { fid },
      );
    }
    this.#functions.set(fid, fn as unknown as KisFunction);
    return this;
  }

  /** @throws StepError code `FUNCTION_NOT_REGISTERED` naming the fid. */
  getFunction(fid: string): KisFunction {
    const fn = this.#functions.get(fid);
    if (fn === undefined) {
      const known = [...this.#functions.keys()];
      throw new StepError(
        'FUNCTION_NOT_REGISTERED',
        `No function is registered for fid '${fid}'${didYouMeanHint(fid, known)}. Registered: ${known.length ? known.map((k) => `'${k}'`).join(', ') : 'none'}. Load the project's functions with loadFunctions(project) or call registry.addFunction('${fid}', defineFunction(...)).`,
        { fid, registered: known },
      );
    }
    return fn;
  }

  hasFunction(fid: string): boolean {
    return this.#functions.has(fid);
  }

  /** Registers (or replaces) the implementation of a connector type other than `dynamodb`. */
  addConnector(impl: ConnectorImplementation): this {
    if (!isConnectorImplementation(impl)) {
      throw new ConnectorError(
        'BAD_CONNECTOR',
        `A connector implementation must be made with defineConnector(type, create), received ${describeValue(impl)}.`,
      );
    }
    this.#connectors.set(impl.type, impl);
    return this;
  }

  getConnector(type: string): ConnectorImplementation | undefined {
    return this.#connectors.get(type);
  }

  /**
   * The driver of a connector whose type has a registered implementation, created on first use
   * and kept for the life of the registry. A failed creation is forgotten so the next use retries.
   *
   * @throws ConnectorError code `CONNECTOR_TYPE_NOT_IMPLEMENTED` when no implementation is registered.
   */
  driver(conn: ConnSpec): Promise<ConnectorDriver> {
    const existing = this.#drivers.get(conn.cid);
    if (existing !== undefined) return existing;
    const impl = this.#connectors.get(conn.type);
    if (impl === undefined) {
      const known = [...this.#connectors.keys()];
      return Promise.reject(
        new ConnectorError(
          'CONNECTOR_TYPE_NOT_IMPLEMENTED',
          `Connector '${conn.cid}' has type '${conn.type}', which has no implementation${didYouMeanHint(conn.type, [...known, 'dynamodb'])}. Built in: 'dynamodb'${known.length ? `; registered: ${known.map((k) => `'${k}'`).join(', ')}` : ''}. Write connectors/${conn.type}.ts exporting \`export default defineConnector('${conn.type}', (conn) => ({ save, load }))\` (or set the conn's handler to its module), or use type 'dynamodb'.`,
          { cid: conn.cid, type: conn.type },
        ),
      );
    }
    const created = (async () => {
      try {
        return await impl.create(conn);
      } catch (err) {
        if (err instanceof KisFlowError) throw err;
        throw new ConnectorError(
          'CONNECTOR_INIT_FAILED',
          `Creating connector '${conn.cid}' (type '${conn.type}') failed: ${err instanceof Error ? err.message : String(err)}`,
          { cid: conn.cid, type: conn.type },
          { cause: err },
        );
      }
    })();
    this.#drivers.set(conn.cid, created);
    created.catch(() => {
      if (this.#drivers.get(conn.cid) === created) this.#drivers.delete(conn.cid);
    });
    return created;
  }
}
