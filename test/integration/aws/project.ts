import type { ConnSpec, FlowSpec, FuncSpec, ProjectConfig } from '../../../kisflow/config/model.ts';

const tuning = {
  batchSize: 10,
  batchingWindowSeconds: 0,
  timeoutSeconds: 30,
  memoryMb: 256,
  maxMessageBytes: 262_144,
};

function func(fid: string, retryTimes: number, cid?: string): FuncSpec {
  return {
    fid,
    fname: fid,
    fmode: cid ? 'Save' : 'Calculate',
    source: { must: [] },
    retryTimes,
    retryDurationMs: 0,
    defaultParams: {},
    handler: `functions/${fid}.ts`,
    ...(cid ? { cid } : {}),
  };
}

function flow(flowId: string, fids: string[], extra: Partial<FlowSpec> = {}): FlowSpec {
  return {
    flowId,
    flowName: flowId,
    enabled: true,
    steps: fids.map((fid) => ({ fid, params: {} })),
    tuning,
    ...extra,
  };
}

const conn = (cid: string, type = 'dynamodb', ttlSeconds?: number): ConnSpec => ({
  cid,
  cname: cid,
  type,
  key: { kind: 'fields', fields: ['id'] },
  params: {},
  load: [],
  save: [],
  flows: [],
  ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
});

/** A small project: two enabled flows (one with a non-ASCII id), one disabled, three connectors. */
export function testProject(): ProjectConfig {
  const funcs = [func('verify', 0), func('save', 2, 'orders'), func('price', 4), func('校验', 1)];
  const flows = [
    flow('orders', ['verify', 'save', 'price'], {
      source: {
        eventBus: 'orders-bus',
        eventPattern: { source: ['shop.orders'], 'detail-type': ['OrderPlaced'] },
      },
    }),
    flow('订单', ['校验', 'price']),
    flow('off', ['verify'], { enabled: false }),
  ];
  return {
    root: '/tmp/kisflow-test',
    funcs: new Map(funcs.map((f) => [f.fid, f])),
    flows: new Map(flows.map((f) => [f.flowId, f])),
    conns: new Map(
      [conn('orders'), conn('expiring', 'dynamodb', 3_600), conn('cache', 'redis')].map((c) => [c.cid, c]),
    ),
    jobs: new Map(),
    global: { prometheusEnable: false, prometheusListen: false, metricsNamespace: 'KisFlow' },
  };
}
