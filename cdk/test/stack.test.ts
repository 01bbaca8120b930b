// The CDK app, synthesized offline with a placeholder Lambda asset: CDK assertions on what it
// deploys, cdk-nag's AwsSolutions checks, and the configuration's validation. The other
// *.test.ts files cover the Lambda asset, alarms, log groups, report buckets, events, the DR key
// and the configuration check. `make test` also runs cfn-lint on the synthesized templates.

import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { loadConfig } from '../lib/config';
import { DRIFT_EVENTS, TAGGING_EVENTS } from '../lib/events';
import { STATEMACHINE_DIR, statemachineStems } from '../lib/s3-dr-stack';
import { DR_KEY, list, SOURCE_KEY, statements, synth } from './helpers';

const deployed = synth({ drKmsKeyArn: DR_KEY, sourceKmsKeyArns: [SOURCE_KEY], alarmEmail: 'oncall@example.com', replicationTimeControl: true });
const home = deployed.home;

describe('the step Lambda', () => {
  it('is the Rust binary on provided.al2023, arm64, with JSON logs kept for a while', () => {
    home.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: 's3-dr-step',
      Runtime: 'provided.al2023',
      Architectures: ['arm64'],
      Handler: 'bootstrap',
      MemorySize: 512,
      Timeout: 900,
      LoggingConfig: Match.objectLike({ LogFormat: 'JSON', LogGroup: { Ref: Match.stringLikeRegexp('^StepFunctionLogs') } }),
    });
    home.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('has reserved concurrency, 10 by default, none when set to 0', () => {
    home.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 10 });
    const none = synth({ reservedConcurrency: 0, backfill: 'copy' });
    none.home.hasResourceProperties('AWS::Lambda::Function', { FunctionName: 's3-dr-step', ReservedConcurrentExecutions: Match.absent() });
    const some = synth({ backfill: 'copy' }, { commandLine: { reservedConcurrency: '25' } });
    some.home.hasResourceProperties('AWS::Lambda::Function', { ReservedConcurrentExecutions: 25 });
    assert.throws(() => loadConfig({ reservedConcurrency: -1 }), /s3dr\.reservedConcurrency=/);
    assert.throws(() => loadConfig({ reservedConcurrency: 2.5 }), /s3dr\.reservedConcurrency=/);
  });

  it('gets its configuration from cdk.json, and the ARNs of the workflows it starts', () => {
    home.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          S3DR_DR_REGION: 'us-east-2',
          S3DR_DESTINATION_SUFFIX: '-dr',
          S3DR_MATCH_TAG: 'dr=true',
          S3DR_STORAGE_CLASS: 'STANDARD',
          S3DR_DR_KMS_KEY: DR_KEY,
          S3DR_RTC: 'true',
          S3DR_BACKFILL: 'batch',
          // The stacks make the report buckets; the Lambda substitutes {account} and {region}.
          S3DR_BATCH_REPORT_BUCKET: 's3-dr-reports-{account}-{region}',
          S3DR_REPLICATION_ROLE_ARN: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ReplicationRole'), 'Arn'] },
          S3DR_BATCH_ROLE_ARN: { 'Fn::GetAtt': [Match.stringLikeRegexp('^BatchOperationsRole'), 'Arn'] },
          // The events its own calls cause are recognised by its role, and ignored.
          S3DR_STEP_ROLE_ARN: { 'Fn::GetAtt': [Match.stringLikeRegexp('^StepFunctionRole'), 'Arn'] },
        }),
      },
    });
    // Built from the fixed names, not referenced: each state machine names the Lambda already.
    const [fn] = Object.values<any>(home.findResources('AWS::Lambda::Function'));
    const variables = fn.Properties.Environment.Variables;
    assert.match(JSON.stringify(variables.S3DR_PROTECT_STATE_MACHINE_ARN), /:states:us-east-1:123456789012:stateMachine:s3-dr-protect-bucket"/);
    assert.match(JSON.stringify(variables.S3DR_DETACH_STATE_MACHINE_ARN), /:states:us-east-1:123456789012:stateMachine:s3-dr-detach-bucket"/);
  });
});

