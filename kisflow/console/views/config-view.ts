import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { handlerIssues } from '../../cli/handler-issues.ts';
import type { ConfigIssue } from '../../config/index.ts';
import type { ConsoleContext } from '../console-context.ts';
import { flowSummaries } from './flow-view.ts';

async function yamlFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const nested = await Promise.all(
    entries.map((e) =>
      e.isDirectory() ? yamlFiles(join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : [],
    ),
  );
  return nested.flat().sort();
}

/**
 * The Config page: every YAML file as it is on disk, `kisflow validate`'s problems (shape,
 * references, handlers) placed at their file and line, and what loaded.
 */
export async function configView(context: ConsoleContext) {
  const { project, issues } = await context.loaded();
  const all: ConfigIssue[] = [...issues, ...(project ? await handlerIssues(project) : [])];
  const root = resolve(context.target.root);
  const files = await Promise.all(
    (await yamlFiles(context.target.dir)).map(async (file) => ({
      file: relative(root, resolve(file)),
      text: await readFile(file, 'utf8'),
    })),
  );
  const rel = (file: string | undefined) => (file === undefined ? null : relative(root, resolve(root, file)));
  return {
    dir: context.target.dir,
    files,
    issues: all.map((i) => ({
      file: rel(i.file),
      line: i.line ?? null,
      col: i.col ?? null,
      message: i.message,
    })),
    flows: project ? flowSummaries(project) : [],
    funcs: project
      ? [...project.funcs.values()].map((f) => ({
          fid: f.fid,
          fname: f.fname,
          fmode: f.fmode,
          handler: f.handler,
          cid: f.cid ?? null,
        }))
      : [],
    jobs: project
      ? [...project.jobs.values()].map((j) => ({
          jobId: j.jobId,
          flowId: j.flowId,
          schedule: j.schedule,
          timezone: j.timezone,
        }))
      : [],
  };
}
