import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';

/**
 * Runs cdk-nag's AwsSolutions pack over the whole app at synth: a finding that is neither fixed
 * nor acknowledged (`Validations.of(construct).acknowledge({ id, reason })`, next to the code it
 * concerns) fails `cdk synth` and `cdk deploy`.
 */
export function addSecurityChecks(app: App): AwsSolutionsChecks {
  const checks = new AwsSolutionsChecks(app, { verbose: true });
  Validations.of(app).addPlugins(checks);
  return checks;
}
