import { cancelRun } from '../cli/commands/runs.ts';
import { openFlowDeployment } from '../cli/deployment.ts';
import { redriveSteps, type StepRedrive } from '../cli/redrive-flow.ts';
import { type JobTriggerResult, triggerJob } from '../cli/trigger-job.ts';
import type { Params } from '../config/model.ts';
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
  cancelRun(runId: string, reason: string): Promise<RunRecord>;
  /** `kisflow redrive <flow>`, limited to the picked dead letters. */
  redrive(flowId: string, picks: readonly RedrivePick[]): Promise<StepRedrive[]>;
  /** `kisflow jobs pause <job>` */
  pauseJob(jobId: string): Promise<unknown>;
  /** `kisflow jobs resume <job>` */
  resumeJob(jobId: string): Promise<unknown>;
  /** `kisflow runs retry <run>` */
  retryRun(runId: string): Promise<unknown>;
}

/** An operation this build of kisflow does not have yet (the UI shows the message). */
export function notInThisBuild(operation: string, command: string): never {
  throw new UsageError(
    'NOT_IN_THIS_BUILD',
    `${operation} is not available in this build of kisflow (\`${command}\` does not exist yet).`,
    { operation },
  );
}

/** The console's actions over the CLI's functions, against the deployment `context` reads. */
export function cliActions(context: ConsoleContext): ConsoleActions {
  const job = async (jobId: string) => {
    const project = await context.project();
    const found = project.jobs.get(jobId);
    if (found) return { project, job: found };
    throw new UsageError('UNKNOWN_JOB', `No job '${jobId}' in the flows directory.`, { jobId });
  };
  return {
    async triggerJob(jobId, params) {
      const { project, job: spec } = await job(jobId);
      return triggerJob(project, spec, params, context.trigger);
    },
    cancelRun: (runId, reason) => cancelRun(context.ledger, runId, reason),
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
    pauseJob: async () => notInThisBuild('Pausing a job', 'kisflow jobs pause'),
    resumeJob: async () => notInThisBuild('Resuming a job', 'kisflow jobs resume'),
    retryRun: async () => notInThisBuild('Retrying a run', 'kisflow runs retry'),
  };
}
