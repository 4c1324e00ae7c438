import type { Command } from 'commander';
import { openFlowDeployment } from '../../aws/deployment.ts';
import { tailQueue } from '../../aws/queue-tail.ts';
import { loadProject } from '../../config/index.ts';
import { UsageError } from '../../errors.ts';
import { openJsonLinesWriter } from '../jsonl.ts';

interface TailOptions {
  dir: string;
  follow?: boolean;
  peek?: boolean;
  max?: string;
  endpoint?: string;
  prefix?: string;
}

/** `kisflow tail <flow_id>`: the flow's output rows as JSON Lines on stdout. */
export function register(program: Command): void {
  program
    .command('tail')
    .description(
      "print the rows in a flow's output queue as JSON Lines on stdout (consumed, or left in place with --peek)",
    )
    .argument('<flow_id>', 'the flow whose output to read')
    .option('-f, --follow', 'keep waiting for new output until Ctrl-C')
    .option('--peek', 'leave the messages in the queue')
    .option('--max <n>', 'stop after this many messages')
    .option('-d, --dir <dir>', 'flows directory', 'flows')
    .option(
      '--endpoint <url>',
      'AWS-compatible endpoint (default: AWS_ENDPOINT_URL, a running kisflow dev, else AWS)',
    )
    .option('--prefix <prefix>', 'resource name prefix (default: the running kisflow dev one, else kisflow)')
    .action(async (flowId: string, opts: TailOptions) => {
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
      const out = openJsonLinesWriter('-');
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
