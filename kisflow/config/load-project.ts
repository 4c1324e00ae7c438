import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, type ConfigIssue } from '../errors.ts';
import { checkDocuments, sortIssues } from './check-project.ts';
import type { ProjectConfig } from './model.ts';
import { readYamlDocuments } from './yaml-documents.ts';

export interface LoadOptions {
  /**
   * Project root: handler modules resolve against it. Default: the nearest folder at or above
   * `dir` that holds a package.json or is the working directory, else the working directory.
   */
  readonly root?: string;
  /** The deployment prefix the synth-time name checks assume (`-c kisflow:prefix`). Default `kisflow`. */
  readonly prefix?: string;
}

/**
 * The project that holds a flows directory: `kisflow run --dir ../shop/flows` must load
 * `../shop/functions/`, not the working directory's; flows under the working directory keep it
 * as their root.
 */
export function projectRootOf(dir: string): string {
  const cwd = process.cwd();
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    if (at === cwd || existsSync(path.join(at, 'package.json'))) return at;
    if (path.dirname(at) === at) return cwd;
  }
}

/**
 * Reads and checks every YAML file under `dir` and reports every problem, located as
 * `file:line:col`. Never throws for a mistake in the config (a missing folder is an issue too).
 *
 * @example
 * const { project, issues } = await validateProject('flows');
 * for (const issue of issues) console.error(formatConfigIssue(issue));
 */
export async function validateProject(
  dir: string,
  options: LoadOptions = {},
): Promise<{ project?: ProjectConfig; issues: ConfigIssue[] }> {
  const root = path.resolve(options.root ?? projectRootOf(dir));
  const read = await readYamlDocuments(dir);
  const checked = checkDocuments(read.documents, {
    root,
    checkHandlers: true,
    incomplete: read.incomplete,
    ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
  });
  const issues = sortIssues([...read.issues, ...checked.issues]);
  return issues.length === 0 && checked.project ? { project: checked.project, issues } : { issues };
}

/**
 * Loads the project's configuration from the YAML under `dir`.
 *
 * @throws ConfigError listing every problem.
 * @example
 * const project = await loadProject('flows');
 * project.flows.get('MyFlow1')?.steps.map((s) => s.fid);
 */
export async function loadProject(dir: string, options: LoadOptions = {}): Promise<ProjectConfig> {
  const { project, issues } = await validateProject(dir, options);
  if (!project) throw new ConfigError(issues);
  return project;
}
