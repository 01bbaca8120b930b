// The roles S3 assumes: the replication role (S3 replicates tagged buckets to their destinations
// with it) and the batch role (S3 Batch Replication jobs that backfill existing objects run with
// it). The step Lambda passes them to S3 (step-lambda.ts).

import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { S3DrConfig } from './config';
import { replicationRoleName } from './dr-key-stack';
import { anyKeyOfTheAccount, bucketArns, drKeyGrant, kmsFindings, reportObjects, throughS3In } from './grants';

export interface RolesProps {
  readonly config: S3DrConfig;
}

/** The replication and batch roles. Its resources are the stack's children (see S3DrStack). */
export class Roles extends Construct {
  readonly replicationRole: iam.Role;
  readonly batchRole: iam.Role;

  constructor(stack: Stack, id: string, props: RolesProps) {
    super(stack, id);
    const config = props.config;
    const { anyBucket, anyObject, destinationObjects } = bucketArns(stack, config);
    // Keys: the DR key (configured, or made by DrKeyStack and known by its alias), and the
    // sources' keys, whichever they are, used only through S3.
    const drKey = drKeyGrant(stack, config);
    // S3 asks KMS with the object's ARN as encryption context, or the bucket's with an S3
    // Bucket Key (https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html).
    const forS3Objects = { 'kms:EncryptionContext:aws:s3:arn': [anyBucket] };

    // Confused-deputy protection (https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html):
    // whenever S3 puts aws:SourceAccount in its AssumeRole request, it must be this account. AWS's
    // S3 pages show these trust policies without conditions
    // (https://docs.aws.amazon.com/AmazonS3/latest/userguide/setting-repl-config-perm-overview.html),
    // and if S3 did not send the key, StringEquals would deny every AssumeRole and replication
    // would fail silently: StringEqualsIfExists protects whenever the key is present and never
    // locks S3 out when it is not.
    const forThisAccount = { StringEqualsIfExists: { 'aws:SourceAccount': stack.account } };
    this.replicationRole = new iam.Role(stack, 'ReplicationRole', {
      // A fixed name: the DR key's policy (DrKeyStack, another region) admits it by name.
      roleName: replicationRoleName(stack.region),
      assumedBy: new iam.ServicePrincipal('s3.amazonaws.com', { conditions: forThisAccount }),
      description: 'S3 replicates tagged buckets to their s3-dr destinations with this role',
    });
    this.replicationRole.addToPolicy(new iam.PolicyStatement({
      sid: 'ReadSourceReplicationConfiguration',
      actions: ['s3:GetReplicationConfiguration', 's3:ListBucket'],
      resources: [anyBucket],
    }));
    this.replicationRole.addToPolicy(new iam.PolicyStatement({
      sid: 'ReadSourceObjectsForReplication',
      actions: ['s3:GetObjectVersionForReplication', 's3:GetObjectVersionAcl', 's3:GetObjectVersionTagging', 's3:GetObjectRetention', 's3:GetObjectLegalHold'],
      resources: [anyObject],
    }));
    this.replicationRole.addToPolicy(new iam.PolicyStatement({
      sid: 'WriteReplicasToDestinations',
      actions: ['s3:ReplicateObject', 's3:ReplicateDelete', 's3:ReplicateTags', 's3:ObjectOwnerOverrideToBucketOwner'],
      resources: [destinationObjects],
    }));
    // Any key of the account (and the listed ones of other accounts), but only through S3 in
    // a source region and for S3 objects: a source key added tomorrow needs no change here, as
    // AWS's replication-with-KMS example scopes it (kms:ViaService, encryption context).
    this.replicationRole.addToPolicy(new iam.PolicyStatement({
      sid: 'DecryptSourceObjectsThroughS3',
      actions: ['kms:Decrypt'],
      resources: [anyKeyOfTheAccount(stack), ...config.sourceKmsKeyArns],
      conditions: { StringEquals: throughS3In(config.sourceRegions), StringLike: forS3Objects },
    }));
    this.replicationRole.addToPolicy(new iam.PolicyStatement({
      sid: 'EncryptReplicasWithTheDrKey',
      actions: ['kms:Encrypt', 'kms:GenerateDataKey'],
      resources: drKey.resources,
      conditions: { StringEquals: throughS3In([config.drRegion]), StringLike: forS3Objects, ...drKey.conditions },
    }));
    Validations.of(this.replicationRole).acknowledge(
      ...['Resource::arn:<AWS::Partition>:s3:::*', 'Resource::arn:<AWS::Partition>:s3:::*/*', `Resource::arn:<AWS::Partition>:s3:::*${config.destinationSuffix}/*`].map((finding) => ({
        id: `AwsSolutions-IAM5[${finding}]`,
        reason: 'Sources are any bucket tagged for protection, known only at run time, and destinations any bucket named with the s3-dr suffix; the actions are the replication ones only.',
      })),
      ...kmsFindings(stack, config).map((finding) => ({
        id: `AwsSolutions-IAM5[${finding}]`,
        reason: 'Source objects may be encrypted with any key of the account (a per-key list goes stale as keys are added); the grant holds only through S3 in the source regions (kms:ViaService) and for S3 objects (encryption context). The DR key is matched by its alias when the deployment made it in the DR region.',
      })),
    );

    this.batchRole = new iam.Role(stack, 'BatchOperationsRole', {
      roleName: `s3-dr-batch-${stack.region}`,
      assumedBy: new iam.ServicePrincipal('batchoperations.s3.amazonaws.com', { conditions: forThisAccount }),
      description: 'S3 Batch Replication jobs that backfill existing objects run with this role',
    });
    this.batchRole.addToPolicy(new iam.PolicyStatement({
      sid: 'ReplicateExistingObjects', actions: ['s3:InitiateReplication'], resources: [anyObject],
    }));
    this.batchRole.addToPolicy(new iam.PolicyStatement({
      sid: 'GenerateManifest',
      actions: ['s3:GetReplicationConfiguration', 's3:PutInventoryConfiguration'],
      resources: [anyBucket],
    }));
    const reports = reportObjects(stack, config);
    if (reports) {
      this.batchRole.addToPolicy(new iam.PolicyStatement({
        sid: 'WriteCompletionReports', actions: ['s3:PutObject'], resources: [reports.arn], conditions: reports.conditions,
      }));
    }
    Validations.of(this.batchRole).acknowledge(
      ...['Resource::arn:<AWS::Partition>:s3:::*', 'Resource::arn:<AWS::Partition>:s3:::*/*', ...(reports ? [reports.finding] : [])].map((finding) => ({
        id: `AwsSolutions-IAM5[${finding}]`,
        reason: 'Jobs act on whichever tagged source bucket needs a backfill, and write reports under the configured prefix of the per-region report buckets (the ones the stacks make: in this account only).',
      })),
    );
  }
}
