import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import type {
  ConnSpec,
  FlowSpec,
  FlowTuning,
  FuncSpec,
  GlobalSpec,
  JobSpec,
  Params,
  ProjectConfig,
} from '../../kisflow/config/model.ts';

/** Configs for the CDK tests, built in code; handlers are the stand-in modules under test/fixtures/infra. */
export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const PRINT = 'test/fixtures/infra/seed/functions/print-input.ts';
export const SAVE = 'test/fixtures/infra/seed/functions/save-s1.ts';

export const DEFAULT_TUNING: FlowTuning = {
  batchSize: 10,
  batchingWindowSeconds: 0,
  timeoutSeconds: 30,
  memoryMb: 256,
  maxMessageBytes: 262_144,
};

export function func(fid: string, over: Partial<FuncSpec> = {}): FuncSpec {
  return {
    fid,
    fname: fid,
    fmode: 'Calculate',
    source: { must: [] },
    retryTimes: 0,
    retryDurationMs: 0,
    defaultParams: {},
    handler: PRINT,
    ...over,
  };
}

export function flow(
  flowId: string,
  steps: readonly (string | { fid: string; params: Params })[],
  over: Partial<Omit<FlowSpec, 'tuning'>> & { tuning?: Partial<FlowTuning> } = {},
): FlowSpec {
  return {
    flowId,
    flowName: flowId,
    enabled: true,
    ...over,
    steps: steps.map((s) => (typeof s === 'string' ? { fid: s, params: {} } : s)),
    tuning: { ...DEFAULT_TUNING, ...over.tuning },
  };
}

export function conn(cid: string, over: Partial<ConnSpec> = {}): ConnSpec {
  return {
    cid,
    cname: cid,
    type: 'dynamodb',
    key: { kind: 'fields', fields: ['order_id'] },
    params: {},
    load: [],
    save: [],
    flows: [],
    ...over,
  };
}

export function job(jobId: string, flowId: string, over: Partial<JobSpec> = {}): JobSpec {
  return { jobId, schedule: 'rate(5 minutes)', timezone: 'UTC', flowId, enabled: true, params: {}, ...over };
}

export function project(parts: {
  funcs: readonly FuncSpec[];
  flows: readonly FlowSpec[];
  conns?: readonly ConnSpec[];
  jobs?: readonly JobSpec[];
  global?: Partial<GlobalSpec>;
}): ProjectConfig {
  return {
    root: REPO_ROOT,
    funcs: new Map(parts.funcs.map((f) => [f.fid, f])),
    flows: new Map(parts.flows.map((f) => [f.flowId, f])),
    conns: new Map((parts.conns ?? []).map((c) => [c.cid, c])),
    jobs: new Map((parts.jobs ?? []).map((j) => [j.jobId, j])),
    global: {
      prometheusEnable: false,
      prometheusListen: false,
      metricsNamespace: 'KisFlow',
      ...parts.global,
    },
  };
}

/**
 * A shop: `orders` (V → S → C → E, tuned, fed by an event rule on a custom bus, C may jump back
 * to V), `订单流` (L → E, a non-ASCII id, a nightly job with rows), a disabled flow, a `dynamodb`
 * connector and a `redis` one.
 */
export function shopProject(): ProjectConfig {
  return project({
    funcs: [
      func('verify', { fmode: 'Verify', source: { must: ['order_id'] } }),
      func('save', { fmode: 'Save', cid: 'orders', retryTimes: 2, handler: SAVE }),
      func('load', { fmode: 'Load', cid: 'orders', retryTimes: 4 }),
      func('calc', { defaultParams: { jump_targets: ['verify'] }, maxReceives: 8, usesState: true }),
      func('publish', { fmode: 'Expand' }),
      func('cache', { fmode: 'Save', cid: 'redis_cache' }),
    ],
    conns: [
      conn('orders'),
      conn('redis_cache', { type: 'redis', handler: 'test/fixtures/infra/seed/connectors/redis.ts' }),
    ],
    flows: [
      flow('orders', ['verify', 'save', { fid: 'calc', params: { discount: 0.1 } }, 'publish'], {
        tuning: {
          batchSize: 50,
          batchingWindowSeconds: 2,
          maxConcurrency: 5,
          timeoutSeconds: 60,
          memoryMb: 512,
          maxMessageBytes: 524_288,
          maxReceives: 7,
        },
        source: { eventPattern: { source: ['shop'], 'detail-type': ['OrderPlaced'] }, eventBus: 'shop-bus' },
      }),
      flow('订单流', ['load', 'cache', 'publish']),
      flow('off', ['publish'], { enabled: false }),
    ],
    jobs: [
      job('nightly', '订单流', {
        schedule: 'cron(0 2 * * ? *)',
        timezone: 'Europe/Berlin',
        params: { reason: 'nightly recheck' },
        rows: [{ order_id: 'o-1', carrier: 'dhl' }],
      }),
      job('ticker', 'orders'),
      job('never', 'off', { enabled: false }),
    ],
    global: { metricsNamespace: 'ShopMetrics' },
  });
}

/** A flow's stack, failing the test when the app has none for the flow. */
export function flowStackOf<T>(flows: ReadonlyMap<string, T>, flowId: string): T {
  const stack = flows.get(flowId);
  if (stack === undefined)
    throw new Error(`no stack for flow ${flowId}; stacks: ${[...flows.keys()].join(', ')}`);
  return stack;
}

/**
 * A JSON document the CDK rendered as `Fn::Join` (JSON text around deploy-time references), parsed
 * back with each reference in its place, e.g. `{ "stepQueues": { "1": { "Ref": "Step1Queue..." } } }`.
 */
export function parseRenderedJson(value: unknown): unknown {
  if (typeof value === 'string') return JSON.parse(value);
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (!join) throw new Error(`not a rendered JSON document: ${JSON.stringify(value)}`);
  const refs: unknown[] = [];
  const text = join[1]
    .map((part) => (typeof part === 'string' ? part : `@@ref${refs.push(part) - 1}@@`))
    .join(join[0]);
  return JSON.parse(text, (_key, v) => {
    const m = typeof v === 'string' ? /^@@ref(\d+)@@$/.exec(v) : null;
    return m ? refs[Number(m[1])] : v;
  });
}

/**
 * An App for template-shape tests. CloudFormation's built-in template rules cost seconds to load
 * per test file; they run, strict as cdk.json sets them, in security.test.ts and on the real
 * bundles of seed-bundling.test.ts. cdk-nag runs on every synth.
 */
export function testApp(context: Record<string, unknown> = {}): App {
  return new App({ builtinCloudFormationValidation: false, context });
}
