import { RemovalPolicy } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { DEFAULT_PREFIX, PREFIX_PATTERN } from '../kisflow/config/names.ts';
import { UsageError } from '../kisflow/errors.ts';

/**
 * Context keys of the KisFlow CDK app (`npx cdk synth -c kisflow:prefix=dev`, or cdk.json):
 * - `kisflow:dir` the flows directory, relative to the working directory (default `flows`);
 * - `kisflow:prefix` prefix of physical names, to keep environments apart (default `kisflow`);
 * - `kisflow:destroy` `true` for dev: tables and log groups are deleted with their stacks
 *   (default: retained);
 * - `kisflow:bundleSdk` `true` bundles `@aws-sdk/*` into each step instead of using the runtime's;
 * - `kisflow:alarmTopicArn` an existing SNS topic every alarm notifies (default: KisFlow-Shared
 *   creates `<prefix>-alarms`);
 * - `kisflow:alarmEmail` addresses (comma-separated) that topic emails, besides `alarm_email` in
 *   the global document.
 */
export const CONTEXT = {
  dir: 'kisflow:dir',
  prefix: 'kisflow:prefix',
  destroy: 'kisflow:destroy',
  bundleSdk: 'kisflow:bundleSdk',
  alarmTopicArn: 'kisflow:alarmTopicArn',
  alarmEmail: 'kisflow:alarmEmail',
} as const;

export { DEFAULT_PREFIX };

export interface AppSettings {
  readonly dir: string;
  readonly prefix: string;
  readonly removalPolicy: RemovalPolicy;
  readonly bundleAwsSdk: boolean;
  readonly alarmTopicArn?: string;
  readonly alarmEmails: readonly string[];
}

export function readSettings(scope: Construct): AppSettings {
  const node = scope.node;
  const prefix = String(node.tryGetContext(CONTEXT.prefix) ?? DEFAULT_PREFIX);
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new UsageError(
      'INVALID_CONTEXT',
      `context ${CONTEXT.prefix} is ${JSON.stringify(prefix)}; use 1-20 ASCII letters, digits and single '-' between them, starting with a letter (e.g. -c ${CONTEXT.prefix}=dev)`,
    );
  }
  const emails = String(node.tryGetContext(CONTEXT.alarmEmail) ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  const badEmail = emails.find((e) => !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(e));
  if (badEmail !== undefined) {
    throw new UsageError(
      'INVALID_CONTEXT',
      `context ${CONTEXT.alarmEmail} has ${JSON.stringify(badEmail)}; give email addresses separated by commas`,
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
    alarmEmails: emails,
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
