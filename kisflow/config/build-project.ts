import path from 'node:path';
import { ConfigError, type ConfigIssue } from '../errors.ts';
import { checkDocuments } from './check-project.ts';
import type { ConfigDocument } from './config-document.ts';
import { didYouMeanHint } from './did-you-mean.ts';
import type { Kistype } from './document-kind.ts';
import type { ProjectConfig } from './model.ts';
import { describeValue } from './shape-issues.ts';

/** Config objects in code, spelled as in YAML (`kistype` may be left out). */
export interface ProjectInput {
  readonly funcs?: readonly object[];
  readonly flows?: readonly object[];
  readonly conns?: readonly object[];
  readonly jobs?: readonly object[];
  readonly global?: object;
}

export interface BuildOptions {
  /** Project root. Default `process.cwd()`. */
  readonly root?: string;
  /** Check that handler modules exist. Default false: tests rarely have the files. */
  readonly checkHandlers?: boolean;
}

const GROUPS: Record<keyof ProjectInput, Kistype> = {
  funcs: 'func',
  flows: 'flow',
  conns: 'conn',
  jobs: 'job',
  global: 'global',
};

function inCode(value: unknown, label: string, kistype: Kistype): ConfigDocument {
  return { value, label, kistype, position: () => undefined, has: () => false };
}

/**
 * Builds a project from config objects in code, with the same schemas and reference checks as
 * the YAML loader; issues name the object and field instead of a file position.
 *
 * @throws ConfigError listing every problem.
 * @example
 * const project = buildProject({
 *   funcs: [{ fid: 'Double', fmode: 'Calculate' }],
 *   flows: [{ flow_id: 'Numbers', flows: [{ fid: 'Double', params: { factor: 2 } }] }],
 * });
 */
export function buildProject(input: ProjectInput, options: BuildOptions = {}): ProjectConfig {
  const documents: ConfigDocument[] = [];
  const issues: ConfigIssue[] = Object.keys(input)
    .filter((key) => !(key in GROUPS))
    .map((key) => ({
      message: `unknown key "${key}" in the project input${didYouMeanHint(key, Object.keys(GROUPS))}; allowed: ${Object.keys(GROUPS).join(', ')}`,
    }));
  for (const [group, kistype] of Object.entries(GROUPS) as [keyof ProjectInput, Kistype][]) {
    const value: unknown = input[group];
    if (value === undefined) continue;
    if (group === 'global') documents.push(inCode(value, 'global', kistype));
    else if (Array.isArray(value))
      documents.push(...value.map((item, i) => inCode(item, `${group}[${i}]`, kistype)));
    else
      issues.push({ message: `${group} must be a list of ${kistype} objects, got ${describeValue(value)}` });
  }
  const checked = checkDocuments(documents, {
    root: path.resolve(options.root ?? process.cwd()),
    checkHandlers: options.checkHandlers ?? false,
  });
  issues.push(...checked.issues);
  if (issues.length > 0 || !checked.project) throw new ConfigError(issues);
  return checked.project;
}
