import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app.ts';
import { ConfigError } from '../../kisflow/errors.ts';
import { flow, func, project, REPO_ROOT, testApp } from './projects.ts';

// Under cdk.out (ignored by git, tsc and biome): a module that cannot be bundled, written per run.
const dir = join(REPO_ROOT, 'cdk.out', `bundling-mistake-${process.pid}`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a handler esbuild cannot bundle', () => {
  it('stops the synth with a ConfigError at its func document, not a stack trace', () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'broken.ts'), 'export default defineFunction((rows => {\n');
    const handler = `cdk.out/bundling-mistake-${process.pid}/broken.ts`;
    const p = project({
      funcs: [func('broken', { handler, at: { file: 'flows/broken.yml', line: 3, col: 1 } })],
      flows: [flow('f', ['broken'])],
    });
    let error: unknown;
    try {
      buildApp({ project: p, app: testApp(), securityChecks: false, entriesDir: join(dir, 'entries') });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(
      /flows\/broken\.yml:3:1: func "broken": esbuild could not bundle its handler .*broken\.ts/,
    );
  }, 60_000);
});
