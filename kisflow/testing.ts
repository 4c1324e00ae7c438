/**
 * Test helpers for a KisFlow project (`import { runFunction, runFlow } from 'kisflow/testing'`):
 * run one function, or one flow of the project's YAML, over rows in-process on fresh memory
 * stores, with the same engine as `kisflow run` and Lambda.
 */
import { buildProject, loadProject } from './config/index.ts';
import type { FunctionMode, Params } from './config/model.ts';
import {
  FlowPlan,
  type KisFunction,
  loadFunctions,
  Registry,
  runFlow as runPlan,
  type StepStats,
} from './engine/index.ts';
import { MemoryConnectorStore, MemoryMetrics, MemoryStateStore } from './memory/index.ts';
import type { Log, RejectedRow, Row } from './ports.ts';

/** What a test run produced, and the stores it ran against (to assert what was saved). */
export interface TestRun {
  /** Rows the flow (or the function) emitted. */
  readonly output: Row[];
  /** Rows rejected on the way, each with its step, code and reason. */
  readonly rejected: RejectedRow[];
  /** Rows in, out and rejected per step. */
  readonly steps: StepStats[];
  readonly store: MemoryConnectorStore;
  readonly state: MemoryStateStore;
  readonly metrics: MemoryMetrics;
}

/** Stores to run against, e.g. to run a second flow over what a first one saved. */
export interface TestStores {
  /** @default - an empty memory connector store */
  readonly store?: MemoryConnectorStore;
  /** @default - an empty memory state store */
  readonly state?: MemoryStateStore;
  /** @default - silent */
  readonly log?: Log;
}

export interface RunFunctionOptions extends TestStores {
  /** @default 'Calculate' */
  readonly fmode?: FunctionMode;
  /** The step's params (over `func.option.default_params`). @default {} */
  readonly params?: Params;
  /**
   * The rest of the function's YAML, spelled as in YAML (`source: { must: [id] }`, `option: { cid }`).
   * @default {}
   */
  readonly func?: Readonly<Record<string, unknown>>;
  /** Connectors the function uses (`kistype: conn` objects, spelled as in YAML). @default [] */
  readonly conns?: readonly object[];
  /** @default 'under_test' */
  readonly fid?: string;
}

/**
 * Runs one function over rows as a one-step flow: modes, params, rejections and connectors behave
 * as in a deployed step.
 *
 * @example
 * import priceOrder from '../functions/price_order.ts';
 * const { output } = await runFunction(priceOrder, [{ price: 2, qty: 3 }], { params: { discount: 0 } });
 * expect(output[0]?.total).toBe(6);
 */
export async function runFunction(
  fn: KisFunction,
  rows: readonly Row[],
  options: RunFunctionOptions = {},
): Promise<TestRun> {
  const fid = options.fid ?? 'under_test';
  const project = buildProject({
    funcs: [{ ...options.func, fid, fmode: options.fmode ?? 'Calculate' }],
    flows: [{ flow_id: `test_${fid}`, flows: [{ fid, params: options.params ?? {} }] }],
    conns: options.conns ?? [],
  });
  const registry = new Registry().addFunction(fid, fn);
  return run(FlowPlan.build(project, `test_${fid}`), rows, registry, options);
}

export interface RunFlowOptions extends TestStores {
  /** The flows directory. @default 'flows' */
  readonly dir?: string;
}

/**
 * Runs a flow of the project's YAML (`flows/`) with its functions (`functions/`) over rows.
 *
 * @example
 * const { output, rejected } = await runFlow('order_intake', [{ order_id: 'o1', price: 2, qty: 3 }]);
 * expect(rejected).toEqual([]);
 */
export async function runFlow(
  flowId: string,
  rows: readonly Row[],
  options: RunFlowOptions = {},
): Promise<TestRun> {
  const project = await loadProject(options.dir ?? 'flows');
  const plan = FlowPlan.build(project, flowId);
  const registry = await loadFunctions(project, { flowIds: [flowId] });
  return run(plan, rows, registry, options);
}

async function run(
  plan: FlowPlan,
  rows: readonly Row[],
  registry: Registry,
  options: TestStores,
): Promise<TestRun> {
  const store = options.store ?? new MemoryConnectorStore();
  const state = options.state ?? new MemoryStateStore();
  const metrics = new MemoryMetrics();
  const result = await runPlan(plan, rows, registry, {
    store,
    state,
    metrics,
    ...(options.log ? { log: options.log } : {}),
  });
  return {
    output: result.output,
    rejected: result.rejected,
    steps: result.stats.steps,
    store,
    state,
    metrics,
  };
}
