import type { Command } from 'commander';
import { loadProject } from '../config/index.ts';
import { UsageError } from '../errors.ts';
import { type FlowDeployment, openFlowDeployment } from './deployment.ts';

/** The options every command that talks to a deployed (or `kisflow dev`) flow takes. */
export interface DeploymentOptions {
  dir: string;
  endpoint?: string;
  prefix?: string;
}

export function deploymentOptions(command: Command): Command {
  return command
    .option('-d, --dir <dir>', 'flows directory', 'flows')
    .option(
      '--endpoint <url>',
      'AWS-compatible endpoint (default: AWS_ENDPOINT_URL, a running kisflow dev, else AWS)',
    )
    .option('--prefix <prefix>', 'resource name prefix (default: the running kisflow dev one, else kisflow)');
}

/** Loads the flows and finds the flow's queues on the endpoint the options (or the environment) name. */
export async function openDeployment(flowId: string, opts: DeploymentOptions): Promise<FlowDeployment> {
  const project = await loadProject(opts.dir);
  return openFlowDeployment(project, {
    flowId,
    root: process.cwd(),
    ...(opts.endpoint === undefined ? {} : { endpoint: opts.endpoint }),
    ...(opts.prefix === undefined ? {} : { prefix: opts.prefix }),
  });
}

/** `--max`-style options: undefined when absent, else a positive integer or a UsageError. */
export function positiveInteger(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new UsageError('BAD_OPTION', `${flag} must be a positive integer, received "${value}"`);
  return n;
}
