import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';

interface ConsoleCommandOptions {
  port: string;
  host: string;
  token?: string;
  dir: string;
  endpoint?: string;
  prefix?: string;
  region?: string;
}

/** `kisflow console`: the web console over the running `kisflow dev` or a deployed account. */
export function register(program: Command): void {
  program
    .command('console')
    .description('serve the web console (overview, flows, runs, jobs, dead letters, connectors, config)')
    .option('--port <n>', 'port to listen on (0: any free port)', '8290')
    .option('--host <host>', 'address to bind; anything but loopback requires the token', '127.0.0.1')
    .option(
      '--token <token>',
      'the token actions (and, off loopback, reads) need (default: KISFLOW_CONSOLE_TOKEN, else generated)',
    )
    .option('-d, --dir <dir>', 'flows directory', 'flows')
    .option(
      '--endpoint <url>',
      'AWS-compatible endpoint (default: AWS_ENDPOINT_URL, a running kisflow dev, else AWS)',
    )
    .option('--prefix <prefix>', 'resource name prefix (default: the running kisflow dev one, else kisflow)')
    .option('--region <region>', 'AWS region; also the price list used for cost')
    .action(async (opts: ConsoleCommandOptions) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65_535) {
        throw new UsageError('BAD_OPTION', `--port must be a port number (0-65535), received "${opts.port}"`);
      }
      // The server (Hono, the UI bundle) loads only for this command.
      const { startConsole } = await import('../../console/server.ts');
      const running = await startConsole({
        dir: opts.dir,
        root: process.cwd(),
        port,
        host: opts.host,
        ...(opts.token === undefined ? {} : { token: opts.token }),
        ...(opts.endpoint === undefined ? {} : { endpoint: opts.endpoint }),
        ...(opts.prefix === undefined ? {} : { prefix: opts.prefix }),
        ...(opts.region === undefined ? {} : { region: opts.region }),
      });
      process.stdout.write(`kisflow console: ${running.url}\n`);
      process.stderr.write(
        running.loopback
          ? `bound to ${running.host} (this machine only); actions carry the token the page holds\n`
          : `bound to ${running.host}: every request needs the token ${running.token} (already in the URL above)\n`,
      );
      const stop = () => {
        void running.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await new Promise(() => {});
    });
}
