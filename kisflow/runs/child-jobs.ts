import type { JobSpec } from '../config/model.ts';
import { isFailure, jobPolicy } from './job-policy.ts';
import type { RunRecord, RunStart } from './run-ledger.ts';

/**
 * The runs a finished run of `parent` starts: its `on_success` jobs when it succeeded, its
 * `on_failure` jobs when it failed, ended partial or timed out; none when cancelled or skipped.
 * A job may be the child of several parents: it runs once per parent run. Run ids derive from
 * the parent run, so a finish handled twice starts each child once.
 */
export function childRuns(
  parent: JobSpec,
  finished: RunRecord,
  jobs: ReadonlyMap<string, JobSpec>,
): RunStart[] {
  const policy = jobPolicy(parent);
  const children =
    finished.status === 'succeeded' ? policy.onSuccess : isFailure(finished.status) ? policy.onFailure : [];
  return children.flatMap((jobId) => {
    const job = jobs.get(jobId);
    if (!job) return [];
    const child = jobPolicy(job);
    return [
      {
        runId: `${finished.id}>${jobId}`,
        flowId: job.flowId,
        jobId,
        trigger: 'child' as const,
        params: { ...job.params },
        roots: child.shards,
        parentRunId: finished.id,
        ...(child.timeoutMs === undefined ? {} : { timeoutMs: child.timeoutMs }),
        ...(child.scene === undefined ? {} : { scene: child.scene }),
      },
    ];
  });
}
