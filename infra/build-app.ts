import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { App, type RemovalPolicy, Tags } from 'aws-cdk-lib';
import type { ProjectConfig } from '../kisflow/config/model.ts';
import { resourceNames, safeId, stackSafeId } from '../kisflow/config/names.ts';
import { ConfigError } from '../kisflow/errors.ts';
import { DEFAULT_PREFIX, readSettings } from './context.ts';
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
  /** Stack per enabled flow, by flow id. */
  readonly flows: Map<string, FlowStack>;
}

/**
 * The CDK app of a project: `KisFlow-Shared` (connector and state tables) and one
 * `KisFlow-<flow>` stack per enabled flow. Prefix, removal policy and SDK bundling come from the
 * app's context (infra/context.ts).
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
  const depsLockFilePath = findLockFile(project.root);
  const common = { removalPolicy: settings.removalPolicy as RemovalPolicy };

  const shared = new SharedStack(app, names.sharedStack(), {
    project,
    prefix: settings.prefix,
    stackName: stackName(settings.prefix, 'Shared'),
    description: 'KisFlow: connector tables and keyed state shared by the flows',
    ...common,
  });
  Tags.of(shared).add('kisflow:prefix', settings.prefix);

  const flows = new Map<string, FlowStack>();
  for (const flow of project.flows.values()) {
    if (!flow.enabled) continue;
    const id = names.flowStack(flow.flowId);
    if (id === names.sharedStack()) {
      throw new ConfigError([
        {
          ...flow.at,
          message: `flow '${flow.flowId}' would deploy as stack ${id}, the name of the shared stack; choose another flow_id`,
        },
      ]);
    }
    const clash = [...flows.values()].find((other) => other.node.id === id);
    if (clash) {
      throw new ConfigError([
        {
          ...flow.at,
          message: `flows '${clash.flow.flowId}' and '${flow.flowId}' would both deploy as stack ${id} (stack names allow only letters, digits and '-'); rename one flow_id`,
        },
      ]);
    }
    const stack = new FlowStack(app, id, {
      project,
      flowId: flow.flowId,
      shared,
      prefix: settings.prefix,
      stackName: stackName(settings.prefix, stackSafeId(flow.flowId, 90)),
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

/**
 * CloudFormation names: the CLI selects stacks by construct id (`KisFlow-<flow>`, the same in
 * every environment); the deployed name carries a non-default prefix so two environments can
 * live in one account and region.
 */
function stackName(prefix: string, suffix: string): string {
  return prefix === DEFAULT_PREFIX ? `KisFlow-${suffix}` : `KisFlow-${prefix}-${suffix}`;
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
