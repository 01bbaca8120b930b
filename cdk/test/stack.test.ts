// The CDK app, synthesized offline with a placeholder Lambda asset and cdk-nag's AwsSolutions
// checks (helpers.ts): the home stack composed of its constructs (and the logical IDs they keep),
// IAM invariants across every stack, and the configuration's validation. Each construct has its
// own file (roles, step-lambda, workflows, triggers, observability); the other *.test.ts files
// cover the Lambda asset, alarms, log groups, report buckets, events, the DR key and the
// configuration check. `make test` also runs cfn-lint on the synthesized templates.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { loadConfig } from '../lib/config';
import { Observability } from '../lib/observability';
import { Roles } from '../lib/roles';
import { StepLambda } from '../lib/step-lambda';
import { Triggers } from '../lib/triggers';
import { Workflows } from '../lib/workflows';
import { DR_KEY, EVERY_OPTION, list, SOURCE_KEY, statements, synth } from './helpers';

const deployed = synth(EVERY_OPTION);
const home = deployed.home;

describe('the composition', () => {
  it('is one construct per part, found by name', () => {
    const parts = deployed.homeStack.node.children.filter((c) => [Roles, StepLambda, Workflows, Triggers, Observability].some((k) => c instanceof k));
    assert.deepEqual(parts.map((c) => c.node.id), ['Roles', 'StepLambda', 'Workflows', 'Triggers', 'Observability']);
  });

  it('keeps every logical ID of the stack it was split from (a changed one replaces the resource on deploy)', () => {
    // The constructs make their resources in the stack's scope, under their former ids.
    const template = home.toJSON();
    assert.deepEqual(Object.keys(template.Resources).sort(), [
      'AlarmTopicD01E77F9', 'AlarmTopicKey57B0D3A7', 'AlarmTopicPolicy309DB5F8',
      'AlarmTopiconcallexamplecomCD7D68CB', 'BackfillObjectsFailed3ACBC0BA',
      'BatchOperationsRole2A7BA43E', 'BatchOperationsRoleDefaultPolicy471DDA6D',
      'BatchReportBucket3CD41233', 'BatchReportBucketAutoDeleteObjectsCustomResource1436EBA0',
      'BatchReportBucketPolicyC6930996',
      'CustomS3AutoDeleteObjectsCustomResourceProviderHandler9D90184F',
      'CustomS3AutoDeleteObjectsCustomResourceProviderRole3B1BD092', 'Dashboard9E4231ED',
      'DeadLettersBBF8BAAB', 'DestinationEvents75ACA4FF', 'DriftEventsDB3466A3',
      'EventDeadLetters322AA761', 'EventDeadLettersPolicyD94203FE',
      'FailedExecutionsdetachbucket731273B8', 'FailedExecutionsfailbackbucket72FBD8DF', 'FailedExecutionsfailoverbucketACBFF8CB', 'FailedExecutionsprotectbucket0BE1E61F',
      'FailedExecutionssweepFC371740', 'FailedExecutionsverifybucketD065BA3B',
      'ObjectsMissingInDr23B44C36', 'ObjectsNotReplicable3B113514', 'RecoveryPointTooOld7F86D7EE',
      'ReplicationOperationsFailedEACED7D3', 'ReplicationRoleCE149CEC',
      'ReplicationRoleDefaultPolicy80AD15BB', 'StateMachineLogsdetachbucketF4667FD0',
      'StateMachineLogsfailbackbucket2E44420B', 'StateMachineLogsfailoverbucketBC24BB80',
      'StateMachineLogsprotectbucketAF80117A', 'StateMachineLogssweep19D1533E',
      'StateMachineLogsverifybucketAEF37218',
      'StateMachinedetachbucket84091414', 'StateMachinedetachbucketRoleB6324ACC',
      'StateMachinedetachbucketRoleDefaultPolicy01F59F1A',
      'StateMachinefailbackbucketC48CA93C', 'StateMachinefailbackbucketRoleC14326E0',
      'StateMachinefailbackbucketRoleDefaultPolicy0F5415C3', 'StateMachinefailoverbucket0EAFB20F', 'StateMachinefailoverbucketRole82C24F72',
      'StateMachinefailoverbucketRoleDefaultPolicyFA8FAB45', 'StateMachineprotectbucket848D9897',
      'StateMachineprotectbucketEventsRoleA0FAD620',
      'StateMachineprotectbucketEventsRoleDefaultPolicy758A05C1',
      'StateMachineprotectbucketRole9F4ABC66',
      'StateMachineprotectbucketRoleDefaultPolicy43B53CC3', 'StateMachinesweep77520DC1',
      'StateMachinesweepEventsRoleB3240EA4', 'StateMachinesweepEventsRoleDefaultPolicy5F36945D',
      'StateMachinesweepRoleAB984D36', 'StateMachinesweepRoleDefaultPolicy535F4AF2',
      'StateMachineverifybucket3B31FE69', 'StateMachineverifybucketRole97A88EFC',
      'StateMachineverifybucketRoleDefaultPolicy0C62DB41',
      'StepFunction1F935F84', 'StepFunctionLogsD1EE4C8E', 'StepFunctionRoleC4BAB6F8',
      'StepFunctionRoleDefaultPolicy94322EE6', 'SweepBucketsFailed94A60D39',
      'SweepSchedule80B1140B', 'TaggingEvents58BA2C50',
    ]);
    assert.deepEqual(Object.keys(template.Outputs), [
      'StateMachineArndetachbucket', 'StateMachineArnfailbackbucket', 'StateMachineArnfailoverbucket', 'StateMachineArnprotectbucket', 'StateMachineArnsweep', 'StateMachineArnverifybucket', 'AlarmTopicArn', 'DashboardName',
    ]);
  });
});

