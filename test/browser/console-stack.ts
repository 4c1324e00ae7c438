import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type RunningConsole, startConsole } from '../../kisflow/console/server.ts';
import { DevProcess, kisflow, makeProject, REPO } from '../integration/dev/dev-process.ts';

/**
 * The example project (flows/ and functions/ of this repository) under a real `kisflow dev`, fed
 * its sample orders, payments and shipments, with `kisflow console` over it: what the browser
 * tests, the screenshots and the console benchmark look at.
 */
export interface ConsoleStack {
  readonly root: string;
  readonly dev: DevProcess;
  readonly console: RunningConsole;
  /** GETs a console API path as JSON. */
  api<T>(path: string): Promise<T>;
  /** Waits until the console lists at least `runs` runs of the last day, none of them `running`. */
  settled(runs: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startConsoleStack(
  options: { samples?: boolean; host?: string; token?: string } = {},
): Promise<ConsoleStack> {
  const project = makeProject({});
  cpSync(join(REPO, 'flows'), join(project.root, 'flows'), { recursive: true });
  cpSync(join(REPO, 'functions'), join(project.root, 'functions'), { recursive: true });
  // The example's global document serves Prometheus on a fixed port: parallel stacks would fight for it.
  rmSync(join(project.root, 'flows', 'global.yml'));
  delete process.env.AWS_ENDPOINT_URL;
  const dev = new DevProcess(project.root, ['--no-watch']);
  let running: RunningConsole | undefined;
  try {
    await dev.ready(project.root);
    running = await startConsole({
      dir: join(project.root, 'flows'),
      root: project.root,
      port: 0,
      pollMs: 500,
      ...(options.host === undefined ? {} : { host: options.host }),
      ...(options.token === undefined ? {} : { token: options.token }),
    });
  } catch (error) {
    dev.close();
    project.remove();
    throw error;
  }
  const con = running;
  const base = `http://127.0.0.1:${con.port}`;
  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${base}${path}`, { headers: { 'x-kisflow-token': con.token } });
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
  const settled = async (count: number, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const runs = await api<{ status: string }[]>('/api/runs?since=24h');
      if (runs.length >= count && runs.every((r) => r.status !== 'running')) return;
      if (Date.now() > deadline) throw new Error(`runs still running: ${JSON.stringify(runs)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const stack: ConsoleStack = {
    root: project.root,
    dev,
    console: con,
    api,
    settled,
    async close() {
      await con.close();
      await dev.kill('SIGINT');
      dev.close();
      project.remove();
    },
  };
  if (options.samples !== false) {
    let sent = 0;
    for (const [flow, file] of [
      ['order_intake', 'orders'],
      ['payment_settlement', 'payments'],
      ['shipment_tracking', 'shipments'],
    ] as const) {
      const out = await kisflow(project.root, ['send', flow, '--input', `flows/samples/${file}.jsonl`]);
      if (out.code !== 0) throw new Error(`kisflow send ${flow}: ${out.stderr}`);
      // Each flow Loads what the one before it saved: let it finish first.
      await settled(++sent);
    }
  }
  return stack;
}
