// The roles S3 assumes (lib/roles.ts): trusted by their service for this account only, with
// least privilege, and passed by the step Lambda only to their service.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { DR_KEY, EVERY_OPTION, list, SOURCE_KEY, statements, synth } from './helpers';

const deployed = synth(EVERY_OPTION);
const home = deployed.home;
const all = [...statements(home), ...deployed.forwarders.flatMap((f) => statements(f.template))];

describe('the replication and batch roles', () => {
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

  it('passes only the replication and batch roles, each to its service', () => {
    const passes = all.filter((s) => list(s.Action).includes('iam:PassRole'));
    assert.equal(passes.length, 2);
    const passed = passes.map((s) => [JSON.stringify(s.Resource), s.Condition?.StringEquals?.['iam:PassedToService']]);
    assert.ok(passed.some(([resource, service]) => resource.includes('ReplicationRole') && service === 's3.amazonaws.com'), JSON.stringify(passed));
    // The batch role by its ARN only: S3 documents no iam:PassedToService value for it.
    assert.ok(passed.some(([resource, service]) => resource.includes('BatchOperationsRole') && service === undefined), JSON.stringify(passed));
  });
});
