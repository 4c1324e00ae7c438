import type { ConfigIssue } from '../errors.ts';
import { issueAt } from './config-document.ts';
import { didYouMeanHint } from './did-you-mean.ts';
import type { JobSpec } from './model.ts';
import type { Entry } from './references.ts';

const LISTS = [
  ['on_success', 'onSuccess'],
  ['on_failure', 'onFailure'],
] as const;

/**
 * Child jobs (`on_success`, `on_failure`): each names a job, and they never form a cycle, since a
 * cycle would start runs forever (re-running a failed job is `retry`'s work).
 */
export function childJobIssues(
  jobs: ReadonlyMap<string, Entry<JobSpec>>,
  misshapen: ReadonlySet<string>,
  incomplete: boolean,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const { spec: job, doc } of jobs.values()) {
    for (const [yaml, field] of LISTS) {
      (job[field] ?? []).forEach((child, j) => {
        if (!jobs.has(child) && !misshapen.has(child) && !incomplete) {
          issues.push(
            issueAt(
              doc,
              [yaml, j],
              `job "${job.jobId}" lists job "${child}" under ${yaml}, which has no job document${didYouMeanHint(child, jobs.keys())}`,
            ),
          );
        }
      });
    }
  }
  const children = (id: string) => {
    const spec = jobs.get(id)?.spec;
    return [...(spec?.onSuccess ?? []), ...(spec?.onFailure ?? [])].filter((c) => jobs.has(c));
  };
  const reported = new Set<string>();
  // Jobs from which no cycle is reachable: never explored twice, so the search stays linear.
  const acyclic = new Set<string>();
  for (const start of jobs.keys()) {
    // Depth-first from each job, reporting a cycle once, at the job of the cycle seen first.
    const path: string[] = [];
    const visit = (id: string): string[] | undefined => {
      if (path.includes(id)) return [...path.slice(path.indexOf(id)), id];
      if (acyclic.has(id)) return undefined;
      path.push(id);
      for (const child of children(id)) {
        const cycle = visit(child);
        if (cycle) return cycle;
      }
      path.pop();
      acyclic.add(id);
      return undefined;
    };
    const cycle = visit(start);
    if (!cycle || cycle[0] !== start) continue;
    const key = [...new Set(cycle)].sort().join('\u0000');
    if (reported.has(key)) continue;
    reported.add(key);
    const entry = jobs.get(start) as Entry<JobSpec>;
    const next = cycle[1] as string;
    const yaml = entry.spec.onSuccess?.includes(next) ? 'on_success' : 'on_failure';
    const list = yaml === 'on_success' ? entry.spec.onSuccess : entry.spec.onFailure;
    issues.push(
      issueAt(
        entry.doc,
        [yaml, list?.indexOf(next) ?? 0],
        `child jobs form a cycle: ${cycle.join(' → ')}; each run would start another forever. Remove one link (to re-run a failed job use retry)`,
      ),
    );
  }
  return issues;
}
