import { ConfigError } from '../errors.ts';
import { didYouMeanHint } from './did-you-mean.ts';
import type { ConnSpec, FlowSpec, FuncSpec, GlobalSpec, JobSpec, ProjectConfig } from './model.ts';

/**
 * A project as plain JSON: lists instead of Maps, no source positions. What a Lambda bundle
 * embeds, so a deployed step needs neither the YAML nor the loader.
 */
export interface ProjectJson {
  readonly version: 1;
  readonly root: string;
  readonly funcs: readonly FuncSpec[];
  readonly flows: readonly FlowSpec[];
  readonly conns: readonly ConnSpec[];
  readonly jobs: readonly JobSpec[];
  readonly global: GlobalSpec;
}

function withoutAt<T extends { readonly at?: unknown }>(spec: T): T {
  const { at: _at, ...rest } = spec;
  return structuredClone(rest) as T;
}

function flowWithoutAt(flow: FlowSpec): FlowSpec {
  return withoutAt({ ...flow, steps: flow.steps.map(withoutAt) });
}

/**
 * The plain-JSON form of a project. With `flowId`, only that flow, the functions its steps run,
 * their connectors, and the jobs that start it (global settings are always kept).
 *
 * @throws ConfigError when `flowId` names no flow.
 * @example
 * const json = projectToJson(project, { flowId: 'MyFlow1' });
 * writeFileSync('bundle/project.json', JSON.stringify(json));
 */
export function projectToJson(project: ProjectConfig, options: { flowId?: string } = {}): ProjectJson {
  const { flowId } = options;
  let flows = [...project.flows.values()];
  let funcs = [...project.funcs.values()];
  let conns = [...project.conns.values()];
  let jobs = [...project.jobs.values()];
  if (flowId !== undefined) {
    const flow = project.flows.get(flowId);
    if (!flow) {
      throw new ConfigError([
        {
          message: `no flow "${flowId}" in the project${didYouMeanHint(flowId, project.flows.keys())}; flows: ${[...project.flows.keys()].join(', ') || 'none'}`,
        },
      ]);
    }
    const fids = new Set(flow.steps.map((s) => s.fid));
    flows = [flow];
    funcs = funcs.filter((f) => fids.has(f.fid));
    const cids = new Set(funcs.flatMap((f) => (f.cid === undefined ? [] : [f.cid])));
    conns = conns.filter((c) => cids.has(c.cid));
    jobs = jobs.filter((j) => j.flowId === flowId);
  }
  return {
    version: 1,
    root: project.root,
    funcs: funcs.map(withoutAt),
    flows: flows.map(flowWithoutAt),
    conns: conns.map(withoutAt),
    jobs: jobs.map(withoutAt),
    global: withoutAt(project.global),
  };
}

/**
 * The project a ProjectJson describes (the inverse of projectToJson, for what it kept).
 *
 * @throws ConfigError for JSON of another version or shape.
 * @example
 * const project = projectFromJson(JSON.parse(readFileSync('project.json', 'utf8')));
 */
export function projectFromJson(json: ProjectJson): ProjectConfig {
  const lists = [json?.funcs, json?.flows, json?.conns, json?.jobs];
  if (json?.version !== 1 || !lists.every(Array.isArray) || typeof json.global !== 'object') {
    throw new ConfigError([
      {
        message: `not a KisFlow project JSON of version 1 (got version ${JSON.stringify(json?.version)}); regenerate it with projectToJson`,
      },
    ]);
  }
  const copy = structuredClone(json);
  return {
    root: copy.root,
    funcs: new Map(copy.funcs.map((f) => [f.fid, f])),
    flows: new Map(copy.flows.map((f) => [f.flowId, f])),
    conns: new Map(copy.conns.map((c) => [c.cid, c])),
    jobs: new Map(copy.jobs.map((j) => [j.jobId, j])),
    global: copy.global,
  };
}
