import { isProcessAlive, readDevEndpoints } from '../local/dev-endpoints.ts';

/** Where endpoints come from: `--endpoint`, `AWS_ENDPOINT_URL`, a live `kisflow dev`, or AWS. */
export type EndpointSource = 'flag' | 'env' | 'dev' | 'aws';

export interface ResolvedEndpoints {
  readonly sqsEndpoint?: string;
  readonly dynamodbEndpoint?: string;
  readonly source: EndpointSource;
  /** The dev stack's prefix when `source` is `dev`. */
  readonly prefix?: string;
  /** The dev stack's runs table when `source` is `dev`. */
  readonly runsTable?: string;
  /** The file where the dev stack publishes its Kinesis iterator ages. */
  readonly lagFile?: string;
}

/**
 * Which endpoints a CLI command talks to, first match wins: `--endpoint` > `AWS_ENDPOINT_URL` >
 * `.kisflow/dev.json` of a `kisflow dev` that is still running > AWS itself.
 *
 * @example resolveEndpoints({ root: process.cwd(), endpoint: opts.endpoint })
 */
export function resolveEndpoints(options: { root: string; endpoint?: string }): ResolvedEndpoints {
  if (options.endpoint) {
    return { sqsEndpoint: options.endpoint, dynamodbEndpoint: options.endpoint, source: 'flag' };
  }
  const fromEnv = process.env.AWS_ENDPOINT_URL;
  if (fromEnv) return { sqsEndpoint: fromEnv, dynamodbEndpoint: fromEnv, source: 'env' };
  const dev = readDevEndpoints(options.root);
  if (dev !== undefined && isProcessAlive(dev.pid)) {
    return {
      sqsEndpoint: dev.sqsEndpoint,
      dynamodbEndpoint: dev.dynamodbEndpoint,
      source: 'dev',
      prefix: dev.prefix,
      ...(typeof dev.runsTable === 'string' ? { runsTable: dev.runsTable } : {}),
      ...(typeof dev.lagFile === 'string' ? { lagFile: dev.lagFile } : {}),
    };
  }
  return { source: 'aws' };
}
