// The step function (lib/step-lambda.ts): the Rust binary, its settings and environment, and its
// role: bucket settings written only on destinations, only the two workflows started.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { loadConfig } from '../lib/config';
import { DR_KEY, EVERY_OPTION, list, statements, synth } from './helpers';

const deployed = synth(EVERY_OPTION);
const home = deployed.home;
const all = [...statements(home), ...deployed.forwarders.flatMap((f) => statements(f.template))];

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
    // The Lambda is told, and splits a copy into at most half as many shards.
    some.home.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ S3DR_RESERVED_CONCURRENCY: '25' }) },
    });
    none.home.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ S3DR_RESERVED_CONCURRENCY: '0' }) },
    });
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

  it('lets the Lambda write bucket settings only on destinations, and start only the three workflows', () => {
    const manage = all.find((s) => s.Sid === 'ManageDestinations');
    assert.ok(list(manage.Action).includes('s3:CreateBucket'));
    assert.deepEqual(manage.Resource, { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::*-dr']] });
    const start = all.find((s) => s.Sid === 'StartWorkflows');
    assert.equal(list(start.Resource).length, 3);
    // Failover switches the routing of this account's Multi-Region Access Points, nothing else.
    const route = all.find((s) => s.Sid === 'RouteAccessPointsOnFailover');
    assert.deepEqual(list(route.Action), ['s3:GetMultiRegionAccessPointRoutes', 's3:SubmitMultiRegionAccessPointRoutes']);
    assert.deepEqual(route.Resource, { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3::123456789012:accesspoint/*']] });
    const star = all.filter((s) => s.Resource === '*').flatMap((s) => list(s.Action)).sort();
    assert.deepEqual(star, [
      'logs:CreateLogDelivery', 'logs:CreateLogDelivery', 'logs:CreateLogDelivery', 'logs:CreateLogDelivery', 'logs:CreateLogDelivery', 'logs:CreateLogDelivery',
      'logs:DeleteLogDelivery', 'logs:DeleteLogDelivery', 'logs:DeleteLogDelivery', 'logs:DeleteLogDelivery', 'logs:DeleteLogDelivery', 'logs:DeleteLogDelivery',
      'logs:DescribeLogGroups', 'logs:DescribeLogGroups', 'logs:DescribeLogGroups', 'logs:DescribeLogGroups', 'logs:DescribeLogGroups', 'logs:DescribeLogGroups',
      'logs:DescribeResourcePolicies', 'logs:DescribeResourcePolicies', 'logs:DescribeResourcePolicies', 'logs:DescribeResourcePolicies', 'logs:DescribeResourcePolicies', 'logs:DescribeResourcePolicies',
      'logs:GetLogDelivery', 'logs:GetLogDelivery', 'logs:GetLogDelivery', 'logs:GetLogDelivery', 'logs:GetLogDelivery', 'logs:GetLogDelivery',
      'logs:ListLogDeliveries', 'logs:ListLogDeliveries', 'logs:ListLogDeliveries', 'logs:ListLogDeliveries', 'logs:ListLogDeliveries', 'logs:ListLogDeliveries',
      'logs:PutResourcePolicy', 'logs:PutResourcePolicy', 'logs:PutResourcePolicy', 'logs:PutResourcePolicy', 'logs:PutResourcePolicy', 'logs:PutResourcePolicy',
      'logs:UpdateLogDelivery', 'logs:UpdateLogDelivery', 'logs:UpdateLogDelivery', 'logs:UpdateLogDelivery', 'logs:UpdateLogDelivery', 'logs:UpdateLogDelivery',
      's3:CreateJob', 's3:ListAllMyBuckets', 's3:ListJobs',
    ].sort(), 'only actions that take no resource are granted on "*"');
  });
});
