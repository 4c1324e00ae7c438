import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadProject, validateProject } from '../../../kisflow/config/index.ts';
import { useTempProjects } from './temp-project.ts';

const make = useTempProjects();

const MULTI = `---
kistype: func
fid: Double
fmode: calculate
---
# nothing but a comment
---
kistype: flow
flow_id: Numbers
flows:
  - fid: Double
    params: { factor: 2, nested: { list: [1, true, null] } }
  - fname: Double
---
kistype: job
job_id: Every5
schedule: rate(5 minutes)
flow_id: Numbers
rows:
  - { n: 1 }
---
`;

describe('loading YAML folders', () => {
  it('reads several documents per file, skipping empty ones, with positions per document', async () => {
    const root = make({ 'flows/numbers.yml': MULTI, 'functions/Double.ts': '' });
    const project = await loadProject(path.join(root, 'flows'), { root });
    expect(project.root).toBe(root);
    expect(project.funcs.get('Double')?.at).toMatchObject({ line: 2, col: 1 });
    const flow = project.flows.get('Numbers');
    expect(flow?.at).toMatchObject({ line: 8, col: 1 });
    expect(flow?.steps.map((s) => [s.fid, s.at?.line, s.at?.col])).toEqual([
      ['Double', 11, 5],
      ['Double', 13, 5],
    ]);
    expect(flow?.steps[0]?.params).toEqual({ factor: 2, nested: { list: [1, true, null] } });
    expect(flow?.tuning).toEqual({
      batchSize: 10,
      batchingWindowSeconds: 0,
      timeoutSeconds: 30,
      memoryMb: 256,
      maxMessageBytes: 262_144,
      maxReceives: 5,
    });
    expect(project.jobs.get('Every5')).toMatchObject({
      schedule: 'rate(5 minutes)',
      timezone: 'UTC',
      flowId: 'Numbers',
      enabled: true,
      params: {},
      rows: [{ n: 1 }],
    });
    expect(project.global).toEqual({
      prometheusEnable: false,
      prometheusListen: false,
      metricsNamespace: 'KisFlow',
    });
  });

  it('walks sub-folders in sorted order, reads .yaml too, and skips hidden folders and node_modules', async () => {
    const flow = (id: string) => `kistype: flow\nflow_id: ${id}\nflows:\n  - fid: F\n`;
    const root = make({
      'flows/b.yml': flow('B'),
      'flows/a/z.yaml': flow('A'),
      'flows/a/y.YML': flow('Y'),
      'flows/f.yml': 'kistype: func\nfid: F\nfmode: E\n',
      'flows/.drafts/broken.yml': 'kistype: nonsense\n',
      'flows/node_modules/pkg/x.yml': 'kistype: nonsense\n',
      'flows/notes.txt': 'kistype: nonsense\n',
      'functions/F.ts': '',
    });
    const project = await loadProject(path.join(root, 'flows'), { root });
    expect([...project.flows.keys()]).toEqual(['Y', 'A', 'B']);
  });

  it('reads the tuning, source, conn keys and global settings', async () => {
    const yaml = `kistype: flow
flow_id: Orders
status: 0
flows:
  - fid: SaveOrder
tuning:
  batch_size: 500
  batching_window: 5
  max_concurrency: 20
  timeout: 120
  memory: 1024
  max_message_bytes: 1048576
source:
  event_pattern: { source: [shop.orders] }
  event_bus: shop
---
kistype: func
fid: SaveOrder
fmode: Save
option: { cid: Orders }
---
kistype: conn
cid: Orders
key: "order#{orderid}#{userid}"
ttl: 3600
save: [SaveOrder]
flow: [Orders]
---
kistype: conn
cid: ByFields
key: [userid, orderid]
---
kistype: global
prometheus_enable: true
prometheus_listen: true
prometheus_serve: "[::1]:9100"
metrics_namespace: Shop/Orders
`;
    const root = make({ 'flows/orders.yml': yaml, 'functions/SaveOrder.ts': '' });
    const project = await loadProject(path.join(root, 'flows'), { root });
    const flow = project.flows.get('Orders');
    expect(flow?.enabled).toBe(false);
    expect(flow?.tuning).toEqual({
      batchSize: 500,
      batchingWindowSeconds: 5,
      maxConcurrency: 20,
      timeoutSeconds: 120,
      memoryMb: 1024,
      maxMessageBytes: 1_048_576,
      maxReceives: 5,
    });
    expect(flow?.source).toEqual({ eventPattern: { source: ['shop.orders'] }, eventBus: 'shop' });
    expect(project.conns.get('Orders')).toMatchObject({
      type: 'dynamodb',
      key: { kind: 'template', template: 'order#{orderid}#{userid}', fields: ['orderid', 'userid'] },
      ttlSeconds: 3600,
    });
    expect(project.conns.get('ByFields')?.key).toEqual({ kind: 'fields', fields: ['userid', 'orderid'] });
    expect(project.global).toMatchObject({ prometheusServe: '[::1]:9100', metricsNamespace: 'Shop/Orders' });
  });

  it('resolves anchors, aliases and merge keys', async () => {
    const yaml = `kistype: func
fid: A
fmode: C
---
kistype: flow
flow_id: F
flows:
  - fid: A
    params: &common { x: 1, y: 2 }
  - fid: A
    params:
      <<: *common
      y: 3
`;
    const root = make({ 'flows/a.yml': yaml, 'functions/A.ts': '' });
    const project = await loadProject(path.join(root, 'flows'), { root });
    expect(project.flows.get('F')?.steps.map((s) => s.params)).toEqual([
      { x: 1, y: 2 },
      { x: 1, y: 3 },
    ]);
  });

  it('accepts a single YAML file as well as a folder', async () => {
    const root = make({ 'flows/one.yml': 'kistype: func\nfid: A\nfmode: V\n', 'functions/A.ts': '' });
    const project = await loadProject(path.join(root, 'flows/one.yml'), { root });
    expect([...project.funcs.keys()]).toEqual(['A']);
  });

  it('loadProject throws one ConfigError listing every problem as file:line:col', async () => {
    const root = make({ 'flows/a.yml': 'kistype: func\nfid: A\nfmode: X\n---\nkistype: job\njob_id: J\n' });
    const error = await loadProject(path.join(root, 'flows'), { root }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    const configError = error as ConfigError;
    expect(configError.code).toBe('CONFIG_INVALID');
    expect(configError.issues.map((i) => [i.line, i.col])).toEqual([
      [3, 8],
      [5, 1],
      [5, 1],
    ]);
    const lines = configError.message.split('\n');
    expect(lines[0]).toBe('3 configuration problems:');
    expect(lines[1]).toMatch(/flows\/a\.yml:3:8: func "A": fmode: must be one of/);
    expect(lines.slice(2).every((l) => /flows\/a\.yml:5:1: job "J": missing required field/.test(l))).toBe(
      true,
    );
  });

  it('validateProject returns the project and no issues when all is well', async () => {
    const root = make({
      'flows/a.yml': 'kistype: func\nfid: A\nfmode: V\nhandler: src/a\n',
      'src/a.mts': '',
    });
    const result = await validateProject(path.join(root, 'flows'), { root });
    expect(result.issues).toEqual([]);
    expect(result.project?.funcs.get('A')?.handler).toBe('src/a');
  });
});
