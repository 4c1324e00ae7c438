import { type AwsClients, createAwsClients, destroyAwsClients } from '../aws/clients.ts';
import { didYouMean } from '../config/did-you-mean.ts';
import type { FlowSpec, ProjectConfig } from '../config/model.ts';
import { InfrastructureError, UsageError } from '../errors.ts';
import { locateResources, type ProvisionedResources } from '../local/provision.ts';
import { type EndpointSource, resolveEndpoints } from './endpoints.ts';

export interface FlowDeploymentOptions {
  readonly flowId: string;
  /** Where `.kisflow/dev.json` is looked for (the directory `kisflow dev` runs in). */
  readonly root: string;
  /** `--endpoint`. */
  readonly endpoint?: string;
  /** `--prefix`. @default - the running dev stack's prefix, else 'kisflow' */
  readonly prefix?: string;
}

/** One flow of a running deployment (AWS or local), as the operator commands need it. */
export interface FlowDeployment {
  readonly flow: FlowSpec;
  readonly queues: ProvisionedResources['flows'][string];
  readonly clients: AwsClients;
  readonly source: EndpointSource;
  /** The SQS endpoint in use (undefined: AWS). */
  readonly endpoint?: string;
  readonly prefix: string;
  /** Closes the clients' sockets. */
  close(): void;
}

/** The enabled flow `flowId`, or a UsageError saying what exists. */
export function enabledFlow(project: ProjectConfig, flowId: string): FlowSpec {
  const flow = project.flows.get(flowId);
  if (flow === undefined) {
    const hint = didYouMean(flowId, project.flows.keys());
    throw new UsageError(
      'UNKNOWN_FLOW',
      `There is no flow '${flowId}'${hint ? `; did you mean '${hint}'?` : ''} (flows: ${[...project.flows.keys()].join(', ') || 'none'}).`,
      { flowId },
    );
  }
  if (!flow.enabled) {
    throw new UsageError(
      'FLOW_DISABLED',
      `Flow '${flowId}' has status: 0, so it is neither deployed nor run by kisflow dev. Set status: 1 to use it.`,
      { flowId },
    );
  }
  return flow;
}

/**
 * Finds one flow's queues where the commands should talk (`--endpoint` > `AWS_ENDPOINT_URL` >
 * a running `kisflow dev` > AWS), turning "nothing there" into UsageErrors that say how to fix it.
 *
 * @example
 * const deployment = await openFlowDeployment(project, { flowId: 'orders', root: process.cwd() });
 * try { ... deployment.queues.stepQueues[0] ... } finally { deployment.close(); }
 */
export async function openFlowDeployment(
  project: ProjectConfig,
  options: FlowDeploymentOptions,
): Promise<FlowDeployment> {
  const flow = enabledFlow(project, options.flowId);
  const endpoints = resolveEndpoints({
    root: options.root,
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
  });
  const prefix = options.prefix ?? endpoints.prefix ?? 'kisflow';
  const clients = createAwsClients({
    ...(endpoints.sqsEndpoint === undefined ? {} : { sqsEndpoint: endpoints.sqsEndpoint }),
    ...(endpoints.dynamodbEndpoint === undefined ? {} : { dynamodbEndpoint: endpoints.dynamodbEndpoint }),
  });
  try {
    const resources = await locateResources(project, clients.sqs, { prefix, flowIds: [flow.flowId] });
    const queues = resources.flows[flow.flowId];
    if (queues === undefined) throw new UsageError('NOT_DEPLOYED', `Flow '${flow.flowId}' is not deployed.`);
    return {
      flow,
      queues,
      clients,
      source: endpoints.source,
      ...(endpoints.sqsEndpoint === undefined ? {} : { endpoint: endpoints.sqsEndpoint }),
      prefix,
      close: () => destroyAwsClients(clients),
    };
  } catch (error) {
    destroyAwsClients(clients);
    if (error instanceof InfrastructureError && error.code === 'SQS_UNREACHABLE') {
      const where =
        endpoints.source === 'aws'
          ? `AWS (no --endpoint, no AWS_ENDPOINT_URL, and no running \`kisflow dev\` in ${options.root})`
          : `${endpoints.sqsEndpoint} (from ${endpoints.source === 'flag' ? '--endpoint' : endpoints.source === 'env' ? 'AWS_ENDPOINT_URL' : '.kisflow/dev.json'})`;
      throw new UsageError(
        'ENDPOINT_UNREACHABLE',
        `Cannot reach SQS at ${where}: ${error.message}. Start \`kisflow dev\` in this directory, pass --endpoint, or configure AWS credentials and region.`,
        { source: endpoints.source },
        { cause: error },
      );
    }
    throw error;
  }
}
