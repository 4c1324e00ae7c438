import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const repo = join(import.meta.dirname, '..', '..');
const bin = join(repo, 'bin', 'kisflow.js');
const base = mkdtempSync(join(tmpdir(), 'kisflow-validate-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

let count = 0;
function projectWith(files: Record<string, string>): string {
  const root = join(base, `p${count++}`);
  // As `kisflow init` writes it: the functions are ES modules.
  for (const [path, text] of Object.entries({ 'package.json': '{ "type": "module" }\n', ...files })) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

async function validate(cwd: string, args: string[] = []) {
  try {
    const { stdout, stderr } = await exec(process.execPath, [bin, 'validate', ...args], { cwd });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const GOOD = `import { defineFunction } from ${JSON.stringify(join(repo, 'kisflow', 'index.ts'))};\nexport default defineFunction((rows, ctx) => { for (const row of rows) ctx.commit(row); });\n`;

const FLOWS = `kistype: func
fid: good
fmode: Calculate
---
kistype: func
fid: broken
fmode: Calculate
---
kistype: func
fid: plain
fmode: Calculate
---
kistype: flow
flow_id: f
flows: [{ fid: good }, { fid: broken }, { fid: plain }]
`;

describe('kisflow validate imports every handler', () => {
  it('reports a module that fails to load and one without a defineFunction default export, at their func documents, without a stack trace', async () => {
    const root = projectWith({
      'flows/f.yml': FLOWS,
      'functions/good.ts': GOOD,
      'functions/broken.ts': "throw new Error('cannot reach the pricing service');\n",
      'functions/plain.ts': 'export default 42;\n',
    });
    const r = await validate(root);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toEqual([
      '2 configuration problems:',
      expect.stringMatching(
        /flows\/f\.yml:5:1: func "broken": Loading function 'broken' module .*broken\.ts failed: cannot reach the pricing service$/,
      ),
      expect.stringMatching(
        /flows\/f\.yml:9:1: func "plain": Module .*plain\.ts \(function 'plain'\) must `export default defineFunction\(\.\.\.\)`, but its default export is/,
      ),
    ]);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('passes a project whose handlers all load, and checks names for the prefix given', async () => {
    const root = projectWith({
      'flows/f.yml':
        'kistype: func\nfid: good\nfmode: Calculate\n---\nkistype: flow\nflow_id: f\nflows: [{ fid: good }]\n',
      'functions/good.ts': GOOD,
    });
    expect(await validate(root)).toMatchObject({
      code: 0,
      stdout: 'flows: ok (1 flow, 1 function, 0 connectors, 0 jobs)\n',
    });
    const bad = await validate(root, ['--prefix', 'no--dashes']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--prefix is "no--dashes"/);
  });
});
