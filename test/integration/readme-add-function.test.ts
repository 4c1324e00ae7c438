import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');

/** The README's "Add a function" commands, word for word, so the README cannot rot. */
async function readmeSnippet(): Promise<string> {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Add a function'));
  const match = /```sh\n([\s\S]*?)```/.exec(section);
  if (!match?.[1]) throw new Error('README has no "Add a function" sh block');
  return match[1];
}

describe('README: a new user adds a function', () => {
  let dir = '';
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('in under ten lines, and kisflow run uses it', async () => {
    const snippet = await readmeSnippet();
    expect(snippet.trim().split('\n').length).toBeLessThanOrEqual(10);
    // Inside the package, so `import ... from 'kisflow'` resolves as it does in a user's project.
    dir = await mkdtemp(join(root, '.tmp-readme-'));
    await cp(join(root, 'flows'), join(dir, 'flows'), { recursive: true });
    await cp(join(root, 'functions'), join(dir, 'functions'), { recursive: true });
    const { stdout, stderr } = await exec('bash', ['-euo', 'pipefail', '-c', snippet], {
      cwd: dir,
      env: { ...process.env, PATH: `${join(root, 'node_modules', '.bin')}:${process.env.PATH}` },
    });
    const rows = stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { order_id: string; big: boolean });
    expect(
      rows.map((r) => [r.order_id, r.big]),
      stderr,
    ).toEqual([
      ['o-1001', false],
      ['o-1002', false],
      ['o-1003', true],
      ['o-1005', false],
    ]);
    expect(stderr).toMatch(/flag_big\s+4 in, 4 out/);
  });
});

describe('README: YAML examples', () => {
  it('every YAML block validates with the example project (the tour flow in place of the one it shows)', async () => {
    const readme = await readFile(join(root, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    expect(blocks.length).toBeGreaterThan(0);
    const { validateProject } = await import('../../kisflow/config/index.ts');
    for (const block of blocks) {
      const tmp = await mkdtemp(join(root, '.tmp-readme-yaml-'));
      try {
        await cp(join(root, 'flows'), tmp, { recursive: true });
        // The tour's flow stands in for the example flow; any other document joins the project.
        const file = /^kistype: flow$/m.test(block) ? 'order-intake.yml' : 'readme-example.yml';
        await writeFile(join(tmp, file), block);
        const { issues } = await validateProject(tmp, { root });
        expect(issues).toEqual([]);
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    }
  });
});
