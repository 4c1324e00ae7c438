import type { ConfigIssue } from '../config/index.ts';
import type { ProjectConfig, SourcePosition } from '../config/model.ts';
import { moduleProblems } from '../engine/load-functions.ts';

/**
 * Each handler module that fails to import, or exports no `defineFunction`/`defineConnector`, at
 * its document: the second half of `kisflow validate`, and what the console's Config page shows.
 */
export async function handlerIssues(project: ProjectConfig): Promise<ConfigIssue[]> {
  const at = (position: SourcePosition | undefined, message: string): ConfigIssue =>
    position ? { file: position.file, line: position.line, col: position.col, message } : { message };
  return (await moduleProblems(project)).map(({ fid, cid, error }) =>
    fid !== undefined
      ? at(project.funcs.get(fid)?.at, `func "${fid}": ${error.message}`)
      : at(project.conns.get(cid as string)?.at, `conn "${cid}": ${error.message}`),
  );
}
