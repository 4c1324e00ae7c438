import { statSync } from 'node:fs';
import path from 'node:path';
import type { ConfigIssue } from '../errors.ts';
import { type ConfigDocument, issueAt } from './config-document.ts';
import { didYouMeanHint } from './did-you-mean.ts';
import { childJobIssues } from './job-references.ts';
import type { ConnSpec, FlowSpec, FuncSpec, JobSpec } from './model.ts';

/** A config object that passed the shape checks, with the document it came from. */
export interface Entry<Spec> {
  readonly spec: Spec;
  readonly doc: ConfigDocument;
}

export interface ShapedObjects {
  readonly funcs: ReadonlyMap<string, Entry<FuncSpec>>;
  readonly flows: ReadonlyMap<string, Entry<FlowSpec>>;
  readonly conns: ReadonlyMap<string, Entry<ConnSpec>>;
  readonly jobs: ReadonlyMap<string, Entry<JobSpec>>;
  /** Ids of objects whose shape was wrong: they exist, so references to them are not reported missing. */
  readonly misshapen: {
    readonly func: ReadonlySet<string>;
    readonly flow: ReadonlySet<string>;
    readonly conn: ReadonlySet<string>;
    readonly job?: ReadonlySet<string>;
  };
  /** Some document could not be read at all: any id may be in it, so nothing is reported missing. */
  readonly incomplete: boolean;
}

export interface ReferenceOptions {
  /** Absolute project root; handler modules resolve against it. */
  readonly root: string;
  readonly checkHandlers: boolean;
}

const MODULE_SUFFIXES = ['', '.ts', '.js', '.mts'];

/** Whether a module path names a file under `root`, as written or with a usual suffix. */
export function moduleExists(root: string, modulePath: string): boolean {
  return MODULE_SUFFIXES.some((suffix) => {
    try {
      return statSync(path.resolve(root, modulePath + suffix)).isFile();
    } catch {
      return false;
    }
  });
}

function idKeyPath(doc: ConfigDocument, prefix: readonly (string | number)[], keys: readonly string[]) {
  const key = keys.find((k) => doc.has([...prefix, k])) ?? keys[0];
  return [...prefix, key as string];
}

/**
 * The second validation pass: every reference between objects, and every handler module, checked
 * over objects whose shape is already known good. Returns all problems, never stops at the first.
 *
 * @example
 * const issues = referenceIssues(shaped, { root: process.cwd(), checkHandlers: true });
 */
export function referenceIssues(objects: ShapedObjects, options: ReferenceOptions): ConfigIssue[] {
  const { funcs, flows, conns, jobs, misshapen, incomplete } = objects;
  const issues: ConfigIssue[] = [];
  const missingFunc = (fid: string) => !funcs.has(fid) && !misshapen.func.has(fid) && !incomplete;
  const missingFlow = (id: string) => !flows.has(id) && !misshapen.flow.has(id) && !incomplete;
  const missingConn = (cid: string) => !conns.has(cid) && !misshapen.conn.has(cid) && !incomplete;

  for (const { spec: flow, doc } of flows.values()) {
    if (flow.steps.length === 0) {
      issues.push(
        issueAt(
          doc,
          ['flows'],
          `flow "${flow.flowId}" has no steps: list its functions under flows (e.g. "- fid: MyFunction")`,
        ),
      );
    }
    // One issue per missing function, at its first step: the fix is one func document.
    const reported = new Set<string>();
    flow.steps.forEach((step, i) => {
      if (reported.has(step.fid) || !missingFunc(step.fid)) return;
      reported.add(step.fid);
      const others = flow.steps.flatMap((s, j) => (j > i && s.fid === step.fid ? [j + 1] : []));
      const also = others.length > 0 ? `; steps ${others.join(', ')} use it too` : '';
      issues.push(
        issueAt(
          doc,
          idKeyPath(doc, ['flows', i], ['fid', 'fname']),
          `flow "${flow.flowId}" step ${i + 1} uses function "${step.fid}", which has no func document${didYouMeanHint(step.fid, funcs.keys())}${also}`,
        ),
      );
    });
  }

  for (const { spec: func, doc } of funcs.values()) {
    if (func.cid !== undefined && missingConn(func.cid)) {
      issues.push(
        issueAt(
          doc,
          idKeyPath(doc, ['option'], ['cid', 'cname']),
          `func "${func.fid}" uses connector "${func.cid}", which has no conn document${didYouMeanHint(func.cid, conns.keys())}`,
        ),
      );
    }
    if (func.cid === undefined && (func.fmode === 'Save' || func.fmode === 'Load')) {
      issues.push(
        issueAt(
          doc,
          ['fmode'],
          `func "${func.fid}" has fmode ${func.fmode} but no connector: set option.cid to the id of a conn document`,
        ),
      );
    }
    if (options.checkHandlers && !moduleExists(options.root, func.handler)) {
      issues.push(
        issueAt(
          doc,
          doc.has(['handler']) ? ['handler'] : [],
          `func "${func.fid}": handler module "${func.handler}" does not exist in ${options.root} (also tried with .ts, .js, .mts appended); create it, or set handler to the module's path from the project root`,
        ),
      );
    }
  }

  for (const { spec: conn, doc } of conns.values()) {
    for (const [list, mode] of [
      ['save', 'Save'],
      ['load', 'Load'],
    ] as const) {
      conn[list].forEach((fid, j) => {
        const func = funcs.get(fid)?.spec;
        const lists = `conn "${conn.cid}" lists function "${fid}" under ${list}`;
        let problem: string | undefined;
        if (!func) {
          if (missingFunc(fid))
            problem = `${lists}, which has no func document${didYouMeanHint(fid, funcs.keys())}`;
        } else if (func.cid !== conn.cid) {
          const uses = func.cid === undefined ? 'has no connector' : `uses connector "${func.cid}"`;
          problem = `${lists}, but func "${fid}" ${uses}; set its option.cid to "${conn.cid}" or remove it from ${list}`;
        } else if (func.fmode !== mode) {
          problem = `${lists}, but func "${fid}" has fmode ${func.fmode}; ${list} lists ${mode} functions`;
        }
        if (problem) issues.push(issueAt(doc, [list, j], problem));
      });
    }
    conn.flows.forEach((flowId, j) => {
      if (missingFlow(flowId)) {
        issues.push(
          issueAt(
            doc,
            ['flow', j],
            `conn "${conn.cid}" lists flow "${flowId}", which has no flow document${didYouMeanHint(flowId, flows.keys())}`,
          ),
        );
      }
    });
    if (options.checkHandlers && conn.handler !== undefined && !moduleExists(options.root, conn.handler)) {
      issues.push(
        issueAt(
          doc,
          ['handler'],
          `conn "${conn.cid}": handler module "${conn.handler}" does not exist in ${options.root} (also tried with .ts, .js, .mts appended); create it, or fix the path (from the project root)`,
        ),
      );
    }
  }

  for (const { spec: job, doc } of jobs.values()) {
    if (missingFlow(job.flowId)) {
      issues.push(
        issueAt(
          doc,
          ['flow_id'],
          `job "${job.jobId}" starts flow "${job.flowId}", which has no flow document${didYouMeanHint(job.flowId, flows.keys())}`,
        ),
      );
    }
  }
  issues.push(...childJobIssues(jobs, misshapen.job ?? new Set(), incomplete));
  return issues;
}
