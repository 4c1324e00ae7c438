import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// A user's project, made by `kisflow init` in a temporary folder outside this repository, used as
// the README says: npm install, then validate, run, test, dev and cdk synth with no flags.
const repo = join(import.meta.dirname, '..', '..', '..');
const bin = join(repo, 'bin', 'kisflow.js');

/** The environment of a user's shell: nothing of the vitest or npm run that started this test. */
const userEnv = Object.fromEntries(
  Object.entries(process.env).filter(([key]) => !/^(VITEST|npm_|NODE_OPTIONS$|INIT_CWD$)/i.test(key)),
);

function sh(cwd: string, command: string, args: string[], timeout = 120_000) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      command,
      args,
      { cwd, env: userEnv, timeout, maxBuffer: 32 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const rowsOf = (text: string) =>
  text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('kisflow init: a project outside this repository', () => {
  let parent: string;
  let project: string;
  beforeAll(async () => {
    parent = await mkdtemp(join(tmpdir(), 'kisflow-init-'));
    project = join(parent, 'shop');
    const init = await sh(parent, process.execPath, [bin, 'init', 'shop']);
    expect(init.code, init.stderr).toBe(0);
    const install = await sh(
      project,
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund'],
      300_000,
    );
    expect(install.code, install.stderr).toBe(0);
  }, 330_000);
  afterAll(async () => {
    await rm(parent, { recursive: true, force: true });
  });

  it('has the shape users know, and depends on this kisflow by a file: path', async () => {
    for (const path of [
      'package.json',
      'cdk.json',
      '.gitignore',
      'README.md',
      'flows/orders.yml',
      'functions/price_order.ts',
      'test/price_order.test.ts',
      'localstack/docker-compose.yml',
    ]) {
      expect(existsSync(join(project, path)), path).toBe(true);
    }
    const pkg = JSON.parse(await readFile(join(project, 'package.json'), 'utf8'));
    expect(pkg).toMatchObject({ name: 'shop', type: 'module', dependencies: { kisflow: `file:${repo}` } });
    const again = await sh(parent, process.execPath, [bin, 'init', 'shop']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/shop is not empty .*give kisflow init a new or empty folder/);
  });

  it('npx kisflow --version, validate and run work with no flags', async () => {
    const version = await sh(project, 'npx', ['kisflow', '--version']);
    expect(version.stdout.trim()).toBe(
      JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')).version,
    );
    const validate = await sh(project, 'npx', ['kisflow', 'validate']);
    expect(validate.code, validate.stderr).toBe(0);
    expect(validate.stdout).toMatch(/flows: ok \(1 flow, 2 functions/);
    const run = await sh(project, 'npx', [
      'kisflow',
      'run',
      'orders',
      '--input',
      'flows/samples/orders.jsonl',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(rowsOf(run.stdout).map((r) => [r.order_id, r.total])).toEqual([
      ['o-1', 36],
      ['o-2', 30.6],
    ]);
    expect(run.stderr.match(/^rejected /gm)).toHaveLength(2);
  });

  it("handlers resolve against the project that holds --dir's flows, not the working directory", async () => {
    const run = await sh(parent, join(project, 'node_modules', '.bin', 'kisflow'), [
      'run',
      'orders',
      '--dir',
      'shop/flows',
      '--input',
      'shop/flows/samples/orders.jsonl',
      '--fresh',
      '--store',
      join(parent, 'store.json'),
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(rowsOf(run.stdout)).toHaveLength(2);
  });

  it('the example test passes with the kisflow/testing helpers', async () => {
    const test = await sh(project, 'npx', ['vitest', 'run']);
    expect(test.code, `${test.stdout}\n${test.stderr}`).toBe(0);
    expect(test.stdout).toMatch(/2 passed/);
  });

  it('npx kisflow dev starts the stack on the embedded emulators and stops on Ctrl-C', async () => {
    // Its own process group, which Ctrl-C in a terminal signals whole (npx, its shell, kisflow).
    const dev: ChildProcess = spawn('npx', ['kisflow', 'dev'], {
      cwd: project,
      env: userEnv,
      detached: true,
    });
    const group = dev.pid as number;
    let stdout = '';
    let stderr = '';
    dev.stderr?.on('data', (d) => {
      stderr += String(d);
    });
    // 'close': every process holding the pipes (npx and kisflow under it) has exited.
    const exited = new Promise<number | null>((resolve) => dev.once('close', (code) => resolve(code)));
    try {
      const ready = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 60_000);
        dev.stdout?.on('data', (d) => {
          stdout += String(d);
          if (/kisflow dev ready: .*flows=orders/.test(stdout)) {
            clearTimeout(timer);
            resolve(true);
          }
        });
        dev.once('exit', () => resolve(false));
      });
      expect(ready, `${stdout}\n${stderr}`).toBe(true);
      // A moment for kisflow, under npx and a shell, to be past printing its ready line.
      await new Promise((resolve) => setTimeout(resolve, 500));
      process.kill(-group, 'SIGINT');
      const code = await Promise.race([
        exited,
        new Promise((resolve) => setTimeout(() => resolve('still running'), 20_000)),
      ]);
      expect(code, stderr).not.toBe('still running');
      expect(stderr).toMatch(/kisflow dev: stopping/);
    } finally {
      // Whatever of the group is left (nothing, when kisflow stopped as it should).
      try {
        process.kill(-group, 'SIGKILL');
      } catch {}
    }
  }, 120_000);

  it('npx cdk synth bundles every step and writes one stack per flow', async () => {
    const synth = await sh(project, 'npx', ['cdk', 'synth', '--quiet'], 240_000);
    expect(synth.code, synth.stderr).toBe(0);
    const template = JSON.parse(
      await readFile(join(project, 'cdk.out', 'KisFlow-orders.template.json'), 'utf8'),
    );
    const functions = Object.values(template.Resources as Record<string, { Type: string }>).filter(
      (r) => r.Type === 'AWS::Lambda::Function',
    );
    expect(functions).toHaveLength(2);
    expect(existsSync(join(project, 'cdk.out', 'KisFlow-Shared.template.json'))).toBe(true);
  }, 240_000);

  it('works in a project whose package.json has no "type": "module"', async () => {
    const file = join(project, 'package.json');
    const pkg = JSON.parse(await readFile(file, 'utf8'));
    delete pkg.type;
    await writeFile(file, JSON.stringify(pkg, null, 2));
    const run = await sh(project, 'npx', [
      'kisflow',
      'run',
      'orders',
      '--input',
      'flows/samples/orders.jsonl',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(rowsOf(run.stdout)).toHaveLength(2);
  });
});
