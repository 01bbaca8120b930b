// The DR region's customer-managed key, when cdk.json names none (`drKmsKeyArn`). S3
// replication re-encrypts SSE-KMS objects only with a customer-managed key in the
// destination's region (API reference, EncryptionConfiguration.ReplicaKmsKeyID), and any bucket
// may hold SSE-KMS objects, so the deployment always has one: `alias/s3-dr`, which is also the
// Lambda's default S3DR_DR_KMS_KEY.
//
// The key policy keeps KMS's default statement (the account's IAM policies decide) and admits
// the replication role and the step Lambda's role by name, through S3 in the DR region only (and
// DescribeKey for the step role, which ValidateSource calls directly); the roles' IAM policies
// grant the key by its alias (`kms:ResourceAliases`), so no ARN has to cross regions. The key
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
    // The roles themselves are the principals (a statement whose principal is the account root
    // grants nothing beyond KMS's default one). KMS rejects a key policy naming a role that does
    // not exist yet (MalformedPolicyDocumentException,
    // https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html): the app deploys
    // this stack after the home stack, which makes them (app.ts). Their names are fixed (S3DrStack).
    // KMS stores a role principal as the role's unique ID: a role deleted and made again (home
    // stack destroyed and redeployed) is no longer matched until this policy is written again
    // (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-roles);
    // the roles keep the key meanwhile through the default statement and their IAM policies.
    // The data-key actions only through S3 in the DR region (kms:ViaService,
    // https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service).
    const role = (name: string) => new iam.ArnPrincipal(
      this.formatArn({ service: 'iam', region: '', resource: 'role', resourceName: name, arnFormat: ArnFormat.SLASH_RESOURCE_NAME }));
    const replicationRole = role(replicationRoleName(props.homeRegion));
    const stepRole = role(stepRoleName(props.homeRegion));
    this.key.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'S3DrRolesThroughS3InTheDrRegion',
      principals: [replicationRole, stepRole],
      actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'],
      resources: ['*'],
      conditions: { StringEquals: { 'kms:ViaService': `s3.${this.region}.amazonaws.com` } },
    }));
    // ValidateSource calls DescribeKey itself, not through S3.
    this.key.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'S3DrStepRoleDescribesTheKey',
      principals: [stepRole],
      actions: ['kms:DescribeKey'],
      resources: ['*'],
    }));
  }
}
