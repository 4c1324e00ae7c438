import { describe, expect, it } from 'vitest';
import { buildProject, ConfigError } from '../../../kisflow/config/index.ts';
import { useTempProjects } from './temp-project.ts';

const make = useTempProjects();

function issuesOf(build: () => unknown): string[] {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues.map((i) => {
      expect(i.file).toBeUndefined();
      return i.message;
    });
  }
  throw new Error('expected a ConfigError');
}

describe('buildProject', () => {
  it('builds a project from YAML-spelled objects, kistype optional, with the same defaults', () => {
    const project = buildProject(
      {
        funcs: [
          { fid: 'Verify', fmode: 'v', source: { must: ['id'] } },
          { kistype: 'func', fid: 'Save', fmode: 'Save', option: { cid: 'Store', retry_times: 2 } },
        ],
        flows: [{ flow_id: 'Main', flows: [{ fid: 'Verify' }, { fid: 'Save', params: { mode: 'fast' } }] }],
        conns: [{ cid: 'Store', key: 'item#{id}', save: ['Save'] }],
        jobs: [{ job_id: 'Tick', schedule: 'rate(1 minute)', flow_id: 'Main' }],
        global: { metrics_namespace: 'Test' },
      },
      { root: '/project' },
    );
    expect(project.root).toBe('/project');
    expect(project.funcs.get('Verify')).toEqual({
      fid: 'Verify',
      fname: 'Verify',
      fmode: 'Verify',
      source: { must: ['id'] },
      retryTimes: 0,
      retryDurationMs: 0,
      usesState: false,
      defaultParams: {},
      handler: 'functions/Verify.ts',
    });
    expect(project.funcs.get('Save')).toMatchObject({ cid: 'Store', retryTimes: 2 });
    expect(project.flows.get('Main')).toEqual({
      flowId: 'Main',
      flowName: 'Main',
      enabled: true,
      steps: [
        { fid: 'Verify', params: {} },
        { fid: 'Save', params: { mode: 'fast' } },
      ],
      tuning: {
        batchSize: 10,
        batchingWindowSeconds: 0,
        timeoutSeconds: 30,
        memoryMb: 256,
        maxMessageBytes: 262_144,
        maxReceives: 5,
      },
    });
    expect(project.conns.get('Store')).toEqual({
      cid: 'Store',
      cname: 'Store',
      type: 'dynamodb',
      key: { kind: 'template', template: 'item#{id}', fields: ['id'] },
      params: {},
      load: [],
      save: ['Save'],
      flows: [],
    });
    expect(project.jobs.get('Tick')).toEqual({
      jobId: 'Tick',
      schedule: 'rate(1 minute)',
      timezone: 'UTC',
      flowId: 'Main',
      enabled: true,
      params: {},
    });
    expect(project.global).toEqual({
      prometheusEnable: false,
      prometheusListen: false,
      metricsNamespace: 'Test',
    });
  });

  it('defaults to an empty project with default global settings', () => {
    const project = buildProject({});
    expect(project.flows.size).toBe(0);
    expect(project.global.metricsNamespace).toBe('KisFlow');
  });

  it('names the object and the field path in shape errors', () => {
    expect(
      issuesOf(() =>
        buildProject({
          funcs: [
            { fid: 'A', fmode: 'Calculate' },
            { fid: 'B', fmode: 'Calculate', option: { retry_times: -1, retry_durations: 5 } },
          ],
          flows: [{ flow_id: 'F', flows: [{ fid: 'A' }], tuning: { memory: 64 } }],
        }),
      ),
    ).toEqual([
      'funcs[1] (func "B"): option.retry_times: must be at least 0, got number -1',
      'funcs[1] (func "B"): unknown key "retry_durations" in option (did you mean "retry_duration"?)',
      'flows[0] (flow "F"): tuning.memory: must be at least 128, got number 64',
    ]);
  });

  it('runs the reference checks', () => {
    expect(
      issuesOf(() =>
        buildProject({
          funcs: [
            { fid: 'A', fmode: 'Calculate' },
            { fid: 'A', fmode: 'Expand' },
          ],
          flows: [{ flow_id: 'F', flows: [{ fid: 'A' }, { fid: 'B' }] }],
          jobs: [{ job_id: 'J', schedule: 'at(2026-12-01T08:00:00)', flow_id: 'G' }],
        }),
      ),
    ).toEqual([
      'duplicate func id "A": already defined at funcs[0]; ids must be unique per kistype',
      'flow "F" step 2 uses function "B", which has no func document',
      'job "J" starts flow "G", which has no flow document',
    ]);
  });

  it('rejects a kistype that contradicts the list and unknown input keys', () => {
    expect(
      issuesOf(() => buildProject({ funcs: [{ kistype: 'flow', flow_id: 'F' }], func: [] } as never)),
    ).toEqual([
      'unknown key "func" in the project input (did you mean "funcs"?); allowed: funcs, flows, conns, jobs, global',
      'funcs[0]: kistype string "flow" in the list of func objects; write "func" or leave it out',
    ]);
  });

  it('checks handler modules only when asked', () => {
    const root = make({ 'functions/A.ts': '' });
    const input = {
      funcs: [
        { fid: 'A', fmode: 'C' },
        { fid: 'B', fmode: 'C' },
      ],
    };
    expect(buildProject(input, { root }).funcs.size).toBe(2);
    expect(issuesOf(() => buildProject(input, { root, checkHandlers: true }))).toEqual([
      `func "B": handler module "functions/B.ts" does not exist in ${root} (also tried with .ts, .js, .mts appended); create it, or set handler to the module's path from the project root`,
    ]);
  });
});
