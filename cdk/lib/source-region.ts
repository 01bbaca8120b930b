// What the stack of a source region (the home stack when home is a source region, a forwarder
// otherwise) has, whichever stack it is: the Batch Replication report bucket and the alarm on S3's
// replication failures, which must live in that region.

import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { S3DrConfig } from './config';
import { createsReportBuckets, reportBucketName } from './lambda-environment';

/** The replication rule s3-dr writes (src/replication.rs, RULE_ID). */
export const RULE_ID = 's3-dr';
/** How long Batch Replication completion reports are kept. */
export const REPORT_DAYS = 90;

/** An alarm of s3-dr: one bad datapoint in 5 minutes, no data is fine, to the stack's topic. */
export function s3drAlarm(scope: Construct, id: string, metric: cloudwatch.IMetric, description: string, topic: sns.ITopic): cloudwatch.Alarm {
  const alarm = new cloudwatch.Alarm(scope, id, {
    metric,
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    alarmDescription: description,
  });
  alarm.addAlarmAction(new cloudwatchActions.SnsAction(topic));
  return alarm;
}

/** S3's replication metrics of the s3-dr rules, summed over every source and destination bucket
 * (a CloudWatch Metrics Insights query; alarms accept one that returns a single series:
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-metrics-insights-alarms.html). */
export function replicationMetricQuery(metricName: string, aggregate: 'SUM' | 'MAX' = 'SUM'): string {
  return `SELECT ${aggregate}(${metricName}) FROM SCHEMA("AWS/S3", SourceBucket, DestinationBucket, RuleId) WHERE RuleId = '${RULE_ID}'`;
}

/**
 * The alarm on S3's replication failures of the s3-dr rules, for the stack of each source region.
 * The metrics exist only with RTC (which turns replication metrics on). Where S3 publishes them
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/repl-metrics.html, "Which Region is this
 * metric published in?"):
 *
 *   OperationsFailedReplication                     the source bucket's region
 *   ReplicationLatency, BytesPendingReplication,
 *   OperationsPendingReplication                    the destination bucket's region (DR region)
 *
 * so this alarm is made in each source region only (the DR region never has this metric: it is
 * never a source region). A source region without failures stays OK (missing data is not
 * breaching).
 */
export function replicationFailedAlarm(scope: Construct, config: S3DrConfig, topic: sns.ITopic): cloudwatch.Alarm | undefined {
  const region = Stack.of(scope).region;
  if (!config.replicationTimeControl) return undefined;
  return s3drAlarm(scope, 'ReplicationOperationsFailed', new cloudwatch.MathExpression({
    expression: replicationMetricQuery('OperationsFailedReplication'),
    label: 'OperationsFailedReplication',
    period: Duration.minutes(5),
  }), `s3-dr: S3 failed to replicate objects of protected buckets (replication metrics in ${region}, rule ${RULE_ID}); \`s3-dr status --all\` shows the buckets`, topic);
}

/** Where S3 delivers the s3-dr inventories in a report bucket (src/inventory.rs, INVENTORY_PREFIX). */
export const INVENTORY_PREFIX = 's3-dr/inventory';

/**
 * The report bucket of a source or the DR region's stack, when the stacks make them (backfill
 * batch and no batchReportBucket in cdk.json): s3-dr-reports-<account>-<region>, which the
 * Lambda derives (S3DR_BATCH_REPORT_BUCKET). It holds what must stay in its region: a Batch
 * Replication job's completion report (the job runs in the source bucket's region), and the
 * S3 Inventory reports of the sources and their destinations (S3 delivers an inventory only to a
 * bucket of the same region), with VerifyData's JSON reports beside them.
 */
export function reportBucket(scope: Construct, config: S3DrConfig): s3.Bucket | undefined {
  if (!createsReportBuckets(config)) return undefined;
  const stack = Stack.of(scope);
  const bucket = new s3.Bucket(scope, 'BatchReportBucket', {
    bucketName: reportBucketName(stack.account, stack.region),
    encryption: s3.BucketEncryption.S3_MANAGED,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    enforceSSL: true,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    lifecycleRules: [{ id: 'expire-reports', expiration: Duration.days(REPORT_DAYS) }],
    // Deleted with its stack, and when the creation that made it rolls back: the name is fixed,
    // so a retained bucket made the next deploy fail ("already exists"). It holds only Batch job
    // completion reports (operational logs that expire after REPORT_DAYS, not user data), so its
    // objects are emptied first: CloudFormation deletes a bucket only once it is empty
    // (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html).
    removalPolicy: RemovalPolicy.DESTROY,
    // CDK's provider Lambda empties the bucket on delete. cdk-nag 3 raises no finding on it (its
    // role and function are plain CfnResources, which the IAM4/L1 rules do not inspect), so there
    // is nothing to acknowledge.
    autoDeleteObjects: true,
  });
  // S3 Inventory delivers the daily reports VerifyData configures, for buckets of this account
  // only, as AWS's example policy for inventory destinations grants it
  // (https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-bucket-policies.html#example-bucket-policies-s3-inventory-1).
  bucket.addToResourcePolicy(new iam.PolicyStatement({
    sid: 'S3InventoryDelivery',
    principals: [new iam.ServicePrincipal('s3.amazonaws.com')],
    actions: ['s3:PutObject'],
    resources: [bucket.arnForObjects(`${INVENTORY_PREFIX}/*`)],
    conditions: {
      ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 's3', region: '', account: '', resource: '*' }) },
      StringEquals: { 'aws:SourceAccount': stack.account, 's3:x-amz-acl': 'bucket-owner-full-control' },
    },
  }));
  Validations.of(bucket).acknowledge({
    id: 'AwsSolutions-S1',
    reason: 'The bucket holds only operational reports (S3 Batch Replication completion reports, S3 Inventory lists, verification results), written by S3 and the step Lambda and read by the step Lambda; CloudTrail records the jobs, and access logs would need one more bucket per region for no extra insight.',
  });
  return bucket;
}

