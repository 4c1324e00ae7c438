import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type AwsClients, createAwsClients, destroyAwsClients } from '../../../kisflow/aws/clients.ts';
import { loadProject } from '../../../kisflow/config/index.ts';
import { locateResources, type ProvisionedResources } from '../../../kisflow/local/provision.ts';
import { waitFor } from '../runtime/harness.ts';

export const REPO = join(import.meta.dirname, '..', '..', '..');
const BIN = join(REPO, 'bin', 'kisflow.js');
const READY = /^kisflow dev ready: sqs=(\S+) dynamodb=(\S+) flows=/m;

/**
 * A throwaway project folder inside the repository (`.tmp-*` is git-ignored), so that its
 * functions' `import 'kisflow'` resolves to this package. `files` maps relative paths to contents.
 */
export function makeProject(files: Record<string, string>): {
  root: string;
  write(path: string, text: string): void;
  remove(): void;
} {
  const root = mkdtempSync(join(REPO, '.tmp-dev-'));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  for (const [path, text] of Object.entries(files)) write(path, text);
  return { root, write, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/** A `kisflow dev` process (the real CLI) in a project folder. */
export class DevProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  clients?: AwsClients;
  resources?: ProvisionedResources;

  constructor(root: string, args: readonly string[] = []) {
    const env = { ...process.env };
    delete env.AWS_ENDPOINT_URL;
    this.child = spawn(process.execPath, [BIN, 'dev', ...args], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.on('data', (c: Buffer) => {
      this.stdout += c.toString();
    });
    this.child.stderr?.on('data', (c: Buffer) => {
      this.stderr += c.toString();
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits for the ready line; connects clients and finds the flows' queues. */
  async ready(
    root: string,
    timeoutMs = 40_000,
  ): Promise<{ clients: AwsClients; resources: ProvisionedResources }> {
    await waitFor(
      `the ready line (stderr: ${this.stderr})`,
      () => {
        if (!this.running) throw new Error(`kisflow dev exited before ready:\n${this.stderr}`);
        return READY.test(this.stdout);
      },
      timeoutMs,
    );
    const [, sqsEndpoint, dynamodbEndpoint] = READY.exec(this.stdout) as unknown as [string, string, string];
    this.clients = createAwsClients({ sqsEndpoint, dynamodbEndpoint });
    const project = await loadProject(join(root, 'flows'), { root });
    this.resources = await locateResources(project, this.clients.sqs);
    return { clients: this.clients, resources: this.resources };
  }

  async kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) this.child.kill(signal);
    return this.exited;
  }

  close(): void {
    if (this.clients) destroyAwsClients(this.clients);
    if (this.running) this.child.kill('SIGKILL');
  }
}

/** Runs another kisflow command in a project folder, to its end. */
export function kisflow(
  root: string,
  args: readonly string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env };
    delete env.AWS_ENDPOINT_URL;
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