describe('IAM, least privilege', () => {
  const all = [...statements(home), ...deployed.forwarders.flatMap((f) => statements(f.template))];

  it('has no wildcard action anywhere', () => {
    for (const statement of all) {
      for (const action of list(statement.Action)) {
        assert.ok(action !== '*' && !/^[a-z0-9-]+:\*$/.test(action), `wildcard action ${action}`);
        assert.notEqual(action, 's3:*');
      }
    }
  });

  it('uses KMS keys only through S3, or the DR key itself', () => {
    const anyKey = JSON.stringify({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':kms:*:123456789012:key/*']] });
    for (const statement of all.filter((s) => list(s.Action).some((a: string) => a.startsWith('kms:')))) {
      if (statement.Principal) continue; // key policies (the alarm topic's key)
      const resources = list(statement.Resource).map((r) => (typeof r === 'string' ? r : JSON.stringify(r)));
      if (resources.includes(anyKey)) {
        // Any key of the account: only as S3 uses it on the caller's behalf (in a source region;
        // for the Lambda's cross-region copies, also the DR region's S3, which receives them).
        const viaS3 = statement.Condition.StringEquals['kms:ViaService'];
        const expected = ['s3.us-east-1.amazonaws.com', 's3.us-west-2.amazonaws.com'];
        assert.deepEqual(statement.Sid === 'ReadSourceObjectsThroughS3' ? viaS3 : [...viaS3, 's3.us-east-2.amazonaws.com'], [...expected, 's3.us-east-2.amazonaws.com'], JSON.stringify(statement));
        // Decrypt to read objects; GenerateDataKey only for failback's copies home, which take
        // the source bucket's default key.
        const failback = statement.Sid === 'FailbackEncryptsWithTheSourceKeysThroughS3';
        assert.deepEqual(list(statement.Action), failback ? ['kms:GenerateDataKey', 'kms:Decrypt'] : ['kms:Decrypt']);
      } else {
        assert.deepEqual(resources, [DR_KEY], `KMS on ${resources}`);
      }
    }
  });
});

describe('configuration', () => {
  it('defaults apply, and bad values of what only the app uses name the key', () => {
    const defaults = loadConfig({});
    assert.equal(defaults.drRegion, 'us-east-2');
    assert.equal(defaults.sweepSchedule, 'rate(1 day)');
    assert.equal(defaults.batchReportBucket, undefined);
    assert.equal(defaults.reservedConcurrency, 10);
    assert.equal(defaults.lambdaAsset, '../target/lambda/arm64/s3-dr-lambda/bootstrap.zip');
    assert.equal(defaults.allowMissingLambda, false);
    for (const [key, value] of [
      ['drRegion', 'mars'], ['homeRegion', 'home'], ['sourceRegions', ['us-east-2']], ['sourceRegions', []], ['drKmsKeyArn', 'alias/x'],
      ['sourceKmsKeyArns', ['key']], ['sweepSchedule', 'daily'], ['replicationTimeControl', 'maybe'], ['logRetentionDays', 0],
      ['reservedConcurrency', 'many'], ['allowMissingLambda', 'yes'],
    ] as const) {
      assert.throws(() => loadConfig({ [key]: value }), new RegExp(`s3dr\\.${key}=`), `${key}=${JSON.stringify(value)}`);
    }
  });

  it('leaves what the Lambda reads to the Lambda\'s rules (one rule set: check-config.test.ts)', () => {
    for (const [key, value] of [
      ['backfill', 'rsync'], ['drKmsKeyArn', SOURCE_KEY], ['destinationSuffix', '_DR'], ['matchTag', '=x'], ['storageClass', 'TAPE'],
      ['publicAccess', 'open'], ['batchReportBucket', 'Reports_Bucket'],
    ] as const) {
      assert.doesNotThrow(() => loadConfig({ [key]: value }), `${key}=${JSON.stringify(value)}`);
    }
    // Lower-cased as the Lambda reads them: the app decides from backfill too.
    assert.equal(loadConfig({ backfill: 'Batch' }).backfill, 'batch');
  });

  it('synthesizes without the optional parts (no keys, no email, RTC off, copy backfill)', () => {
    const minimal = synth({ backfill: 'copy', batchReportBucket: '', sourceRegions: ['us-east-1'] });
    assert.equal(minimal.forwarders.length, 0);
    minimal.home.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('makes the DR key when none is configured: rotated, retained, alias/s3-dr, granted by its alias', () => {
    const minimal = synth({ backfill: 'copy', batchReportBucket: '' });
    assert.ok(minimal.drKey, 'a DR key stack');
    assert.equal(minimal.drKey.region, 'us-east-2');
    const key = Template.fromStack(minimal.drKey);
    key.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    key.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    key.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/s3-dr' });
    minimal.home.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ S3DR_DR_KMS_KEY: 'alias/s3-dr' }) },
    });
    const byAlias = statements(minimal.home).filter((s) => s.Condition?.['ForAnyValue:StringEquals']?.['kms:ResourceAliases'] === 'alias/s3-dr');
    assert.deepEqual(byAlias.map((s) => s.Sid).sort(), ['CopyWithTheDrKeyThroughS3', 'DescribeDrKey', 'EncryptReplicasWithTheDrKey']);
    for (const statement of byAlias) {
      assert.deepEqual(statement.Resource, { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':kms:us-east-2:123456789012:key/*']] });
    }
    assert.equal(deployed.drKey, undefined, 'a configured key is used as it is');
  });
});
