import { readFileSync } from 'node:fs';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { describe, expect, it } from 'vitest';
import { KisFlowDmsSource } from '../../infra/dms-source.ts';
import { addSecurityChecks } from '../../infra/nag.ts';
import { testApp } from './projects.ts';

const SECRET = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:shop-db-AbCdEf';

function synth() {
  const app = testApp();
  addSecurityChecks(app);
  const stack = new Stack(app, 'Cdc', { env: { account: '123456789012', region: 'us-east-1' } });
  const cdc = new KisFlowDmsSource(stack, 'ShopCdc', {
    sourceSecret: Secret.fromSecretCompleteArn(stack, 'Db', SECRET),
    schemas: ['shop'],
    subnetIds: ['subnet-1', 'subnet-2'],
  });
  return { app, stack, cdc };
}

// Synth only: no test here runs DMS (README says so).
describe('KisFlowDmsSource (recipe, synth only)', () => {
  it('replicates the schema (full load + CDC) from the secret-backed MySQL endpoint into Kinesis as JSON with before images', () => {
    const { stack } = synth();
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::DMS::Endpoint', {
      EndpointType: 'source',
      EngineName: 'mysql',
      MySqlSettings: { SecretsManagerSecretId: SECRET },
    });
    t.hasResourceProperties('AWS::DMS::Endpoint', {
      EndpointType: 'target',
      EngineName: 'kinesis',
      KinesisSettings: {
        MessageFormat: 'json',
        IncludeTransactionDetails: true,
        PartitionIncludeSchemaTable: true,
      },
    });
    const config = Object.values(t.findResources('AWS::DMS::ReplicationConfig'))[0]?.Properties;
    expect(config.ReplicationType).toBe('full-load-and-cdc');
    expect(config.TableMappings.rules[0]['object-locator']).toEqual({
      'schema-name': 'shop',
      'table-name': '%',
    });
    expect(config.ReplicationSettings.BeforeImageSettings).toEqual({
      EnableBeforeImage: true,
      FieldName: 'before-image',
      ColumnFilter: 'all',
    });
    t.hasResourceProperties('AWS::Kinesis::Stream', { StreamModeDetails: { StreamMode: 'ON_DEMAND' } });
  });

  it('passes cdk-nag', () => {
    const { app } = synth();
    let report: string | undefined;
    try {
      app.synth();
    } catch (error) {
      report = /A copy of this report can be found in: (\S+)/.exec(String((error as Error).message))?.[1];
      if (!report) throw error;
    }
    expect(report === undefined ? [] : JSON.parse(readFileSync(report, 'utf8')).pluginReports).toEqual([]);
  });
});
