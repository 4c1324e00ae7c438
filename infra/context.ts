import { RemovalPolicy } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { UsageError } from '../kisflow/errors.ts';

/**
 * Context keys of the KisFlow CDK app (`npx cdk synth -c kisflow:prefix=dev`, or cdk.json):
 * - `kisflow:dir` the flows directory, relative to the working directory (default `flows`);
 * - `kisflow:prefix` prefix of physical names, to keep environments apart (default `kisflow`);
 * - `kisflow:destroy` `true` for dev: tables and log groups are deleted with their stacks
 *   (default: retained);
 * - `kisflow:bundleSdk` `true` bundles `@aws-sdk/*` into each step instead of using the runtime's;
 * - `kisflow:alarmTopicArn` an SNS topic every alarm notifies (default: alarms only show in the console).
 */
export const CONTEXT = {
  dir: 'kisflow:dir',
  prefix: 'kisflow:prefix',
  destroy: 'kisflow:destroy',
  bundleSdk: 'kisflow:bundleSdk',
  alarmTopicArn: 'kisflow:alarmTopicArn',
} as const;

export const DEFAULT_PREFIX = 'kisflow';

/** Prefixes go into queue, table, alarm and stack names: the characters all of them accept. */
const PREFIX = /^[A-Za-z][A-Za-z0-9-]{0,19}$/;

export interface AppSettings {
  readonly dir: string;
  readonly prefix: string;
  readonly removalPolicy: RemovalPolicy;
  readonly bundleAwsSdk: boolean;
  readonly alarmTopicArn?: string;
}

export function readSettings(scope: Construct): AppSettings {
  const node = scope.node;
  const prefix = String(node.tryGetContext(CONTEXT.prefix) ?? DEFAULT_PREFIX);
  if (!PREFIX.test(prefix)) {
    throw new UsageError(
      'INVALID_CONTEXT',
      `context ${CONTEXT.prefix} is ${JSON.stringify(prefix)}; use 1-20 ASCII letters, digits and '-', starting with a letter (e.g. -c ${CONTEXT.prefix}=dev)`,
    );
  }
  const alarmTopicArn = node.tryGetContext(CONTEXT.alarmTopicArn) as unknown;
  if (
    alarmTopicArn !== undefined &&
    !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/.test(String(alarmTopicArn))
  ) {
    throw new UsageError(
      'INVALID_CONTEXT',
      `context ${CONTEXT.alarmTopicArn} is ${JSON.stringify(alarmTopicArn)}; use an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)`,
    );
  }
  return {
    ...(alarmTopicArn === undefined ? {} : { alarmTopicArn: String(alarmTopicArn) }),
    dir: String(node.tryGetContext(CONTEXT.dir) ?? 'flows'),
    prefix,
    removalPolicy: flag(node.tryGetContext(CONTEXT.destroy), CONTEXT.destroy)
      ? RemovalPolicy.DESTROY
      : RemovalPolicy.RETAIN,
    bundleAwsSdk: flag(node.tryGetContext(CONTEXT.bundleSdk), CONTEXT.bundleSdk),
  };
}

/** Context from the command line arrives as a string. */
function flag(value: unknown, key: string): boolean {
  if (value === undefined || value === false || value === 'false') return false;
  if (value === true || value === 'true') return true;
  throw new UsageError('INVALID_CONTEXT', `context ${key} is ${JSON.stringify(value)}; use true or false`);
}
