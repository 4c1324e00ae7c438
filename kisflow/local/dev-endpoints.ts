import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The file a running `kisflow dev` writes (`.kisflow/dev.json`) so that the CLI's `send`, `tail`,
 * `dlq` and `redrive` find its emulators. The dev stack writes it; the CLI only reads it (see
 * cli/endpoints.ts): it lives here because a runtime never imports the CLI.
 */

/** What a running `kisflow dev` publishes so that `send`, `tail`, `dlq`, `redrive` find it. */
export interface DevEndpoints {
  readonly sqsEndpoint: string;
  readonly dynamodbEndpoint: string;
  /** The Kinesis endpoint (Kinesis-fed flows' streams). */
  readonly kinesisEndpoint?: string;
  /** The resource name prefix the dev stack provisioned with. */
  readonly prefix: string;
  /** The `kisflow dev` process: the file is ignored once it is gone. */
  readonly pid: number;
  /** The run ledger's table (`kisflow runs`/`jobs` use it with no flags). */
  readonly runsTable?: string;
  /** The Prometheus endpoint, when served. */
  readonly metricsUrl?: string;
  /** Where the local Kinesis mappings' iterator ages are published (writeIteratorAges). */
  readonly lagFile?: string;
}

/** `<root>/.kisflow/dev.json`. */
export function devEndpointsFile(root: string): string {
  return join(root, '.kisflow', 'dev.json');
}

/** `<root>/.kisflow/dev-lag.json`: the local mappings' iterator ages, per flow. */
export function devLagFile(root: string): string {
  return join(root, '.kisflow', 'dev-lag.json');
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
