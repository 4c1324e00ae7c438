import {
  GetScheduleCommand,
  ResourceNotFoundException,
  SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { InfrastructureError, UsageError } from '../errors.ts';

export interface ScheduleSwitchOptions {
  /** @default - a client for `endpoint` (else AWS) with the default region and credentials */
  readonly scheduler?: SchedulerClient;
  /** An AWS-compatible endpoint (LocalStack), when no `scheduler` is given. */
  readonly endpoint?: string;
  /** The schedule group. @default 'default' (where the flow stacks create theirs) */
  readonly groupName?: string;
}

/**
 * Turns a job's EventBridge Scheduler schedule on or off. UpdateSchedule replaces the whole
 * schedule ("any parameter you don't specify is reset"), so the schedule is read first and
 * written back whole with only its State changed.
 * https://docs.aws.amazon.com/scheduler/latest/APIReference/API_UpdateSchedule.html
 *
 * The caller needs scheduler:GetSchedule, scheduler:UpdateSchedule and iam:PassRole on the
 * schedule's target role (UpdateSchedule passes it again).
 *
 * @throws UsageError `NOT_DEPLOYED` when there is no such schedule; InfrastructureError otherwise.
 * @example await setScheduleState('kisflow-job-nightly', 'DISABLED', { scheduler });
 */
export async function setScheduleState(
  name: string,
  state: 'ENABLED' | 'DISABLED',
  options: ScheduleSwitchOptions = {},
): Promise<void> {
  const scheduler =
    options.scheduler ??
    new SchedulerClient(options.endpoint === undefined ? {} : { endpoint: options.endpoint });
  const GroupName = options.groupName ?? 'default';
  try {
    const current = await scheduler.send(new GetScheduleCommand({ Name: name, GroupName }));
    if (current.State === state) return;
    await scheduler.send(
      new UpdateScheduleCommand({
        Name: name,
        GroupName,
        ScheduleExpression: current.ScheduleExpression,
        ScheduleExpressionTimezone: current.ScheduleExpressionTimezone,
        StartDate: current.StartDate,
        EndDate: current.EndDate,
        Description: current.Description,
        KmsKeyArn: current.KmsKeyArn,
        Target: current.Target,
        FlexibleTimeWindow: current.FlexibleTimeWindow,
        ActionAfterCompletion: current.ActionAfterCompletion,
        State: state,
      }),
    );
  } catch (error) {
    if (
      error instanceof ResourceNotFoundException ||
      (error as Error)?.name === 'ResourceNotFoundException'
    ) {
      throw new UsageError(
        'NOT_DEPLOYED',
        `There is no EventBridge Scheduler schedule '${name}' (group ${GroupName}): deploy the job's flow stack first (npx cdk deploy).`,
        { schedule: name },
        { cause: error },
      );
    }
    throw new InfrastructureError(
      'SCHEDULE_UPDATE_FAILED',
      `Could not set schedule '${name}' to ${state}: ${(error as Error)?.message ?? String(error)}`,
      { schedule: name, state },
      { cause: error },
    );
  } finally {
    if (options.scheduler === undefined) scheduler.destroy();
  }
}
