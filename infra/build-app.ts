import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { App, type RemovalPolicy, Tags } from 'aws-cdk-lib';
import { deploymentIssues } from '../kisflow/config/deployment-checks.ts';
import type { ProjectConfig } from '../kisflow/config/model.ts';
import { resourceNames, safeId } from '../kisflow/config/names.ts';
import { ConfigError } from '../kisflow/errors.ts';
import { readSettings } from './context.ts';
import { FlowStack } from './flow-stack.ts';
import { addSecurityChecks } from './nag.ts';
import { SharedStack } from './shared-stack.ts';

export interface BuildAppOptions {
  readonly project: ProjectConfig;
  /** @default - a new App (reading context from the CDK CLI) */
  readonly app?: App;
  /**
   * Bundle each step with esbuild. `false` gives steps stub code, for tests of the template's
   * shape only; the entries are still generated.
   * @default true
   */
  readonly bundling?: boolean;
  /** Directory of generated step entries, under the project root. @default <root>/cdk.out/.kisflow-entries */
  readonly entriesDir?: string;
  /** Run cdk-nag's AwsSolutions checks at synth. @default true */
  readonly securityChecks?: boolean;
}

export interface KisFlowApp {
  readonly app: App;
  readonly shared: SharedStack;
  /** Stack per flow (a `status: 0` flow's consumes and fires nothing), by flow id. */
  readonly flows: Map<string, FlowStack>;
}

/**
 * The CDK app of a project: `KisFlow-Shared` (connector and state tables, alarm topic) and one
 * `KisFlow-<flow>` stack per flow, disabled ones included so that `status: 0` stops a deployed
 * flow rather than orphaning it. Prefix, removal policy, alarm topic and SDK bundling come from
 * the app's context (infra/context.ts).
 *
 * @throws ConfigError for what `kisflow validate` reports as deployment issues (name collisions,
 *   name lengths, `jump_targets`), located in the YAML.
 *
 * @example
 * const project = await loadProject('flows');
 * const { app, flows } = buildApp({ project });
 * app.synth();
 */
export function buildApp(options: BuildAppOptions): KisFlowApp {
  const { project } = options;
  const app = options.app ?? new App();
  const settings = readSettings(app);
  const names = resourceNames(settings.prefix);
  // A project built in code skipped the loader's checks: run the synth-time ones here too.
  const issues = deploymentIssues(project, { prefix: settings.prefix });
  if (issues.length > 0) throw new ConfigError(issues);
  const depsLockFilePath = findLockFile(project.root);
  const common = { removalPolicy: settings.removalPolicy as RemovalPolicy };

  const shared = new SharedStack(app, names.sharedStack(), {
    project,
    prefix: settings.prefix,
    stackName: names.sharedStackName(),
    alarmTopic: settings.alarmTopicArn === undefined,
    alarmEmails: [...settings.alarmEmails, ...(project.global.alarmEmails ?? [])],
    ...(settings.alarmTopicArn === undefined ? {} : { alarmTopicArn: settings.alarmTopicArn }),
    entriesDir: options.entriesDir,
    bundling: options.bundling,
    bundleAwsSdk: settings.bundleAwsSdk,
    depsLockFilePath,
    description: 'KisFlow: connector tables and keyed state shared by the flows',
    ...common,
  });
  Tags.of(shared).add('kisflow:prefix', settings.prefix);

  const flows = new Map<string, FlowStack>();
  for (const flow of project.flows.values()) {
    const id = names.flowStack(flow.flowId);
    const stack = new FlowStack(app, id, {
      project,
      flowId: flow.flowId,
      shared,
      prefix: settings.prefix,
      stackName: names.flowStackName(flow.flowId),
      description: `KisFlow flow ${flow.flowId}: ${flow.flowName}`.slice(0, 1024),
      entriesDir: options.entriesDir,
      bundling: options.bundling,
      bundleAwsSdk: settings.bundleAwsSdk,
      ...(settings.alarmTopicArn === undefined ? {} : { alarmTopicArn: settings.alarmTopicArn }),
      depsLockFilePath,
      ...common,
    });
    Tags.of(stack).add('kisflow:prefix', settings.prefix);
    Tags.of(stack).add('kisflow:flow', safeId(flow.flowId, 200));
    flows.set(flow.flowId, stack);
  }
  if (options.securityChecks !== false) addSecurityChecks(app);
  return { app, shared, flows };
}

const LOCK_FILES = ['package-lock.json', 'pnpm-lock.yaml', 'yarn.lock', 'bun.lock', 'bun.lockb'];

/**
 * The lock file the project's dependencies come from, found upwards from its root. esbuild runs
 * in its directory, which must hold the generated entries and the user's modules.
 */
function findLockFile(root: string): string | undefined {
  for (let dir = root; ; dir = dirname(dir)) {
    for (const name of LOCK_FILES) if (existsSync(join(dir, name))) return join(dir, name);
    if (dirname(dir) === dir) return undefined;
  }
}
