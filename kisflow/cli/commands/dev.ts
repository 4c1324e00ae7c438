import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import { startDevStack } from '../../local/dev-stack.ts';

interface DevOptions {
  dir: string;
  prefix: string;
}

/** The one line a user (or a script waiting for readiness) reads once everything is up. */
export function readyLine(stack: {
  sqsEndpoint: string;
  dynamodbEndpoint: string;
  flowIds: readonly string[];
  metricsUrl?: string;
}): string {
  const metrics = stack.metricsUrl === undefined ? '' : ` metrics=${stack.metricsUrl}`;
  return `kisflow dev ready: sqs=${stack.sqsEndpoint} dynamodb=${stack.dynamodbEndpoint} flows=${stack.flowIds.join(',')}${metrics}`;
}

export function register(program: Command): void {
  program
    .command('dev')
    .description(
      'run every enabled flow locally: real Lambda handlers on embedded SQS/DynamoDB emulators (or AWS_ENDPOINT_URL), jobs on a timer, Prometheus metrics; Ctrl-C stops',
    )
    .option('-d, --dir <dir>', 'flows directory', 'flows')
    .option('--prefix <prefix>', 'resource name prefix', 'kisflow')
    .action(async (options: DevOptions) => {
      if (!/^[A-Za-z0-9_-]{1,40}$/.test(options.prefix)) {
        throw new UsageError(
          'INVALID_PREFIX',
          `--prefix must be 1 to 40 letters, digits, '-' or '_' (it starts every queue and table name), received '${options.prefix}'.`,
        );
      }
      const stack = await startDevStack({
        dir: options.dir,
        root: process.cwd(),
        prefix: options.prefix,
        log: (line) => process.stderr.write(`${line}\n`),
      });
      process.stdout.write(`${readyLine(stack)}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      process.stderr.write('kisflow dev: stopping (in-flight batches finish)...\n');
      await stack.stop();
    });
}
