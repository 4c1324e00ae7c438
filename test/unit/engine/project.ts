/**
 * Test helper: a ProjectConfig built in code (the YAML loader is tested elsewhere), plus a ready
 * engine over the memory adapters.
 */
import type {
  ConnSpec,
  FlowSpec,
  FuncSpec,
  FunctionMode,
  KeyRule,
  Params,
  ProjectConfig,
} from '../../../kisflow/config/model.ts';
import type { EngineDeps } from '../../../kisflow/engine/deps.ts';
import type { KisFunction } from '../../../kisflow/engine/function.ts';
import { FlowPlan } from '../../../kisflow/engine/plan.ts';
import { Registry } from '../../../kisflow/engine/registry.ts';
import { type FlowResult, type RunFlowOptions, runFlow } from '../../../kisflow/engine/run-flow.ts';
import { ManualClock } from '../../../kisflow/memory/clock.ts';
import { MemoryConnectorStore } from '../../../kisflow/memory/connector-store.ts';
import { MemoryMetrics } from '../../../kisflow/memory/metrics.ts';
import { MemoryStateStore } from '../../../kisflow/memory/state-store.ts';
import type { Row } from '../../../kisflow/ports.ts';

export interface FuncInput {
  fid: string;
  fmode?: FunctionMode;
  must?: string[];
  cid?: string;
  retryTimes?: number;
  /** `option.state: true`. */
  usesState?: boolean;
  defaultParams?: Params;
  handler?: string;
}

export interface FlowInput {
  flowId: string;
  enabled?: boolean;
  steps: Array<string | { fid: string; params?: Params }>;
  /** tuning.timeout, in seconds (default 30). */
  timeoutSeconds?: number;
}

export interface ConnInput {
  cid: string;
  type?: string;
  /** Field list, a `{field}` template, or a literal name. */
  key?: string[] | string;
  params?: Params;
  handler?: string;
}

export function keyRule(key: string[] | string): KeyRule {
  if (Array.isArray(key)) return { kind: 'fields', fields: key };
  const fields = [...key.matchAll(/\{([^{}]+)\}/g)].map((m) => m[1] as string);
  return fields.length > 0 ? { kind: 'template', template: key, fields } : { kind: 'literal', name: key };
}

export function project(input: {
  root?: string;
  funcs: FuncInput[];
  flows: FlowInput[];
  conns?: ConnInput[];
}): ProjectConfig {
  const funcs = new Map<string, FuncSpec>();
  for (const f of input.funcs) {
    funcs.set(f.fid, {
      fid: f.fid,
      fname: f.fid,
      fmode: f.fmode ?? 'Calculate',
      source: { must: f.must ?? [] },
      ...(f.cid === undefined ? {} : { cid: f.cid }),
      retryTimes: f.retryTimes ?? 0,
      retryDurationMs: 0,
      ...(f.usesState === undefined ? {} : { usesState: f.usesState }),
      defaultParams: f.defaultParams ?? {},
      handler: f.handler ?? `functions/${f.fid}.ts`,
    });
  }
  const flows = new Map<string, FlowSpec>();
  for (const fl of input.flows) {
    flows.set(fl.flowId, {
      flowId: fl.flowId,
      flowName: fl.flowId,
      enabled: fl.enabled ?? true,
      steps: fl.steps.map((s) =>
        typeof s === 'string' ? { fid: s, params: {} } : { fid: s.fid, params: s.params ?? {} },
      ),
      tuning: {
        batchSize: 10,
        batchingWindowSeconds: 0,
        timeoutSeconds: fl.timeoutSeconds ?? 30,
        memoryMb: 256,
        maxMessageBytes: 262144,
      },
    });
  }
  const conns = new Map<string, ConnSpec>();
  for (const c of input.conns ?? []) {
    conns.set(c.cid, {
      cid: c.cid,
      cname: c.cid,
      type: c.type ?? 'dynamodb',
      key: keyRule(c.key ?? ['id']),
      params: c.params ?? {},
      load: [],
      save: [],
      flows: [],
      ...(c.handler === undefined ? {} : { handler: c.handler }),
    });
  }
  return {
    root: input.root ?? process.cwd(),
    funcs,
    flows,
    conns,
    jobs: new Map(),
    global: { prometheusEnable: false, prometheusListen: false, metricsNamespace: 'KisFlow' },
  };
}

/** Memory adapters; `overrides` replace some (typed as the memory ones: do not read those back). */
export function memoryDeps(overrides: Partial<EngineDeps> = {}): MemoryDeps & EngineDeps {
  const deps: MemoryDeps = {
    store: new MemoryConnectorStore(),
    state: new MemoryStateStore(),
    metrics: new MemoryMetrics(),
    clock: new ManualClock(1_000_000),
  };
  return { ...deps, ...overrides } as MemoryDeps & EngineDeps;
}

interface MemoryDeps {
  store: MemoryConnectorStore;
  state: MemoryStateStore;
  metrics: MemoryMetrics;
  clock: ManualClock;
}

/** A project, its functions registered, memory deps, and a `run(flowId, rows)` shortcut. */
export function engine(
  config: Parameters<typeof project>[0],
  // biome-ignore lint/suspicious/noExplicitAny: test functions have all sorts of row types
  functions: Record<string, KisFunction<any, any>>,
  deps: Partial<EngineDeps> = {},
) {
  const proj = project(config);
  const registry = new Registry();
  for (const [fid, fn] of Object.entries(functions)) registry.addFunction(fid, fn);
  const d = memoryDeps(deps);
  return {
    project: proj,
    registry,
    deps: d,
    plan: (flowId: string) => FlowPlan.build(proj, flowId),
    run: (flowId: string, rows: readonly Row[], options?: RunFlowOptions): Promise<FlowResult> =>
      runFlow(FlowPlan.build(proj, flowId), rows, registry, d, options),
  };
}

/** `n` rows `{ id: 0..n-1 }`. */
export function rowsOf(n: number, extra: (i: number) => Row = () => ({})): Row[] {
  return Array.from({ length: n }, (_, i) => ({ id: i, ...extra(i) }));
}
