// The step Lambda's environment (src/config.rs reads it), as a pure function of the configuration
// and the ARNs the stack makes: the stack deploys it, and check-config.ts runs the Lambda's own
// validation on it at synth.

import { S3DrConfig } from './config';
import { DR_KEY_ALIAS } from './dr-key-stack';

/** The report bucket each source region's stack creates when cdk.json names none; the Lambda
 * substitutes `{account}` and `{region}` (the source bucket's region). */
export const DEFAULT_REPORT_BUCKET = 's3-dr-reports-{account}-{region}';

/** The report bucket of `region` in `account` (either may be a CDK token). */
export function reportBucketName(account: string, region: string): string {
  return DEFAULT_REPORT_BUCKET.replace('{account}', account).replace('{region}', region);
}

/** Whether the stacks create the report buckets (backfill batch, and cdk.json names none). */
export function createsReportBuckets(config: S3DrConfig): boolean {
  return config.backfill === 'batch' && !config.batchReportBucket;
}

/** The ARNs the Lambda is given: roles, and the workflows it starts. */
export interface LambdaArns {
  readonly stepRole: string;
  readonly replicationRole: string;
  readonly batchRole: string;
  readonly protect: string;
  readonly detach: string;
  /** The weekly data verification, which the sweep starts. */
  readonly verify: string;
}

/** Which cdk.json key (context `s3dr`) each variable comes from; the rest are ARNs the stack makes. */
export const ENVIRONMENT_SETTINGS: Record<string, keyof S3DrConfig> = {
  S3DR_DR_REGION: 'drRegion',
  S3DR_DESTINATION_SUFFIX: 'destinationSuffix',
  S3DR_MATCH_TAG: 'matchTag',
  S3DR_STORAGE_CLASS: 'storageClass',
  S3DR_RTC: 'replicationTimeControl',
  S3DR_PUBLIC_ACCESS: 'publicAccess',
  S3DR_BACKFILL: 'backfill',
  S3DR_BATCH_REPORT_BUCKET: 'batchReportBucket',
  S3DR_BATCH_REPORT_PREFIX: 'batchReportPrefix',
  S3DR_DR_KMS_KEY: 'drKmsKeyArn',
  S3DR_RESERVED_CONCURRENCY: 'reservedConcurrency',
};

export function lambdaEnvironment(config: S3DrConfig, arns: LambdaArns): Record<string, string> {
  const environment: Record<string, string> = {
    S3DR_DR_REGION: config.drRegion,
    S3DR_DESTINATION_SUFFIX: config.destinationSuffix,
    S3DR_MATCH_TAG: config.matchTag,
    S3DR_REPLICATION_ROLE_ARN: arns.replicationRole,
    S3DR_STORAGE_CLASS: config.storageClass,
    S3DR_RTC: String(config.replicationTimeControl),
    S3DR_PUBLIC_ACCESS: config.publicAccess,
    S3DR_BACKFILL: config.backfill,
    S3DR_BATCH_ROLE_ARN: arns.batchRole,
    S3DR_BATCH_REPORT_PREFIX: config.batchReportPrefix,
    S3DR_PROTECT_STATE_MACHINE_ARN: arns.protect,
    S3DR_DETACH_STATE_MACHINE_ARN: arns.detach,
    S3DR_VERIFY_STATE_MACHINE_ARN: arns.verify,
    // Events the Lambda's own calls cause come back through CloudTrail: it ignores them.
    S3DR_STEP_ROLE_ARN: arns.stepRole,
    S3DR_DR_KMS_KEY: config.drKmsKeyArn ?? DR_KEY_ALIAS,
    // A copy backfill is split into at most half as many shards as the function has slots.
    S3DR_RESERVED_CONCURRENCY: String(config.reservedConcurrency),
  };
  if (config.batchReportBucket) {
    environment.S3DR_BATCH_REPORT_BUCKET = config.batchReportBucket;
  } else if (createsReportBuckets(config)) {
    environment.S3DR_BATCH_REPORT_BUCKET = DEFAULT_REPORT_BUCKET;
  }
  return environment;
}
