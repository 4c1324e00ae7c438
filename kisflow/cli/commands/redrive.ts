import type { Command } from 'commander';
import { redrive } from '../../aws/dead-letters.ts';
import {
  type DeploymentOptions,
  deploymentOptions,
  openDeployment,
  positiveInteger,
} from '../deployment-options.ts';
import { selectSteps } from './dlq.ts';

interface RedriveOptions extends DeploymentOptions {
  step?: string;
  max?: string;
}

/** `kisflow redrive <flow_id>`: dead letters back to the steps they came from. */
export function register(program: Command): void {
  deploymentOptions(program.command('redrive'))
    .description(
      "send a flow's dead letters back to their steps (rejected rows as a new batch, failed messages as they were)",
    )
    .argument('<flow_id>', 'the flow')
    .option('--step <fid>', 'only the DLQ of the step(s) running this fid (or a step index)')
    .option('--max <n>', 'at most this many dead letters per step')
    .action(async (flowId: string, opts: RedriveOptions) => {
      const max = positiveInteger(opts.max, '--max');
      const deployment = await openDeployment(flowId, opts);
      try {
        const { flow, queues } = deployment;
        let total = 0;
        for (const step of selectSteps(flow, opts.step)) {
          // A dead letter goes back to the step it names (an oversize row may sit in the sender's
          // DLQ but belong to the next step); one that names none, to this DLQ's step.
          const target = (message: { step?: number }) =>
            queues.stepQueues[message.step ?? step] ?? (queues.stepQueues[step] as string);
          const moved = await redrive(
            deployment.clients.sqs,
            queues.stepDeadLetterQueues[step] as string,
            target,
            {
              ...(max === undefined ? {} : { max }),
              ...(flow.tuning.ordering === undefined ? {} : { ordering: flow.tuning.ordering }),
            },
          );
          total += moved;
          process.stdout.write(
            `step ${step} (${flow.steps[step]?.fid}): ${moved} dead letter(s) sent back\n`,
          );
        }
        process.stdout.write(`${flowId}: ${total} dead letter(s) redriven\n`);
      } finally {
        deployment.close();
      }
    });
}
