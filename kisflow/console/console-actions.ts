import { announceRunEnded } from '../aws/control-queue.ts';
import { type JobControl, jobControl, jobThatFires, pauseJob, resumeJob } from '../cli/commands/jobs.ts';
import { cancelRun } from '../cli/commands/runs.ts';
import { openFlowDeployment } from '../cli/deployment.ts';
import { redriveSteps, retryRunDeadLetters, type StepRedrive } from '../cli/redrive-flow.ts';
import { type JobTriggerResult, triggerJob } from '../cli/trigger-job.ts';
import type { JobSpec, Params } from '../config/model.ts';
import { UsageError } from '../errors.ts';
import type { RunRecord } from '../runs/run-ledger.ts';
import type { ConsoleContext } from './console-context.ts';

/** Dead letters picked on the Dead letters page: message ids per step's DLQ. */
export interface RedrivePick {
  readonly step: number;
  readonly messageIds: readonly string[];
}

/**
 * What the console's buttons do. Each is the function the matching CLI command calls, so the
 * console is never a second implementation of an operation.
 */
export interface ConsoleActions {
  /** `kisflow jobs trigger <job> --param ...` */
  triggerJob(jobId: string, params: Params): Promise<JobTriggerResult>;
  /** `kisflow runs cancel <run>` */
  cancelRun(runId: string, reason: string): Promise<{ readonly run: RunRecord; readonly warning?: string }>;
  /** `kisflow redrive <flow>`, limited to the picked dead letters. */
  redrive(flowId: string, picks: readonly RedrivePick[]): Promise<StepRedrive[]>;
  /** `kisflow jobs pause <job>` */
  pauseJob(jobId: string): Promise<unknown>;
  /** `kisflow jobs resume <job>` */
  resumeJob(jobId: string): Promise<unknown>;
  /** `kisflow runs retry <run>` */
  retryRun(runId: string): Promise<unknown>;
}

/** The console's actions over the CLI's functions, against the deployment `context` reads. */
export function cliActions(context: ConsoleContext): ConsoleActions {
  const job = async (jobId: string) => {
    const project = await context.project();
    const found = project.jobs.get(jobId);
    if (found) return { project, job: found };
    throw new UsageError('UNKNOWN_JOB', `No job '${jobId}' in the flows directory.`, { jobId });
  };
  // `jobs pause|resume`: the same control (ledger; on AWS the schedule too) the CLI builds.
  const withJob = async <T>(jobId: string, act: (control: JobControl, job: JobSpec) => Promise<T>) => {
    const project = await context.project();
    const spec = jobThatFires(project, jobId);
    const deployment = await openFlowDeployment(project, { flowId: spec.flowId, ...context.trigger });
    try {
      return await act(jobControl(deployment, spec), spec);
    } finally {
      deployment.close();
    }
  };
  return {
    async triggerJob(jobId, params) {
      const { project, job: spec } = await job(jobId);
      return triggerJob(project, spec, params, context.trigger);
    },
    cancelRun: (runId, reason) =>
      cancelRun(context.ledger, runId, reason, (id) =>
        announceRunEnded(context.clients.sqs, context.prefix, id),
      ),
    async redrive(flowId, picks) {
      const deployment = await openFlowDeployment(await context.project(), {
        flowId,
        ...context.trigger,
      });
      try {
        const done: StepRedrive[] = [];
        for (const pick of picks) {
          if (!Number.isInteger(pick.step) || deployment.flow.steps[pick.step] === undefined) {
            throw new UsageError('UNKNOWN_STEP', `Flow '${flowId}' has no step ${pick.step}.`, {
              flowId,
              step: pick.step,
            });
          }
          done.push(...(await redriveSteps(deployment, [pick.step], { only: new Set(pick.messageIds) })));
        }
        return done;
      } finally {
        deployment.close();
      }
    },
    pauseJob: (jobId) =>
      withJob(jobId, (control, spec) => pauseJob(control, spec, 'paused from the console')),
    resumeJob: (jobId) =>
      withJob(jobId, (control, spec) => resumeJob(control, spec, 'resumed from the console')),
    async retryRun(runId) {
      const parent = await context.ledger.get(runId);
      if (parent === undefined) {
        throw new UsageError('UNKNOWN_RUN', `No run '${runId}' in the runs table.`, { runId });
      }
      const deployment = await openFlowDeployment(await context.project(), {
        flowId: parent.flowId,
        ...context.trigger,
      });
      try {
        return await retryRunDeadLetters(context.ledger, deployment, runId);
      } finally {
        deployment.close();
      }
    },
  };
}
