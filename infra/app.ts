/**
 * The CDK app (cdk.json: `node bin/cdk-app.js`). Reads the flows directory
 * (`-c kisflow:dir=...`, default `flows`, relative to the working directory; handlers resolve
 * against the project that holds it, the nearest folder with a package.json) and synthesises
 * `KisFlow-Shared` and one `KisFlow-<flow>` stack per flow (a disabled flow deploys disabled).
 *
 * A configuration mistake stops the synth with the same `file:line:col: message` lines as
 * `kisflow validate`, exit code 1 and no stack trace.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App } from 'aws-cdk-lib';
import { loadProject } from '../kisflow/config/index.ts';
import { KisFlowError } from '../kisflow/errors.ts';
import { buildApp } from './build-app.ts';
import { readSettings } from './context.ts';

export { JUMP_TARGETS_PARAM } from '../kisflow/config/deployment-checks.ts';
export { type BuildAppOptions, buildApp, type KisFlowApp } from './build-app.ts';
export { FlowStack, type FlowStackProps } from './flow-stack.ts';
export { SharedStack, type SharedStackProps } from './shared-stack.ts';
export { KisFlowStep, type KisFlowStepProps } from './step.ts';

/** Loads the project named by the app's context and builds the app; throws ConfigError on a config mistake. */
export async function loadApp(app: App = new App(), root?: string) {
  const { dir, prefix } = readSettings(app);
  const project = await loadProject(dir, root === undefined ? { prefix } : { root, prefix });
  return buildApp({ project, app });
}

/** Runs the app as the CDK CLI does; returns the process exit code. */
export async function main(): Promise<number> {
  try {
    const { app } = await loadApp();
    app.synth();
    return 0;
  } catch (error) {
    if (error instanceof KisFlowError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  // A failed cdk-nag check has already set exitCode 1 during synth: keep it.
  const code = await main();
  if (code !== 0) process.exitCode = code;
}
