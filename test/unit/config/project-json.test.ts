import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildProject,
  ConfigError,
  loadProject,
  type ProjectConfig,
  type ProjectJson,
  projectFromJson,
  projectToJson,
} from '../../../kisflow/config/index.ts';

/** The project with every source position removed, written independently of projectToJson. */
function withoutPositions(project: ProjectConfig) {
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (value instanceof Map) return new Map([...value].map(([k, v]) => [k, strip(v)]));
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(
        Object.entries(value).flatMap(([k, v]) => (k === 'at' ? [] : [[k, strip(v)]])),
      );
    }
    return value;
  };
  return strip(project);
}

const twoFlows = () =>
  buildProject({
    funcs: [
      { fid: 'VerifyA', fmode: 'Verify' },
      { fid: 'SaveA', fmode: 'Save', option: { cid: 'StoreA' } },
      { fid: 'SaveB', fmode: 'Save', option: { cid: 'StoreB' } },
    ],
    flows: [
      { flow_id: 'A', flows: [{ fid: 'VerifyA' }, { fid: 'SaveA', params: { p: [1, { q: null }] } }] },
      {
        flow_id: 'B',
        flows: [{ fid: 'VerifyA' }, { fid: 'SaveB' }],
        source: { event_pattern: { source: ['x'] } },
      },
    ],
    conns: [
      { cid: 'StoreA', key: ['id'], ttl: 60 },
      { cid: 'StoreB', type: 'redis', key: 'all' },
    ],
    jobs: [
      { job_id: 'TickA', schedule: 'rate(1 hour)', flow_id: 'A', rows: [{ n: 1 }] },
      { job_id: 'TickB', schedule: 'rate(2 hours)', flow_id: 'B' },
    ],
    global: { prometheus_enable: true },
  });

describe('projectToJson / projectFromJson', () => {
  it('round-trips a loaded project exactly, positions aside, through JSON text', async () => {
    const root = 'test/fixtures/config/spellings';
    const project = await loadProject(path.join(root, 'seed'), { root });
    expect(project.flows.get('OrderFlow')?.at).toBeDefined();
    const text = JSON.stringify(projectToJson(project));
    expect(text).not.toContain('"at"');
    const back = projectFromJson(JSON.parse(text) as ProjectJson);
    expect(back).toStrictEqual(withoutPositions(project));
  });

  it('round-trips every kind of field', () => {
    const project = twoFlows();
    expect(projectFromJson(JSON.parse(JSON.stringify(projectToJson(project))))).toStrictEqual(project);
  });

  it('keeps only one flow, its functions, their connectors and its jobs', () => {
    const project = twoFlows();
    const json = projectToJson(project, { flowId: 'B' });
    expect(json.flows.map((f) => f.flowId)).toEqual(['B']);
    expect(json.funcs.map((f) => f.fid)).toEqual(['VerifyA', 'SaveB']);
    expect(json.conns.map((c) => c.cid)).toEqual(['StoreB']);
    expect(json.jobs.map((j) => j.jobId)).toEqual(['TickB']);
    expect(json.global).toEqual(project.global);
    const back = projectFromJson(json);
    expect(back.flows.get('B')).toStrictEqual(project.flows.get('B'));
    expect(back.funcs.get('SaveB')).toStrictEqual(project.funcs.get('SaveB'));
    expect(back.conns.get('StoreB')).toStrictEqual(project.conns.get('StoreB'));
    expect(back.jobs.get('TickB')).toStrictEqual(project.jobs.get('TickB'));
  });

  it('does not share objects with the project it came from', () => {
    const project = twoFlows();
    const json = projectToJson(project) as unknown as {
      flows: { steps: { params: Record<string, unknown> }[] }[];
    };
    (json.flows[0]?.steps[1]?.params as Record<string, unknown>).p = 'changed';
    expect(project.flows.get('A')?.steps[1]?.params.p).toEqual([1, { q: null }]);
  });

  it('rejects an unknown flow id and JSON of another version', () => {
    expect(() => projectToJson(twoFlows(), { flowId: 'C' })).toThrow(ConfigError);
    expect(() => projectToJson(twoFlows(), { flowId: 'a' })).toThrow(
      /no flow "a" in the project \(did you mean "A"\?\)/,
    );
    expect(() => projectFromJson({ version: 2 } as unknown as ProjectJson)).toThrow(
      /version 1 \(got version 2\)/,
    );
  });
});
