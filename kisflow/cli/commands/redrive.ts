import type { Command } from 'commander';
import { redrive } from '../../aws/dead-letters.ts';
import { openFlowDeployment } from '../../aws/deployment.ts';
import { loadProject } from '../../config/index.ts';
import { UsageError } from '../../errors.ts';
import { selectSteps } from './dlq.ts';

interface RedriveOptions {
  dir: string;
  step?: string;
  max?: string;
  endpoint?: string;
  prefix?: string;
}

/** `kisflow redrive <flow_id>`: dead letters back to the steps they came from. */
export function register(program: Command): void {
  program
    .command('redrive')
    .description(
      "send a flow's dead letters back to their steps (rejected rows as a new batch, failed messages as they were)",
    )
    .argument('<flow_id>', 'the flow')
    .option('--step <fid>', 'only the DLQ of the step(s) running this fid (or a step index)')
    .option('--max <n>', 'at most this many dead letters per step')
    .option('-d, --dir <dir>', 'flows directory', 'flows')
    .option(
      '--endpoint <url>',
      'AWS-compatible endpoint (default: AWS_ENDPOINT_URL, a running kisflow dev, else AWS)',
    )
    .option('--prefix <prefix>', 'resource name prefix (default: the running kisflow dev one, else kisflow)')
    .action(async (flowId: string, opts: RedriveOptions) => {
      const max = opts.max === undefined ? undefined : Number(opts.max);
      if (max !== undefined && (!Number.isInteger(max) || max < 1)) {
        throw new UsageError('BAD_OPTION', `--max must be a positive integer, received "${opts.max}"`);
      }
      const project = await loadProject(opts.dir);
      const deployment = await openFlowDeployment(project, {
        flowId,
        root: process.cwd(),
        ...(opts.endpoint === undefined ? {} : { endpoint: opts.endpoint }),
        ...(opts.prefix === undefined ? {} : { prefix: opts.prefix }),
      });
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
            max === undefined ? {} : { max },
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
