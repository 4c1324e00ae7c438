import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

// The step handler is what every Lambda bundles: its import graph is its cold start. Bundle it the
// way the CDK app does (esbuild, AWS SDK external) and check what went in.
describe('step handler import graph', () => {
  it('bundles without the YAML loader, the CLI, CDK, the emulators or the local runtime', async () => {
    const result = await build({
      entryPoints: ['kisflow/lambda/step-handler.ts'],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      write: false,
      metafile: true,
      external: ['@aws-sdk/*'],
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    const packages = new Set(inputs.flatMap((i) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(i)?.[1] ?? []));
    for (const forbidden of [
      'yaml',
      'commander',
      'aws-cdk-lib',
      'constructs',
      'fauxqs',
      'dynalite',
      'croner',
      'tsx',
      'hono',
      '@hono/node-server',
      'preact',
      'uplot',
    ]) {
      expect(packages.has(forbidden), forbidden).toBe(false);
    }
    const project = inputs.filter((i) => !i.includes('node_modules'));
    expect(
      project.filter((i) => /^(kisflow\/(local|cli|memory|console)\/|localstack\/|infra\/)/.test(i)),
    ).toEqual([]);
    expect(
      project.filter((i) =>
        /^kisflow\/config\/(index|load-project|yaml-documents|check-project)\.ts$/.test(i),
      ),
    ).toEqual([]);
    expect(project).toContain('kisflow/config/project-json.ts');
    // The SDK is external (the runtime's), so its clients show as imports: the console's
    // CloudWatch metrics reader must not be one of them.
    const sdk = new Set(
      Object.values(result.metafile.inputs).flatMap((i) =>
        i.imports.flatMap((m) => (m.external && m.path.startsWith('@aws-sdk/') ? [m.path] : [])),
      ),
    );
    expect(sdk).toContain('@aws-sdk/client-sqs');
    expect(sdk).not.toContain('@aws-sdk/client-cloudwatch');
  });
});
