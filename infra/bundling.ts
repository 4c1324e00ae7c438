import { Code, type FunctionOptions, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { type BundlingOptions, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';

/**
 * The Lambda runtime of every step: the newest Node.js constant aws-cdk-lib knows (cdk-nag
 * AwsSolutions-L1 fails anything older). `test/infra` checks it still is the newest after a CDK
 * upgrade, so moving to the next runtime is a deliberate one-line change, never a silent one.
 * AWS SDK v3 releases after January 2027 need Node >= 22.
 */
export const STEP_RUNTIME = Runtime.NODEJS_24_X;

/** esbuild's `--target` for {@link STEP_RUNTIME} (`nodejs24.x` → `node24`), as the CDK derives it. */
export const STEP_TARGET = `node${/nodejs(\d+)/.exec(STEP_RUNTIME.name)?.[1] ?? '24'}`;

/**
 * The AWS SDK v3 clients the Lambda runtime provides. External by default: the bundle stays small
 * and the SDK is patched by AWS. `@smithy/*` goes with it, or bundled smithy code would meet the
 * runtime's SDK at a different version. Bundle them instead (`-c kisflow:bundleSdk=true`) to pin
 * the SDK version: `npm run bench bundle` prints both sizes and init times.
 * https://docs.aws.amazon.com/lambda/latest/dg/lambda-nodejs.html#nodejs-sdk-included
 */
export const RUNTIME_PROVIDED_MODULES: readonly string[] = ['@aws-sdk/*', '@smithy/*'];

/**
 * ESM output meets CommonJS dependencies that `require()` Node built-ins at run time; esbuild's
 * ESM shim throws "Dynamic require is not supported" for those unless a real `require` exists.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __kisflowCreateRequire } from 'node:module'; const require = __kisflowCreateRequire(import.meta.url);";

/**
 * One place for how a step is bundled: the CDK's NodejsFunction gets {@link stepBundlingOptions},
 * `bench/bundle.ts` builds the same with esbuild's API through {@link stepEsbuildOptions}.
 */
export interface StepBundlingSettings {
  /** Bundle `@aws-sdk/*` into the function instead of using the runtime's copy. */
  readonly bundleAwsSdk: boolean;
}

export function stepBundlingOptions(settings: StepBundlingSettings): BundlingOptions {
  return {
    format: OutputFormat.ESM,
    target: STEP_TARGET,
    // ESM entry points of dual packages tree-shake better than their CommonJS builds.
    mainFields: ['module', 'main'],
    banner: ESM_REQUIRE_BANNER,
    minify: true,
    // Stack traces map back to TypeScript lines with NODE_OPTIONS=--enable-source-maps; the sources
    // themselves are left out of the map, which halves the zip without losing a line number.
    sourceMap: true,
    sourcesContent: false,
    externalModules: settings.bundleAwsSdk ? [] : [...RUNTIME_PROVIDED_MODULES],
    esbuildArgs: { '--legal-comments': 'none' },
  };
}

/** The same build as {@link stepBundlingOptions}, in esbuild's API shape (for the bundle bench). */
export function stepEsbuildOptions(settings: StepBundlingSettings) {
  return {
    bundle: true,
    platform: 'node' as const,
    format: 'esm' as const,
    target: STEP_TARGET,
    mainFields: ['module', 'main'],
    banner: { js: ESM_REQUIRE_BANNER },
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    external: settings.bundleAwsSdk ? [] : [...RUNTIME_PROVIDED_MODULES],
    legalComments: 'none' as const,
  };
}

/** Where a KisFlow Lambda's code comes from: an entry bundled by esbuild, or a stub for template tests. */
export interface FunctionCode {
  /** The generated entry module. */
  readonly entry: string;
  readonly projectRoot: string;
  readonly depsLockFilePath?: string;
  /** `false`: an inline stub instead of the bundle (template tests; nothing runs it). @default true */
  readonly bundling?: boolean;
  /** @default false - the runtime's SDK (see RUNTIME_PROVIDED_MODULES) */
  readonly bundleAwsSdk?: boolean;
}

/** A KisFlow Lambda (a step, job control): `options` with the code `code` says. */
export function kisflowFunction(
  scope: Construct,
  id: string,
  options: FunctionOptions & { readonly runtime: Runtime },
  code: FunctionCode,
): LambdaFunction {
  if (code.bundling === false) {
    return new LambdaFunction(scope, id, {
      ...options,
      handler: 'index.handler',
      code: Code.fromInline(
        `// Stub for template tests; the real bundle is built from ${code.entry}\nexports.handler = async () => ({ batchItemFailures: [] });\n`,
      ),
    });
  }
  return new NodejsFunction(scope, id, {
    ...options,
    entry: code.entry,
    handler: 'handler',
    projectRoot: code.projectRoot,
    ...(code.depsLockFilePath === undefined ? {} : { depsLockFilePath: code.depsLockFilePath }),
    bundling: stepBundlingOptions({ bundleAwsSdk: code.bundleAwsSdk ?? false }),
  });
}
