import { copyFileSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatConfigIssue, loadProject, validateProject } from '../../../kisflow/config/index.ts';
import { useTempProjects } from './temp-project.ts';

const SEED = 'test/fixtures/seed';
const make = useTempProjects();

/** The seed's four examples plus the one function they use without defining. */
async function completeSeed() {
  const root = make({
    'functions/测试KisFunction_S1.ts': '',
    'functions/测试PrintInput.ts': '',
  });
  for (const file of readdirSync(path.join(SEED, 'flows'))) {
    copyFileSync(path.join(SEED, 'flows', file), path.join(root, 'flows', file));
  }
  copyFileSync('test/fixtures/config/seed-print-input.yml', path.join(root, 'flows', 'print-input.yml'));
  return loadProject(path.join(root, 'flows'), { root });
}

describe('the seed design note examples', () => {
  it('are kept verbatim, non-ASCII ids and all', () => {
    const func = readFileSync(path.join(SEED, 'flows/func.yml'), 'utf8');
    expect(func.startsWith('kistype: func\nfid: 测试KisFunction_S1\nfname: 测试KisFunction_S1\n')).toBe(true);
    // The note has a line of four spaces after `must`; a copy that "cleaned" it would not be the seed.
    expect(func).toContain('    - orderid\n    \noption:');
    const global = readFileSync(path.join(SEED, 'flows/global.yml'), 'utf8');
    expect(global.startsWith('#kistype Global为kisflow的全局配置\nkistype: global\n')).toBe(true);
  });

  it('load together with exactly one error: the function the flow uses and no document defines', async () => {
    const { project, issues } = await validateProject(path.join(SEED, 'flows'), { root: SEED });
    expect(project).toBeUndefined();
    const file = path.relative(process.cwd(), path.resolve(SEED, 'flows/flow.yml'));
    expect(issues).toEqual([
      {
        file,
        line: 6,
        col: 10,
        message:
          'flow "MyFlow1" step 1 uses function "测试PrintInput", which has no func document; steps 3, 4, 6 use it too',
      },
    ]);
    expect(formatConfigIssue(issues[0] as (typeof issues)[0])).toBe(
      `${file}:6:10: flow "MyFlow1" step 1 uses function "测试PrintInput", which has no func document; steps 3, 4, 6 use it too`,
    );
  });

  it('load into the model once that function exists', async () => {
    const project = await completeSeed();
    const func = project.funcs.get('测试KisFunction_S1');
    expect(func).toMatchObject({
      fid: '测试KisFunction_S1',
      fname: '测试KisFunction_S1',
      fmode: 'Save',
      source: { name: '被校验的测试数据源1-用户订单维度', must: ['userid', 'orderid'] },
      cid: '测试KisConnector_1',
      retryTimes: 3,
      retryDurationMs: 500,
      defaultParams: { default1: 'default1_param', default2: 'default2_param' },
      handler: 'functions/测试KisFunction_S1.ts',
    });

    const flow = project.flows.get('MyFlow1');
    expect(flow?.flowName).toBe('MyFlow1');
    expect(flow?.enabled).toBe(true);
    expect(flow?.steps.map((s) => s.fid)).toEqual([
      '测试PrintInput',
      '测试KisFunction_S1',
      '测试PrintInput',
      '测试PrintInput',
      '测试KisFunction_S1',
      '测试PrintInput',
    ]);
    // Step params override the function's default_params, key by key.
    const step3 = flow?.steps[2];
    const step5 = flow?.steps[4];
    expect({ ...project.funcs.get('测试PrintInput')?.defaultParams, ...step3?.params }).toEqual({
      args1: 'value11',
      args2: 'value22',
      default2: 'newDefault',
    });
    expect({ ...func?.defaultParams, ...step5?.params }).toEqual({
      default1: 'default1_param',
      default2: 'default2_param',
      my_user_param1: 'ffffffxxxxxx',
    });
    expect(flow?.steps[1]?.params).toEqual({});

    const conn = project.conns.get('测试KisConnector_1');
    expect(conn).toMatchObject({
      cid: '测试KisConnector_1',
      cname: '测试KisConnector_1',
      type: 'redis',
      addrs: '0.0.0.0:9988,0.0.0.0:9999,0.0.0.0:9990',
      key: { kind: 'literal', name: 'userid_orderid_option' },
      params: { args1: 'value1', args2: 'value2' },
      load: [],
      save: ['测试KisFunction_S1'],
      flows: ['MyFlow1'],
    });
    expect(conn?.handler).toBeUndefined();

    expect(project.global).toMatchObject({
      prometheusEnable: true,
      prometheusListen: true,
      prometheusServe: '0.0.0.0:20004',
      metricsNamespace: 'KisFlow',
    });
  });

  it('record where each object and step was written', async () => {
    const project = await completeSeed();
    const flow = project.flows.get('MyFlow1');
    expect(flow?.at).toMatchObject({ line: 1, col: 1 });
    expect(flow?.at?.file).toMatch(/flows\/flow\.yml$/);
    expect(flow?.steps.map((s) => s.at?.line)).toEqual([6, 10, 11, 16, 17, 20]);
    expect(flow?.steps[0]?.at?.col).toBe(5);
    // The global document starts after its comment line.
    expect(project.global.at).toMatchObject({ line: 2, col: 1 });
  });
});