describe('the state machines', () => {
  it('are every file under statemachine/, inline, with the Lambda ARN substituted and full logging', () => {
    const stems = statemachineStems();
    assert.deepEqual(stems, ['detach-bucket', 'protect-bucket', 'sweep']);
    home.resourceCountIs('AWS::StepFunctions::StateMachine', stems.length);
    for (const stem of stems) {
      home.hasResourceProperties('AWS::StepFunctions::StateMachine', {
        StateMachineName: `s3-dr-${stem}`,
        DefinitionString: readFileSync(path.join(STATEMACHINE_DIR, `${stem}.asl.json`), 'utf8'),
        DefinitionSubstitutions: { ProtectFunctionArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^StepFunction'), 'Arn'] } },
        LoggingConfiguration: Match.objectLike({ Level: 'ALL' }),
      });
    }
  });
});

describe('the triggers', () => {
  const rules = home.findResources('AWS::Events::Rule');
  const rule = (description: RegExp) => {
    const found = Object.values<any>(rules).filter((r) => description.test(r.Properties.Description));
    assert.equal(found.length, 1, `one rule matching ${description}`);
    return found[0].Properties;
  };
  const protectArn = { Ref: Match.stringLikeRegexp('^StateMachineprotectbucket') };

  it('send tagging and drift events, one rule per purpose, to the protect workflow, with a DLQ and retries', () => {
    for (const [description, names] of [[/tagged or untagged/, TAGGING_EVENTS], [/replication or versioning changed/, DRIFT_EVENTS]] as const) {
      const properties = rule(description);
      // The step Lambda's own calls are left out (a call without a role session is kept).
      const stepRole = { 'Fn::GetAtt': [Match.stringLikeRegexp('^StepFunctionRole'), 'Arn'] };
      assert.deepEqual(Object.keys(properties.EventPattern.detail).sort(), ['$or', 'eventName', 'eventSource']);
      assert.deepEqual(properties.EventPattern.detail.eventName, names);
      const [notOurs, noSession] = properties.EventPattern.detail.$or.map((o: any) => o.userIdentity.sessionContext.sessionIssuer.arn[0]);
      assert.ok(Match.objectLike({ 'anything-but': stepRole }).test(notOurs).isSuccess, JSON.stringify(notOurs));
      assert.deepEqual(noSession, { exists: false });
      const [target] = properties.Targets;
      assert.ok(Match.objectLike(protectArn).test(target.Arn).isSuccess, JSON.stringify(target.Arn));
      assert.ok(target.DeadLetterConfig?.Arn, 'a dead-letter queue');
      assert.deepEqual(target.RetryPolicy, { MaximumEventAgeInSeconds: 21600, MaximumRetryAttempts: 8 });
      assert.equal(target.Input, undefined, 'the event itself is the input');
    }
  });

  it('run the sweep on the configured schedule', () => {
    const properties = rule(/the sweep/);
    assert.equal(properties.ScheduleExpression, 'rate(1 day)');
    assert.ok(Match.objectLike({ Ref: Match.stringLikeRegexp('^StateMachinesweep') }).test(properties.Targets[0].Arn).isSuccess);
  });

  it('forward the same events from every other source region to the home bus', () => {
    assert.deepEqual(deployed.forwarders.map((f) => f.region), ['us-west-2']);
    const [{ template }] = deployed.forwarders;
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({
        detail: Match.objectLike({
          eventName: [...TAGGING_EVENTS, ...DRIFT_EVENTS],
          // The step role by its fixed name: another stack's role ARN cannot be referenced here.
          $or: Match.arrayWith([{ userIdentity: { sessionContext: { sessionIssuer: { arn: [{ 'anything-but': {
            'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::123456789012:role/s3-dr-step-us-east-1']],
          } }] } } } }]),
        }),
      }),
      Targets: [Match.objectLike({
        Arn: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':events:us-east-1:123456789012:event-bus/default']] },
        DeadLetterConfig: Match.anyValue(),
      })],
    });
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

  it('passes only the replication and batch roles, each to its service', () => {
    const passes = all.filter((s) => list(s.Action).includes('iam:PassRole'));
    assert.equal(passes.length, 2);
    const passed = passes.map((s) => [JSON.stringify(s.Resource), s.Condition?.StringEquals?.['iam:PassedToService']]);
    assert.ok(passed.some(([resource, service]) => resource.includes('ReplicationRole') && service === 's3.amazonaws.com'), JSON.stringify(passed));
    // The batch role by its ARN only: S3 documents no iam:PassedToService value for it.
    assert.ok(passed.some(([resource, service]) => resource.includes('BatchOperationsRole') && service === undefined), JSON.stringify(passed));
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
        assert.deepEqual(list(statement.Action), ['kms:Decrypt']);
      } else {
        assert.deepEqual(resources, [DR_KEY], `KMS on ${resources}`);
      }
    }
  });

  it('lets S3 assume the replication role and Batch Operations the batch role, for this account only', () => {
    // Confused-deputy protection whenever S3 sends aws:SourceAccount; no lockout when it does not.
    const forThisAccount = { StringEqualsIfExists: { 'aws:SourceAccount': '123456789012' } };
    home.hasResourceProperties('AWS::IAM::Role', {
      RoleName: 's3-dr-replication-us-east-1',
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 's3.amazonaws.com' }, Condition: forThisAccount })] },
      Policies: Match.absent(),
    });
    home.hasResourceProperties('AWS::IAM::Role', {
      RoleName: 's3-dr-batch-us-east-1',
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'batchoperations.s3.amazonaws.com' }, Condition: forThisAccount })] },
    });
    // Exactly that condition (no StringEquals on aws:SourceAccount, which would deny every
    // AssumeRole whose request lacks the key), in both trust policies.
    for (const service of ['s3.amazonaws.com', 'batchoperations.s3.amazonaws.com']) {
      const trusting = Object.values<any>(home.findResources('AWS::IAM::Role'))
        .flatMap((r) => r.Properties.AssumeRolePolicyDocument.Statement)
        .filter((st: any) => st.Principal?.Service === service);
      assert.equal(trusting.length, 1, service);
      assert.deepEqual(trusting[0].Condition, forThisAccount, service);
    }
    const replication = all.find((s) => s.Sid === 'WriteReplicasToDestinations');
    assert.deepEqual(replication.Resource, { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::*-dr/*']] });
    // Source objects under any key of the account, through S3 in a source region only, for S3
    // objects only (AWS's replication-with-KMS example); the other accounts' keys named.
    const decrypt = all.find((s) => s.Sid === 'DecryptSourceObjectsThroughS3');
    assert.deepEqual(decrypt.Resource[1], SOURCE_KEY);
    assert.deepEqual(decrypt.Condition, {
      StringEquals: { 'kms:ViaService': ['s3.us-east-1.amazonaws.com', 's3.us-west-2.amazonaws.com'] },
      StringLike: { 'kms:EncryptionContext:aws:s3:arn': [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::*']] }] },
    });
    const encrypt = all.find((s) => s.Sid === 'EncryptReplicasWithTheDrKey');
    assert.deepEqual([encrypt.Resource, encrypt.Condition.StringEquals['kms:ViaService']], [DR_KEY, ['s3.us-east-2.amazonaws.com']]);
  });

  it('lets the Lambda write bucket settings only on destinations, and start only the two workflows', () => {
    const manage = all.find((s) => s.Sid === 'ManageDestinations');
    assert.ok(list(manage.Action).includes('s3:CreateBucket'));
    assert.deepEqual(manage.Resource, { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::*-dr']] });
    const start = all.find((s) => s.Sid === 'StartWorkflows');
    assert.equal(list(start.Resource).length, 2);
    const star = all.filter((s) => s.Resource === '*').flatMap((s) => list(s.Action)).sort();
    assert.deepEqual(star, [
      'logs:CreateLogDelivery', 'logs:CreateLogDelivery', 'logs:CreateLogDelivery',
      'logs:DeleteLogDelivery', 'logs:DeleteLogDelivery', 'logs:DeleteLogDelivery',
      'logs:DescribeLogGroups', 'logs:DescribeLogGroups', 'logs:DescribeLogGroups',
      'logs:DescribeResourcePolicies', 'logs:DescribeResourcePolicies', 'logs:DescribeResourcePolicies',
      'logs:GetLogDelivery', 'logs:GetLogDelivery', 'logs:GetLogDelivery',
      'logs:ListLogDeliveries', 'logs:ListLogDeliveries', 'logs:ListLogDeliveries',
      'logs:PutResourcePolicy', 'logs:PutResourcePolicy', 'logs:PutResourcePolicy',
      'logs:UpdateLogDelivery', 'logs:UpdateLogDelivery', 'logs:UpdateLogDelivery',
      's3:CreateJob', 's3:ListAllMyBuckets', 's3:ListJobs',
    ].sort(), 'only actions that take no resource are granted on "*"');
  });
});

describe('observability', () => {
  // Alarms themselves: alarms.test.ts.
  it('sends alarms to an encrypted topic with the configured email', () => {
    home.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    home.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
  });

  it('has a dashboard with executions, step durations, Lambda and replication metrics', () => {
    const [dashboard] = Object.values<any>(home.findResources('AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const needle of ['ExecutionsStarted', 'ExecutionsFailed', 'StepDuration', 'CheckBackfill', 'Errors', 'ReplicationLatency']) {
      assert.ok(body.includes(needle), `dashboard shows ${needle}`);
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
