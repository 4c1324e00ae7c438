import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What a running `kisflow dev` publishes so that `send`, `tail`, `dlq`, `redrive` find it. */
export interface DevEndpoints {
  readonly sqsEndpoint: string;
  readonly dynamodbEndpoint: string;
  /** The resource name prefix the dev stack provisioned with. */
  readonly prefix: string;
  /** The `kisflow dev` process: the file is ignored once it is gone. */
  readonly pid: number;
  /** The run ledger's table (`kisflow runs`/`jobs` use it with no flags). */
  readonly runsTable?: string;
}

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
}

/** `<root>/.kisflow/dev.json`. */
export function devEndpointsFile(root: string): string {
  return join(root, '.kisflow', 'dev.json');
}

/** Writes `.kisflow/dev.json` atomically (a reader never sees half a file). */
export function writeDevEndpoints(root: string, endpoints: DevEndpoints): void {
  const file = devEndpointsFile(root);
  mkdirSync(join(root, '.kisflow'), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(endpoints, null, 2)}\n`);
  renameSync(temporary, file);
}

function isDevEndpoints(value: unknown): value is DevEndpoints {
  const v = value as Partial<DevEndpoints> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.sqsEndpoint === 'string' &&
    typeof v.dynamodbEndpoint === 'string' &&
    typeof v.prefix === 'string' &&
    Number.isInteger(v.pid)
  );
}

/** The endpoints in `.kisflow/dev.json`, or undefined when there is no (valid) file. */
export function readDevEndpoints(root: string): DevEndpoints | undefined {
  try {
    const value: unknown = JSON.parse(readFileSync(devEndpointsFile(root), 'utf8'));
    return isDevEndpoints(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process with this id exists (EPERM: it exists but belongs to someone else). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
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
    };
  }
  return { source: 'aws' };
}
