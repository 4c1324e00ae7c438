import type { Command } from 'commander';
import { type DeadLetter, redrive } from '../../aws/dead-letters.ts';
import {
  type DeploymentOptions,
  deploymentOptions,
  openDeployment,
  positiveInteger,
} from '../deployment-options.ts';
import { redriveSteps } from '../redrive-flow.ts';
import { selectSteps } from './dlq.ts';
import { parseSince } from './runs.ts';

interface RedriveOptions extends DeploymentOptions {
  step?: string;
  max?: string;
  run?: string;
  code?: string;
  since?: string;
  until?: string;
}

/** The dead letters the filters select (all of them without filters). */
export function deadLetterFilter(
  opts: Pick<RedriveOptions, 'run' | 'code' | 'since' | 'until'>,
  now: number,
): { select: (letter: DeadLetter) => boolean; sentBefore?: number } {
  const since = opts.since === undefined ? undefined : parseSince(opts.since, now, '--since');
  const until = opts.until === undefined ? undefined : parseSince(opts.until, now, '--until');
  return {
    select: (letter) =>
      (opts.run === undefined || letter.runId === opts.run) &&
      (opts.code === undefined || letter.code === opts.code) &&
      (since === undefined || (letter.sentAt ?? 0) >= since),
    ...(until === undefined ? {} : { sentBefore: until }),
  };
}

/** `kisflow redrive <flow_id>`: dead letters back to the steps they came from. */
export function register(program: Command): void {
  deploymentOptions(program.command('redrive'))
    .description(
      "send a flow's dead letters back to their steps (rejected rows as a new batch, failed messages as they were); the ones the filters leave out stay in the DLQ untouched",
    )
    .argument('<flow_id>', 'the flow')
    .option('--step <fid>', 'only the DLQ of the step(s) running this fid (or a step index)')
    .option('--run <run>', 'only dead letters of this run')
    .option('--code <code>', 'only dead letters with this code (as `kisflow dlq` shows it)')
    .option('--since <when>', 'only dead letters that reached the DLQ since (30m, 24h, 7d or an ISO date)')
    .option('--until <when>', 'only dead letters that reached the DLQ before (30m, 24h, 7d or an ISO date)')
    .option('--max <n>', 'at most this many dead letters per step')
    .action(async (flowId: string, opts: RedriveOptions) => {
      const max = positiveInteger(opts.max, '--max');
      const filter = deadLetterFilter(opts, Date.now());
      const deployment = await openDeployment(flowId, opts);
      try {
        let total = 0;
        for (const { step, fid, moved } of await redriveSteps(
          deployment,
          selectSteps(deployment.flow, opts.step),
          {
            ...filter,
            ...(max === undefined ? {} : { max }),
            ...(deployment.flow.tuning.ordering === undefined
              ? {}
              : { ordering: deployment.flow.tuning.ordering }),
          },
        )) {
          total += moved;
          process.stdout.write(`step ${step} (${fid}): ${moved} dead letter(s) sent back\n`);
        }
        process.stdout.write(`${flowId}: ${total} dead letter(s) redriven\n`);
      } finally {
        deployment.close();
      }
    });
}
