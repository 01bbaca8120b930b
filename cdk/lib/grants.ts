// What the home stack's IAM grants name, shared by the roles S3 assumes (roles.ts) and the step
// Lambda's role (step-lambda.ts): buckets and objects, KMS keys, the Batch Replication report
// objects, and the cdk-nag findings (wildcard resources) they raise.

import { Stack, Token } from 'aws-cdk-lib';
import { S3DrConfig } from './config';
import { DR_KEY_ALIAS } from './dr-key-stack';
import { createsReportBuckets, reportBucketName } from './lambda-environment';

/** Buckets and objects: sources are any bucket (tagged ones are known only at run time). */
export interface BucketArns {
  readonly anyBucket: string;
  readonly anyObject: string;
  readonly destinationBuckets: string;
  readonly destinationObjects: string;
}

export function bucketArns(stack: Stack, config: S3DrConfig): BucketArns {
  const bucketArn = (name: string) => stack.formatArn({ service: 's3', region: '', account: '', resource: name });
  const suffix = config.destinationSuffix;
  return {
    anyBucket: bucketArn('*'),
    anyObject: bucketArn('*/*'),
    // Destinations are always named <something><suffix> (see src/naming.rs).
    destinationBuckets: bucketArn(`*${suffix}`),
    destinationObjects: bucketArn(`*${suffix}/*`),
  };
}

/** How IAM names the DR key: its ARN, or (made by DrKeyStack in another region) any key of the
 * DR region that carries the alias. */
export interface DrKeyGrant {
  readonly resources: string[];
  readonly conditions: Record<string, unknown>;
}

/** The DR key: configured, or made by DrKeyStack and known by its alias. */
export function drKeyGrant(stack: Stack, config: S3DrConfig): DrKeyGrant {
  if (config.drKmsKeyArn) return { resources: [config.drKmsKeyArn], conditions: {} };
  return {
    resources: [stack.formatArn({ service: 'kms', region: config.drRegion, resource: 'key', resourceName: '*' })],
    conditions: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': DR_KEY_ALIAS } },
  };
}

/** The sources' keys, whichever they are: granted only through S3 (throughS3In). */
export function anyKeyOfTheAccount(stack: Stack): string {
  return stack.formatArn({ service: 'kms', region: '*', resource: 'key', resourceName: '*' });
}

/** A KMS key used only by S3 on the caller's behalf, in these regions. */
export function throughS3In(regions: string[]) {
  return { 'kms:ViaService': regions.map((r) => `s3.${r}.amazonaws.com`) };
}

/** The account or region as cdk-nag names it in a finding: CloudFormation's pseudo parameter
 * when it is not known at synth. */
export function nagName(value: string, pseudo: 'AWS::AccountId' | 'AWS::Region'): string {
  return Token.isUnresolved(value) ? `<${pseudo}>` : value;
}

/** The cdk-nag findings the KMS grants raise (wildcard key resources), as it names them. */
export function kmsFindings(stack: Stack, config: S3DrConfig): string[] {
  const account = nagName(stack.account, 'AWS::AccountId');
  return [
    `Resource::arn:<AWS::Partition>:kms:*:${account}:key/*`,
    ...(config.drKmsKeyArn ? [] : [`Resource::arn:<AWS::Partition>:kms:${config.drRegion}:${account}:key/*`]),
  ];
}

/** Where Batch Replication reports are written and read, and the cdk-nag finding the grant raises. */
export interface ReportObjects {
  readonly arn: string;
  readonly conditions?: Record<string, unknown>;
  readonly finding: string;
}

/**
 * Where Batch Replication reports are written and read: under the prefix of the report buckets
 * the stacks make (s3-dr-reports-<account>-<region>, of this account only: aws:ResourceAccount,
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-resourceaccount),
 * or of the configured bucket (`{region}` any, `{account}` this account).
 */
export function reportObjects(stack: Stack, config: S3DrConfig, prefix = config.batchReportPrefix): ReportObjects | undefined {
  const account = nagName(stack.account, 'AWS::AccountId');
  const objects = (bucket: string) => stack.formatArn({ service: 's3', region: '', account: '', resource: `${bucket}/${prefix}/*` });
  if (createsReportBuckets(config)) {
    const bucket = reportBucketName(stack.account, '*');
    return {
      arn: objects(bucket),
      conditions: { StringEquals: { 'aws:ResourceAccount': stack.account } },
      finding: `Resource::arn:<AWS::Partition>:s3:::${reportBucketName(account, '*')}/${prefix}/*`,
    };
  }
  if (!config.batchReportBucket) return undefined;
  const pattern = (acct: string) => config.batchReportBucket!.replace('{region}', '*').replace('{account}', acct);
  return { arn: objects(pattern(stack.account)), finding: `Resource::arn:<AWS::Partition>:s3:::${pattern(account)}/${prefix}/*` };
}
