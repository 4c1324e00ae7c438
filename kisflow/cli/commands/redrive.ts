import type { Command } from 'commander';
import {
  type DeploymentOptions,
  deploymentOptions,
  openDeployment,
  positiveInteger,
} from '../deployment-options.ts';
import { redriveSteps } from '../redrive-flow.ts';
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
        let total = 0;
        for (const { step, fid, moved } of await redriveSteps(
          deployment,
          selectSteps(deployment.flow, opts.step),
          max === undefined ? {} : { max },
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
