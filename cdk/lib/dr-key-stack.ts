// The DR region's customer-managed key, when cdk.json names none (`drKmsKeyArn`). S3
// replication re-encrypts SSE-KMS objects only with a customer-managed key in the
// destination's region (API reference, EncryptionConfiguration.ReplicaKmsKeyID), and any bucket
// may hold SSE-KMS objects, so the deployment always has one: `alias/s3-dr`, which is also the
// Lambda's default S3DR_DR_KMS_KEY.
//
// The key policy keeps KMS's default statement (the account's IAM policies decide) and admits,
// through S3 in the DR region only, the replication role and the step Lambda's role; they are
// granted the key by its alias (`kms:ResourceAliases`), so no ARN has to cross regions. The key
// is retained when the stack goes: the DR copies are encrypted with it.

import { ArnFormat, Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { stepRoleName } from './events';

export const DR_KEY_ALIAS = 'alias/s3-dr';

/** The replication role, by its fixed name (S3DrStack). */
export function replicationRoleName(homeRegion: string): string {
  return `s3-dr-replication-${homeRegion}`;
}

export interface DrKeyStackProps extends StackProps {
  /** The home region, which names the roles the key admits. */
  readonly homeRegion: string;
}

export class DrKeyStack extends Stack {
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: DrKeyStackProps) {
    super(scope, id, props);
    this.key = new kms.Key(this, 'DrKey', {
      alias: DR_KEY_ALIAS,
      description: 's3-dr: replicas of SSE-KMS and DSSE-KMS objects in the DR region',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
      pendingWindow: Duration.days(30),
    });
    // KMS rejects a key policy whose principal is a role that does not exist yet
    // (MalformedPolicyDocumentException, "invalid principals":
    // https://repost.aws/knowledge-center/kms-policy-error-invalid-principals), and this stack
    // may deploy before the home stack makes the roles: the principal is the account, narrowed to
    // the two roles by aws:PrincipalArn
    // (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn),
    // and to S3 in the DR region by kms:ViaService
    // (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service).
    const role = (name: string) => this.formatArn({ service: 'iam', region: '', resource: 'role', resourceName: name, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    this.key.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'S3DrRolesThroughS3InTheDrRegion',
      principals: [new iam.AccountPrincipal(this.account)],
      actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'],
      resources: ['*'],
      conditions: {
        ArnEquals: { 'aws:PrincipalArn': [role(replicationRoleName(props.homeRegion)), role(stepRoleName(props.homeRegion))] },
        StringEquals: { 'kms:ViaService': `s3.${this.region}.amazonaws.com` },
      },
    }));
  }
}
