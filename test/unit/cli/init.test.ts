import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initProject } from '../../../kisflow/cli/commands/init.ts';
import { loadProject, validateProject } from '../../../kisflow/config/index.ts';

const repo = join(import.meta.dirname, '..', '..', '..');
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kisflow-init-unit-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('kisflow init', () => {
  it('writes a project whose flows validate and whose functions load from it, wherever the cwd is', async () => {
    const project = join(dir, 'My Shop');
    await initProject(project);
    const pkg = JSON.parse(await readFile(join(project, 'package.json'), 'utf8'));
    expect(pkg).toMatchObject({
      name: 'my-shop',
      type: 'module',
      dependencies: { kisflow: `file:${repo}` },
      devDependencies: {
        'aws-cdk': expect.any(String),
        esbuild: expect.any(String),
        vitest: expect.any(String),
      },
    });
    expect(await readFile(join(project, '.gitignore'), 'utf8')).toMatch(/^node_modules\/$/m);
    expect(JSON.parse(await readFile(join(project, 'cdk.json'), 'utf8')).app).toBe(
      'node node_modules/kisflow/bin/cdk-app.js',
    );
    const { issues } = await validateProject(join(project, 'flows'));
    expect(issues).toEqual([]);
    // The working directory is this repo: handlers still resolve in the project holding the flows
    // (validate checks each handler's file exists there).
    expect((await loadProject(join(project, 'flows'))).root).toBe(project);
  });

  it('uses --kisflow as the dependency spec', async () => {
    await initProject(join(dir, 'pinned'), { kisflow: '^0.1.0', name: 'pinned-shop' });
    const pkg = JSON.parse(await readFile(join(dir, 'pinned', 'package.json'), 'utf8'));
    expect(pkg).toMatchObject({ name: 'pinned-shop', dependencies: { kisflow: '^0.1.0' } });
    // An installed kisflow brings no devDependencies: the project holds what its CDK app imports.
    expect(Object.keys(pkg.devDependencies)).toEqual(
      expect.arrayContaining(['aws-cdk-lib', 'constructs', 'cdk-nag']),
    );
  });

  it('refuses a folder that is not empty, and touches nothing in it', async () => {
    const taken = join(dir, 'taken');
    await mkdir(taken);
    await writeFile(join(taken, 'notes.txt'), 'mine');
    await expect(initProject(taken)).rejects.toMatchObject({
      code: 'INIT_TARGET_NOT_EMPTY',
      message: expect.stringContaining('is not empty (notes.txt)'),
    });
    expect(await readFile(join(taken, 'notes.txt'), 'utf8')).toBe('mine');
  });
});
