import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import { startDevStack } from '../../local/dev-stack.ts';
import { describeQueueDepth } from '../../local/queue-depths.ts';

interface DevOptions {
  dir: string;
  prefix: string;
  fresh?: boolean;
  watch: boolean;
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
      'run every enabled flow locally: real Lambda handlers on embedded SQS/DynamoDB emulators (or AWS_ENDPOINT_URL), kept in .kisflow/dev/ across restarts, jobs on a timer, Prometheus metrics, reloaded when a file changes; Ctrl-C stops',
    )
    .option('-d, --dir <dir>', 'flows directory', 'flows')
    .option('--prefix <prefix>', 'resource name prefix', 'kisflow')
    .option('--fresh', 'start with empty queues and tables (delete .kisflow/dev/ first)')
    .option('--no-watch', 'do not reload functions and YAML when they change')
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
        watch: options.watch,
        // One dev per folder, also against AWS_ENDPOINT_URL: two would poll the same queues.
        lock: true,
        ...(options.fresh ? { fresh: true } : {}),
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
      // A second Ctrl-C does not wait for in-flight batches: their messages come back after their
      // visibility timeout (from .kisflow/dev/ when the embedded emulators keep them).
      const force = () => {
        process.stderr.write(
          'kisflow dev: stopped without waiting; in-flight batches will be delivered again.\n',
        );
        process.exit(130);
      };
      process.once('SIGINT', force);
      process.stderr.write(
        'kisflow dev: stopping (in-flight batches finish; Ctrl-C again to stop at once)...\n',
      );
      const left = await stack.stop();
      process.off('SIGINT', force);
      if (left.length === 0) {
        process.stderr.write('kisflow dev: stopped; nothing is queued.\n');
        return;
      }
      const kept =
        stack.stateDir !== undefined
          ? `kept in ${stack.stateDir}; the next kisflow dev here carries on with them`
          : 'they stay on the server';
      process.stderr.write(`kisflow dev: stopped; still queued (${kept}):\n`);
      for (const depth of left) process.stderr.write(`  ${describeQueueDepth(depth)}\n`);
    });
}
