/** `kisflow console` as a user starts it: the URL it prints serves the page; a bad option is one line. */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { kisflow } from './dev/dev-process.ts';

const REPO = join(import.meta.dirname, '..', '..');
let child: ChildProcess | undefined;

afterEach(() => {
  child?.kill('SIGTERM');
  child = undefined;
});

describe('kisflow console', () => {
  it('prints its URL, serves the page and its bundle there, and stops on SIGTERM', async () => {
    const env = { ...process.env };
    delete env.AWS_ENDPOINT_URL;
    const proc = spawn(process.execPath, [join(REPO, 'bin', 'kisflow.js'), 'console', '--port', '0'], {
      cwd: REPO,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      proc.stdout?.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /kisflow console: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
        if (m) resolve(m[1] as string);
      });
      proc.once('exit', (code) => reject(new Error(`exited ${code} before printing its URL`)));
    });
    const page = await fetch(url);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<meta name="kisflow-token"');
    expect((await fetch(`${url}assets/console.js`)).headers.get('content-type')).toMatch(/javascript/);
    const exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('rejects a bad --port with one line and no stack', async () => {
    const out = await kisflow(REPO, ['console', '--port', 'eighty']);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain('--port must be a port number (0-65535), received "eighty"');
    expect(out.stderr).not.toMatch(/\n\s+at /);
  });
});
