// Report buckets (Batch Replication reports, S3 Inventory lists, verification reports): made by
// the stacks, one per source region and one in the DR region, when cdk.json names none (emptied
// and deleted with their stack); the configured one otherwise.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { arn, list, statements, synth } from './helpers';

const buckets = (template: Template) => Object.values<any>(template.findResources('AWS::S3::Bucket'));
const lambdaVariables = (template: Template) =>
  Object.values<any>(template.findResources('AWS::Lambda::Function', { Properties: { FunctionName: 's3-dr-step' } }))[0].Properties.Environment.Variables;
const sid = (template: Template, id: string) => statements(template).filter((s) => s.Sid === id);

describe('report buckets, made by the stacks (backfill batch, no batchReportBucket)', () => {
  const built = synth({ backfill: 'batch' });

  it('exist in every source region (home, the other source region) and in the DR region (its inventories)', () => {
    assert.equal(buckets(built.home).length, 1);
    assert.equal(buckets(built.forwarders[0].template).length, 1);
    assert.equal(buckets(built.drForwarder!).length, 1);
    built.home.hasResourceProperties('AWS::S3::Bucket', { BucketName: 's3-dr-reports-123456789012-us-east-1' });
    built.forwarders[0].template.hasResourceProperties('AWS::S3::Bucket', { BucketName: 's3-dr-reports-123456789012-us-west-2' });
    built.drForwarder!.hasResourceProperties('AWS::S3::Bucket', { BucketName: 's3-dr-reports-123456789012-us-east-2' });
  });

  it('let S3 deliver inventories of this account\'s buckets under s3-dr/inventory/ only', () => {
    for (const template of [built.home, built.forwarders[0].template, built.drForwarder!]) {
      const [policy] = Object.values<any>(template.findResources('AWS::S3::BucketPolicy'));
      const delivery = policy.Properties.PolicyDocument.Statement.find((s: any) => s.Sid === 'S3InventoryDelivery');
      assert.deepEqual(delivery.Principal, { Service: 's3.amazonaws.com' });
      assert.deepEqual(delivery.Action, 's3:PutObject');
      assert.match(JSON.stringify(delivery.Resource), /\/s3-dr\/inventory\/\*"/);
      assert.deepEqual(delivery.Condition.StringEquals, { 'aws:SourceAccount': '123456789012', 's3:x-amz-acl': 'bucket-owner-full-control' });
      assert.deepEqual(delivery.Condition.ArnLike, { 'aws:SourceArn': arn('s3:::*') });
    }
  });

  it('are where the step role configures inventories (any bucket: sources are known at run time)', () => {
    const [configure] = sid(built.home, 'ConfigureInventories');
    assert.deepEqual([list(configure.Action), configure.Resource], [['s3:GetInventoryConfiguration', 's3:PutInventoryConfiguration'], arn('s3:::*')]);
  });

  it('are private, S3-encrypted, TLS-only, owner-enforced, expire reports after 90 days', () => {
    for (const template of [built.home, built.forwarders[0].template]) {
      template.hasResource('AWS::S3::Bucket', {
        Properties: Match.objectLike({
          BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
          PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
          OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
          LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 90, Status: 'Enabled' })] },
        }),
      });
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
      });
    }
  });

  it('go with their stack, emptied first (fixed names: a retained bucket made the next deploy fail)', () => {
    for (const template of [built.home, built.forwarders[0].template, built.drForwarder!]) {
      const [[id, bucket]] = Object.entries<any>(template.findResources('AWS::S3::Bucket'));
      assert.deepEqual([bucket.DeletionPolicy, bucket.UpdateReplacePolicy], ['Delete', 'Delete']);
      // CDK's autoDeleteObjects: a custom resource that empties this bucket before it is deleted.
      const [emptier] = Object.values<any>(template.findResources('Custom::S3AutoDeleteObjects'));
      assert.deepEqual(emptier.Properties.BucketName, { Ref: id });
      assert.equal(emptier.DependsOn.length > 0, true);
      // Its provider may delete objects of this bucket only (the bucket policy names its role).
      template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: id },
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({
          Effect: 'Allow',
          Action: Match.arrayWith(['s3:DeleteObject*']),
          Principal: { AWS: { 'Fn::GetAtt': [Match.stringLikeRegexp('^CustomS3AutoDeleteObjectsCustomResourceProviderRole'), 'Arn'] } },
        })]) },
      });
    }
  });

  it('are named by the account token when the account is not known at synth', () => {
    const anyAccount = synth({ backfill: 'batch' }, { account: null });
    anyAccount.home.hasResourceProperties('AWS::S3::Bucket', { BucketName: { 'Fn::Join': ['', ['s3-dr-reports-', { Ref: 'AWS::AccountId' }, '-us-east-1']] } });
  });

  it('are the Lambda\'s, by a pattern it completes ({account}, {region})', () => {
    assert.equal(lambdaVariables(built.home).S3DR_BATCH_REPORT_BUCKET, 's3-dr-reports-{account}-{region}');
  });

  it('are written by the batch role and read by the step role under the prefix, in this account only', () => {
    const objects = arn('s3:::s3-dr-reports-123456789012-*/s3-dr/batch-reports/*');
    const inThisAccount = { StringEquals: { 'aws:ResourceAccount': '123456789012' } };
    const [write] = sid(built.home, 'WriteCompletionReports');
    assert.deepEqual([list(write.Action), write.Resource, write.Condition], [['s3:PutObject'], objects, inThisAccount]);
    const [read] = sid(built.home, 'ReadBatchReports');
    assert.deepEqual([list(read.Action), read.Resource, read.Condition], [['s3:GetObject'], objects, inThisAccount]);
  });

  it('are not made at home when home is not a source region', () => {
    const away = synth({ backfill: 'batch', sourceRegions: ['us-west-2'] });
    assert.equal(buckets(away.home).length, 0);
    assert.equal(buckets(away.forwarders[0].template).length, 1);
  });
});

describe('a configured report bucket', () => {
  const built = synth({ backfill: 'batch', batchReportBucket: 'my-reports-{region}' });

  it('is used as it is: no bucket made, the Lambda given the name, IAM scoped to it', () => {
    for (const { template } of built.templates) assert.equal(buckets(template).length, 0);
    assert.equal(lambdaVariables(built.home).S3DR_BATCH_REPORT_BUCKET, 'my-reports-{region}');
    const [write] = sid(built.home, 'WriteCompletionReports');
    assert.deepEqual([write.Resource, write.Condition], [arn('s3:::my-reports-*/s3-dr/batch-reports/*'), undefined]);
  });

  it('may name the account', () => {
    const withAccount = synth({ backfill: 'batch', batchReportBucket: 'reports-{account}-{region}' });
    const [read] = sid(withAccount.home, 'ReadBatchReports');
    assert.deepEqual(read.Resource, arn('s3:::reports-123456789012-*/s3-dr/batch-reports/*'));
  });
});

describe('no batch backfill', () => {
  it('makes no report bucket, and grants none', () => {
    const built = synth({ backfill: 'copy' });
    for (const { template } of built.templates) assert.equal(buckets(template).length, 0);
    assert.equal(lambdaVariables(built.home).S3DR_BATCH_REPORT_BUCKET, undefined);
    assert.equal(sid(built.home, 'WriteCompletionReports').length, 0);
    assert.equal(sid(built.home, 'ReadBatchReports').length, 0);
  });
});
