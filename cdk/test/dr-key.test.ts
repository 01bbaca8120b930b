// The DR key (made when cdk.json names none) admits the replication role and the step Lambda's
// role, by their ARNs, through S3 in the DR region (and DescribeKey for the step role). KMS
// rejects a key policy naming a role that does not exist yet, so the key's stack deploys after
// the home stack, which makes the roles.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { arn, synth } from './helpers';

describe('the DR key', () => {
  const built = synth({ backfill: 'copy' });
  assert.ok(built.drKey, 'a DR key stack');
  const key = Template.fromStack(built.drKey);
  const [policy] = Object.values<any>(key.findResources('AWS::KMS::Key')).map((k) => k.Properties.KeyPolicy.Statement);
  const replicationRole = arn('iam::123456789012:role/s3-dr-replication-us-east-1');
  const stepRole = arn('iam::123456789012:role/s3-dr-step-us-east-1');

  it('keeps the default statement: the account (its IAM policies) may use and manage the key', () => {
    assert.ok(policy.some((s: any) => s.Action === 'kms:*' && s.Effect === 'Allow' && !s.Condition
      && JSON.stringify(s.Principal) === JSON.stringify({ AWS: arn('iam::123456789012:root') })), JSON.stringify(policy));
  });

  it('admits the two roles themselves as principals, only through S3 in the DR region', () => {
    const admit = policy.find((s: any) => s.Sid === 'S3DrRolesThroughS3InTheDrRegion');
    assert.deepEqual(admit.Principal, { AWS: [replicationRole, stepRole] });
    assert.deepEqual([admit.Effect, admit.Action, admit.Resource], ['Allow', ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'], '*']);
    assert.deepEqual(admit.Condition, { StringEquals: { 'kms:ViaService': 's3.us-east-2.amazonaws.com' } });
  });

  it('lets the step role describe the key directly (ValidateSource), and nothing else without S3', () => {
    const describeKey = policy.find((s: any) => s.Sid === 'S3DrStepRoleDescribesTheKey');
    assert.deepEqual([describeKey.Principal, describeKey.Action, describeKey.Resource, describeKey.Condition],
      [{ AWS: stepRole }, 'kms:DescribeKey', '*', undefined]);
    // Three statements in all: the default one and the two above.
    assert.equal(policy.length, 3);
  });

  it('names the roles the home stack makes, and deploys after it (no cycle: home names the key by alias)', () => {
    for (const name of ['s3-dr-replication-us-east-1', 's3-dr-step-us-east-1']) {
      built.home.hasResourceProperties('AWS::IAM::Role', { RoleName: name });
    }
    assert.deepEqual(built.drKey!.dependencies.map((s) => s.stackName), ['S3Dr']);
    assert.deepEqual(built.homeStack.dependencies, []);
    // The cloud assembly tells the CLI the same.
    const artifact = built.app.synth().getStackArtifact(built.drKey!.artifactId);
    assert.ok(artifact.dependencies.some((d) => d.id === built.homeStack.artifactId), JSON.stringify(artifact.dependencies.map((d) => d.id)));
  });
});
