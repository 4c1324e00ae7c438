import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app.ts';
import { loadProject } from '../../kisflow/config/index.ts';
import { REPO_ROOT, shopProject, testApp } from './projects.ts';

/** Rule id and construct paths of each finding that failed the synth (none when it passes). */
function findings(app: App): { rule: string; paths: string[] }[] {
  try {
    app.synth();
    return [];
  } catch (error) {
    const report = /A copy of this report can be found in: (\S+)/.exec(String((error as Error).message))?.[1];
    if (!report) throw error;
    const json = JSON.parse(readFileSync(report, 'utf8')) as {
      pluginReports: {
        violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[];
      }[];
    };
    return json.pluginReports.flatMap((r) =>
      r.violations.map((v) => ({
        rule: v.ruleName,
        paths: v.violatingConstructs.map((c) => c.constructPath),
      })),
    );
  }
}

describe('cdk-nag (AwsSolutions) at synth', () => {
  it("passes the repo's example flows with no unacknowledged finding (and CloudFormation's rules, strict, as cdk.json sets them)", async () => {
    const project = await loadProject('flows', { root: REPO_ROOT });
    const context = JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')).context;
    expect(context['@aws-cdk/core:validateAgainstDefaultRules']).toBe(true);
    const { app, flows } = buildApp({ project, app: new App({ context }), bundling: false });
    expect(flows.size).toBeGreaterThan(0);
    expect(findings(app)).toEqual([]);
  }, 120_000);

  it('fails the synth on a deliberate violation: a queue that accepts requests without TLS', () => {
    const { app, shared } = buildApp({ project: shopProject(), app: testApp(), bundling: false });
    new Queue(shared, 'PlainTextQueue', { enforceSSL: false });
    expect(findings(app)).toContainEqual({
      rule: 'AwsSolutions-SQS4',
      paths: ['KisFlow-Shared/PlainTextQueue/Resource'],
    });
  });

  it('fails on an acknowledgement that names another rule, and passes on one that names this finding', () => {
    const build = (ack: string) => {
      const app = testApp();
      buildApp({ project: shopProject(), app, bundling: false });
      const queue = new Queue(new Stack(app, 'Extra'), 'Unwatched', { enforceSSL: true });
      Validations.of(queue).acknowledge({ id: ack, reason: 'a test of acknowledgements' });
      return app;
    };
    expect(findings(build('AwsSolutions-SQS4'))).toEqual([
      { rule: 'AwsSolutions-SQS3', paths: ['Extra/Unwatched/Resource'] },
    ]);
    expect(findings(build('AwsSolutions-SQS3'))).toEqual([]);
  });
});

describe('a configuration mistake stops `cdk synth`', () => {
  it('with the located messages of `kisflow validate`, exit code 1 and no stack trace', () => {
    const dir = 'test/fixtures/infra/broken/flows';
    const synth = spawnSync(
      'npx',
      ['cdk', 'synth', '--quiet', '-c', `kisflow:dir=${dir}`, '-o', 'cdk.out/.test-broken'],
      {
        cwd: REPO_ROOT,
        encoding: 'utf8',
      },
    );
    const validate = spawnSync(process.execPath, ['bin/kisflow.js', 'validate', dir], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    expect(synth.status).toBe(1);
    expect(validate.status).toBe(1);
    const located = validate.stderr.split('\n').filter((line) => line.startsWith(`${dir}/`));
    expect(located.length).toBeGreaterThan(0);
    for (const line of located) expect(synth.stderr).toContain(line);
    expect(located[0]).toMatch(/^test\/fixtures\/infra\/broken\/flows\/broken\.yml:\d+:\d+: /);
    expect(synth.stderr).not.toMatch(/\n\s+at /);
  }, 120_000);
});
