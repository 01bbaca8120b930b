// The DR key (made when cdk.json names none) admits the replication role and the step Lambda's
// role through S3 in the DR region, by ARN conditions: KMS rejects a key policy naming a role that
// does not exist yet, and the key's stack may deploy before the home stack.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { arn, synth } from './helpers';

describe('the DR key', () => {
  const built = synth({ backfill: 'copy' });
  assert.ok(built.drKey, 'a DR key stack');
  const key = Template.fromStack(built.drKey);
  const [policy] = Object.values<any>(key.findResources('AWS::KMS::Key')).map((k) => k.Properties.KeyPolicy.Statement);

  it('keeps the default statement: the account (its IAM policies) may use and manage the key', () => {
    assert.ok(policy.some((s: any) => s.Action === 'kms:*' && s.Effect === 'Allow' && !s.Condition
      && JSON.stringify(s.Principal) === JSON.stringify({ AWS: arn('iam::123456789012:root') })), JSON.stringify(policy));
  });

  it('admits the two roles by aws:PrincipalArn, only through S3 in the DR region', () => {
    const admit = policy.find((s: any) => s.Sid === 'S3DrRolesThroughS3InTheDrRegion');
    assert.deepEqual(admit.Principal, { AWS: arn('iam::123456789012:root') });
    assert.deepEqual(admit.Action, ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey']);
    assert.deepEqual(admit.Condition, {
      ArnEquals: { 'aws:PrincipalArn': [arn('iam::123456789012:role/s3-dr-replication-us-east-1'), arn('iam::123456789012:role/s3-dr-step-us-east-1')] },
      StringEquals: { 'kms:ViaService': 's3.us-east-2.amazonaws.com' },
    });
    // No statement names a role as its principal (it may not exist yet).
    assert.ok(!JSON.stringify(policy.map((s: any) => s.Principal)).includes(':role/'));
  });

  it('names the roles the home stack makes', () => {
    for (const name of ['s3-dr-replication-us-east-1', 's3-dr-step-us-east-1']) {
      built.home.hasResourceProperties('AWS::IAM::Role', { RoleName: name });
    }
  });
});
