import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/app.ts';
import { STEP_RUNTIME } from '../../infra/bundling.ts';
import { STEP_HANDLER_MODULE, stepEntrySource } from '../../infra/step-entry.ts';
import { loadProject } from '../../kisflow/config/index.ts';
import type { ProjectConfig } from '../../kisflow/config/model.ts';
import { resourceNames, stepKeys } from '../../kisflow/config/names.ts';
import { flowStackOf, REPO_ROOT } from './projects.ts';

const names = resourceNames();
const PRINT = '测试PrintInput';
const SAVE = '测试KisFunction_S1';
const FIDS = [PRINT, SAVE, PRINT, PRINT, SAVE, PRINT];

type Fn = { Properties: Record<string, unknown> };

/**
 * The seed's MyFlow1 (six steps, fids repeated with different params) from its YAML, bundled for
 * real with the local esbuild: the one test that pays for bundling (about a second per step).
 */
describe("the seed's MyFlow1, bundled", () => {
  let project: ProjectConfig;
  let app: App;
  let template: Template;
  let shared: Template;
  let functions: Fn[];
  beforeAll(async () => {
    project = await loadProject('test/fixtures/infra/seed/flows', { root: REPO_ROOT });
    app = new App();
    const built = buildApp({ project, app });
    template = Template.fromStack(flowStackOf(built.flows, 'MyFlow1'));
    shared = Template.fromStack(built.shared);
    functions = Object.values(template.findResources('AWS::Lambda::Function')) as Fn[];
    // Steps in order: their descriptions start with `KisFlow step <n> `.
    functions.sort((a, b) =>
      String(a.Properties.Description).localeCompare(String(b.Properties.Description)),
    );
  }, 120_000);

  const bundleOf = (fn: Fn, file = 'index.mjs') => {
    const key = String((fn.Properties.Code as { S3Key: string }).S3Key).replace(/\.zip$/, '');
    return readFileSync(join(app.outdir, `asset.${key}`, file), 'utf8');
  };

  it('gives each of the six steps its own function, queue, DLQ and partial-batch event source', () => {
    expect(functions).toHaveLength(6);
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 6);
    template.allResourcesProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    for (const [step, fn] of functions.entries()) {
      expect(fn.Properties.Description).toBe(`KisFlow step ${step} (${FIDS[step]}) of flow 'MyFlow1'`);
      expect(fn.Properties).toMatchObject({
        Runtime: STEP_RUNTIME.name,
        Architectures: ['arm64'],
        Handler: 'index.handler',
      });
    }
  });

  it("redelivers a message 5 times by default, whatever retry_times says (测试KisFunction_S1 has 3): row retries are the engine's", () => {
    const keys = stepKeys(FIDS);
    for (const key of keys) {
      template.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: names.stepQueue('MyFlow1', key),
        RedrivePolicy: { maxReceiveCount: 5 },
      });
    }
    expect(new Set(keys.map((key) => names.stepQueue('MyFlow1', key))).size).toBe(FIDS.length);
  });

  it("generates per step an entry that imports only that step's function (and its connector's implementation)", () => {
    for (const [step, fid] of FIDS.entries()) {
      const entry = stepEntrySource({ project, flowId: 'MyFlow1', step, dir: '/entries' });
      const imports = [...entry.source.matchAll(/^import .* from "(.*)";$/gm)].map((m) => m[1]);
      const fn = join(
        REPO_ROOT,
        'test/fixtures/infra/seed/functions',
        fid === SAVE ? 'save-s1.ts' : 'print-input.ts',
      );
      const connector = join(REPO_ROOT, 'test/fixtures/infra/seed/connectors/redis.ts');
      expect(imports).toEqual(
        fid === SAVE ? [STEP_HANDLER_MODULE, fn, connector] : [STEP_HANDLER_MODULE, fn],
      );
      expect(entry.source).toContain(`flowId: "MyFlow1", step: ${step}, fn`);
      // The embedded config names no path of the build machine (bundles are the same on every machine).
      expect(entry.source.split('\n').find((l) => l.startsWith('const project ='))).not.toContain(REPO_ROOT);
    }
  });

  it('embeds the flow config with each step and its own params in every bundle', () => {
    for (const [step, fn] of functions.entries()) {
      const code = bundleOf(fn);
      expect(code).toMatch(new RegExp(`flowId:"MyFlow1",step:${step},`));
      for (const param of ['value1', 'value11', 'value22', 'newDefault', 'ffffffxxxxxx', 'default1_param']) {
        expect(code).toContain(param);
      }
      // The function module itself: PrintInput tags rows, S1 passes its input on.
      expect(code.includes('printed_by')).toBe(FIDS[step] === PRINT);
      // The redis connector implementation is bundled only where a step uses it.
      expect(/\("redis",/.test(code)).toBe(FIDS[step] === SAVE);
    }
  });

  it('bundles minified ESM with a source map, leaving the runtime-provided AWS SDK out', () => {
    const fn = functions[0] as Fn;
    const code = bundleOf(fn);
    expect(code).not.toContain('function isPermanent(');
    expect(code).not.toContain(REPO_ROOT);
    expect(code).toMatch(/from"@aws-sdk\/client-sqs"/);
    expect(code).not.toContain('SQSServiceException');
    const map = JSON.parse(bundleOf(fn, 'index.mjs.map')) as { sources: string[]; sourcesContent?: unknown };
    expect(map.sources.some((s) => s.endsWith('print-input.ts'))).toBe(true);
    expect(map.sourcesContent).toBeUndefined();
    expect((fn.Properties.Environment as { Variables: Record<string, string> }).Variables.NODE_OPTIONS).toBe(
      '--enable-source-maps',
    );
  });

  it('deploys no table for the seed connector (type redis): its implementation is code', () => {
    // The state and runs tables only.
    shared.resourceCountIs('AWS::DynamoDB::Table', 2);
    shared.hasResourceProperties('AWS::DynamoDB::Table', { TableName: names.runsTable() });
    shared.hasResourceProperties('AWS::DynamoDB::Table', { TableName: names.stateTable() });
  });
});
