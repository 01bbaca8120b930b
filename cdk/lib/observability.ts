// What a person looks at: the alarm topic, alarms on what needs acting on, and the dashboard;
// and, when home is a source region, what every source region's stack has (source-region.ts):
// the alarm on S3's replication failures and the Batch Replication report bucket.

import { CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { alarmTopic } from './alarm-topic';
import { S3DrConfig } from './config';
import { replicationFailedAlarm, replicationMetricQuery, reportBucket, s3drAlarm } from './source-region';
import { stepNames, Workflows } from './workflows';

export interface ObservabilityProps {
  readonly config: S3DrConfig;
  readonly workflows: Workflows;
  readonly stepFunction: lambda.Function;
  /** The triggers' dead-letter queue. */
  readonly deadLetters: sqs.IQueue;
}

/** Alarms, their topic, the dashboard. Its resources are the stack's children (see S3DrStack). */
export class Observability extends Construct {
  readonly topic: sns.Topic;
  readonly dashboard: cloudwatch.Dashboard;
  /** This region's report bucket, when home is a source or the DR region and the stacks make
   * them. */
  readonly reportBucket?: s3.Bucket;

  constructor(stack: Stack, id: string, props: ObservabilityProps) {
    super(stack, id);
    const { config, workflows, stepFunction, deadLetters } = props;
    const topic = alarmTopic(stack, config.alarmEmail);
    this.topic = topic;
    const alarm = (id: string, metric: cloudwatch.IMetric, description: string) => s3drAlarm(stack, id, metric, description, topic);
    // No alarm on the Lambda's Errors: the workflows retry and catch its errors (a transient one
    // would page people); a workflow that fails for good raises FailedExecutions.
    for (const [stem, machine] of Object.entries(workflows.stateMachines)) {
      alarm(`FailedExecutions-${stem}`, machine.metricFailed({ period: Duration.minutes(5), statistic: 'Sum' }),
        `s3-dr ${stem}: an execution failed; its error names the bucket and the fix (docs/errors.md)`);
    }
    alarm('DeadLetters', deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      's3-dr: EventBridge could not start a workflow for an event; the message is in the dead-letter queue');
    // The Lambda's own metrics (embedded in its log lines, namespace s3-dr, no dimension: `s3-dr
    // status --all` names the buckets): what a person has to look at.
    const own = (metricName: string) => new cloudwatch.Metric({ namespace: 's3-dr', metricName, period: Duration.minutes(5), statistic: 'Sum' });
    alarm('ObjectsNotReplicable', own('ObjectsNotReplicable'),
      's3-dr: a backfill found objects S3 cannot copy (archived and not restored, or SSE-C); `s3-dr status --all` names the buckets and an example key');
    alarm('BackfillObjectsFailed', own('BackfillObjectsFailed'),
      's3-dr: a backfill could not copy some objects (after its retries); `s3-dr status --all` names the buckets');
    // Data verification (VerifyData, weekly per bucket and `s3-dr verify`): objects that
    // replication should have carried and did not; and a recovery point (the age of the oldest
    // source object not in DR) past the configured bound.
    alarm('ObjectsMissingInDr', own('ObjectsMissingInDr'),
      's3-dr: a verification found objects missing in the DR bucket; `s3-dr verify --all` names the buckets, the report bucket holds each run\'s JSON report');
    new cloudwatch.Alarm(stack, 'RecoveryPointTooOld', {
      metric: new cloudwatch.Metric({ namespace: 's3-dr', metricName: 'RecoveryPointSeconds', period: Duration.hours(1), statistic: 'Maximum' }),
      threshold: config.recoveryPointAlarmSeconds,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `s3-dr: a verification found a recovery point over ${config.recoveryPointAlarmSeconds} s (the oldest source object not in DR is older than that); \`s3-dr verify --all\` names the buckets`,
    }).addAlarmAction(new cloudwatchActions.SnsAction(topic));
    alarm('SweepBucketsFailed', own('SweepBucketsFailed'),
      's3-dr: the sweep could not check or start protection for some buckets; the sweep execution\'s output and the Lambda logs name them');
    // What S3 publishes and writes in a source region: the replication failures of its buckets
    // and the report bucket, when this region is one (the DR region, never a source region, has
    // no OperationsFailedReplication: see replicationFailedAlarm).
    if (config.sourceRegions.includes(stack.region)) replicationFailedAlarm(stack, config, topic);
    if (config.sourceRegions.includes(stack.region) || stack.region === config.drRegion) {
      this.reportBucket = reportBucket(stack, config);
    }

    const dashboard = new cloudwatch.Dashboard(stack, 'Dashboard', { dashboardName: `s3-dr-${stack.region}` });
    this.dashboard = dashboard;
    const machines = Object.entries(workflows.stateMachines);
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Executions started / succeeded / failed',
        width: 12,
        left: machines.flatMap(([stem, m]) => [
          m.metricStarted({ label: `${stem} started`, statistic: 'Sum' }),
          m.metricSucceeded({ label: `${stem} succeeded`, statistic: 'Sum' }),
          m.metricFailed({ label: `${stem} failed`, statistic: 'Sum' }),
        ]),
      }),
      new cloudwatch.GraphWidget({
        title: 'Execution time (p90)',
        width: 12,
        left: machines.map(([stem, m]) => m.metricTime({ label: stem, statistic: 'p90' })),
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Step duration (p90, ms; from the Lambda\'s embedded metrics)',
        width: 12,
        left: stepNames().map((step) => new cloudwatch.Metric({ namespace: 's3-dr', metricName: 'StepDuration', dimensionsMap: { Step: step }, statistic: 'p90', label: step })),
      }),
      new cloudwatch.GraphWidget({
        title: 'Step Lambda errors and duration',
        width: 12,
        left: [stepFunction.metricErrors({ statistic: 'Sum' }), stepFunction.metricThrottles({ statistic: 'Sum' })],
        right: [stepFunction.metricDuration({ statistic: 'p90' })],
      }),
    );
    // Per bucket over time: what the loss of the source region would lose (VerifyData's
    // metrics carry a Bucket dimension).
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Recovery point per bucket (s; from verifications)',
        width: 12,
        left: [new cloudwatch.MathExpression({ expression: "SEARCH('{s3-dr,Bucket} MetricName=\"RecoveryPointSeconds\"', 'Maximum', 86400)", label: '', period: Duration.days(1) })],
      }),
      new cloudwatch.GraphWidget({
        title: 'Objects missing in DR per bucket (from verifications)',
        width: 12,
        left: [new cloudwatch.MathExpression({ expression: "SEARCH('{s3-dr,Bucket} MetricName=\"ObjectsMissingInDr\"', 'Maximum', 86400)", label: '', period: Duration.days(1) })],
      }),
    );
    if (config.replicationTimeControl) {
      // Each graph queries the region S3 publishes its metrics in
      // (https://docs.aws.amazon.com/AmazonS3/latest/userguide/repl-metrics.html): failures in
      // each source bucket's region, latency and pending operations in the destination's (DR).
      const query = (metric: string, region: string, aggregate: 'SUM' | 'MAX') => new cloudwatch.MathExpression({
        expression: replicationMetricQuery(metric, aggregate),
        label: metric,
        period: Duration.minutes(5),
        searchRegion: region,
      });
      dashboard.addWidgets(
        ...config.sourceRegions.map((region) => new cloudwatch.GraphWidget({
          title: `S3 replication failures from ${region} (rules with RTC)`,
          width: 12,
          region,
          left: [query('OperationsFailedReplication', region, 'SUM')],
        })),
        new cloudwatch.GraphWidget({
          title: `S3 replication into ${config.drRegion} (rules with RTC): latency, pending operations`,
          width: 12,
          region: config.drRegion,
          left: [query('ReplicationLatency', config.drRegion, 'MAX')],
          right: [query('OperationsPendingReplication', config.drRegion, 'MAX')],
        }),
      );
    }
    new CfnOutput(stack, 'AlarmTopicArn', { value: topic.topicArn });
    new CfnOutput(stack, 'DashboardName', { value: dashboard.dashboardName });
  }
}
