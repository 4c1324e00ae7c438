import { describe, expect, it } from 'vitest';
import { loadProject, projectToJson } from '../../../kisflow/config/index.ts';

const ROOT = 'test/fixtures/config/spellings';

describe("Go KisFlow's spellings", () => {
  it('load to the same model as the seed spellings', async () => {
    const go = await loadProject(`${ROOT}/go`, { root: ROOT });
    const seed = await loadProject(`${ROOT}/seed`, { root: ROOT });
    expect(projectToJson(go)).toEqual(projectToJson(seed));
  });

  it('read fname, flow_name and cname as ids, option.cname and return_duration', async () => {
    const go = await loadProject(`${ROOT}/go`, { root: ROOT });
    expect([...go.funcs.keys()]).toEqual(['PrintInput', 'SaveOrder']);
    expect(go.funcs.get('SaveOrder')).toMatchObject({
      fname: 'SaveOrder',
      fmode: 'Save',
      cid: 'Orders',
      retryTimes: 2,
      retryDurationMs: 750,
      handler: 'functions/SaveOrder.ts',
    });
    // `fmode: calculate` (any case) and `fmode: S` (initial) are both modes.
    expect(go.funcs.get('PrintInput')?.fmode).toBe('Calculate');
    expect(go.flows.get('OrderFlow')?.steps.map((s) => s.fid)).toEqual(['PrintInput', 'SaveOrder']);
    expect(go.conns.get('Orders')).toMatchObject({
      cname: 'Orders',
      key: { kind: 'literal', name: 'redis-key' },
    });
  });
});
