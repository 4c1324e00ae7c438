import type { Command } from 'commander';
import { tailQueue } from '../../aws/queue-tail.ts';
import {
  type DeploymentOptions,
  deploymentOptions,
  openDeployment,
  positiveInteger,
} from '../deployment-options.ts';
import { openJsonLinesWriter } from '../jsonl.ts';

interface TailOptions extends DeploymentOptions {
  follow?: boolean;
  peek?: boolean;
  max?: string;
}

/** `kisflow tail <flow_id>`: the flow's output rows as JSON Lines on stdout. */
export function register(program: Command): void {
  deploymentOptions(program.command('tail'))
    .description(
      "print the rows in a flow's output queue as JSON Lines on stdout (consumed, or left in place with --peek)",
    )
    .argument('<flow_id>', 'the flow whose output to read')
    .option('-f, --follow', 'keep waiting for new output until Ctrl-C')
    .option('--peek', 'leave the messages in the queue')
    .option('--max <n>', 'stop after this many messages')
    .action(async (flowId: string, opts: TailOptions) => {
      const max = positiveInteger(opts.max, '--max');
      const deployment = await openDeployment(flowId, opts);
      const out = await openJsonLinesWriter('-');
      const abort = new AbortController();
      const stop = () => abort.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const result = await tailQueue(deployment.clients.sqs, deployment.queues.outputQueue, {
          follow: opts.follow === true,
          peek: opts.peek === true,
          signal: abort.signal,
          ...(max === undefined ? {} : { max }),
          onBatch: async (batch) => {
            for (const row of batch.rows) await out.write(row);
          },
          onUndecodable: (body, error) =>
            process.stderr.write(
              `skipped a message that is not a KisFlow envelope (${error.code}): ${body.slice(0, 120)}\n`,
            ),
        });
        process.stderr.write(
          `${flowId}: ${result.rows} row(s) from ${result.messages} message(s)${opts.peek ? ' (left in the queue)' : ''}\n`,
        );
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        await out.close();
        deployment.close();
      }
    });
}
