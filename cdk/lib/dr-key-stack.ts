// The DR region's customer-managed key, when cdk.json names none (`drKmsKeyArn`). S3
// replication re-encrypts SSE-KMS objects only with a customer-managed key in the
// destination's region (API reference, EncryptionConfiguration.ReplicaKmsKeyID), and any bucket
// may hold SSE-KMS objects, so the deployment always has one: `alias/s3-dr`, which is also the
// Lambda's default S3DR_DR_KMS_KEY.
//
// The key policy is KMS's default (the account's IAM policies decide); the replication role
// and the Lambda are granted the key by its alias (`kms:ResourceAliases`), so no ARN has to
// cross regions. The key is retained when the stack goes: the DR copies are encrypted with it.

import { Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export const DR_KEY_ALIAS = 'alias/s3-dr';

export class DrKeyStack extends Stack {
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: StackProps) {
    super(scope, id, props);
    this.key = new kms.Key(this, 'DrKey', {
      alias: DR_KEY_ALIAS,
      description: 's3-dr: replicas of SSE-KMS and DSSE-KMS objects in the DR region',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
      pendingWindow: Duration.days(30),
    });
  }
}
