// The home-region stack: the step Lambda, one state machine per file under ../statemachine, the
// EventBridge rules and the sweep schedule, the IAM roles (least privilege), a dashboard and
// alarms.

import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, StackProps, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { alarmTopic } from './alarm-topic';
import { S3DrConfig } from './config';
import { DR_KEY_ALIAS, replicationRoleName } from './dr-key-stack';
import { destinationPattern, DRIFT_EVENTS, sourcePattern, stepRoleName, TAGGING_EVENTS } from './events';
import { annotatePlaceholder, stepLambdaCode } from './lambda-asset';
import { createsReportBuckets, lambdaEnvironment, reportBucketName } from './lambda-environment';
import { replicationFailedAlarm, replicationMetricQuery, reportBucket, s3drAlarm } from './source-region';

export { lambdaEnvironment } from './lambda-environment';

export const STATEMACHINE_DIR = path.join(__dirname, '..', '..', 'statemachine');

/** `protect-bucket.asl.json` -> `protect-bucket`, for every state machine file. */
export function statemachineStems(dir = STATEMACHINE_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.asl.json'))
    .map((f) => f.slice(0, -'.asl.json'.length))
    .sort();
}

/** The step names the state machines invoke (each Task's Payload.step). */
export function stepNames(dir = STATEMACHINE_DIR): string[] {
  const names = new Set<string>();
  for (const stem of statemachineStems(dir)) {
    const asl = JSON.parse(readFileSync(path.join(dir, `${stem}.asl.json`), 'utf8'));
    for (const state of Object.values<any>(asl.States)) {
      if (state.Type === 'Task' && state.Parameters?.Payload?.step) names.add(state.Parameters.Payload.step);
    }
  }
  return [...names];
}

export interface S3DrStackProps extends StackProps {
  readonly config: S3DrConfig;
}

export class S3DrStack extends Stack {
  readonly stepFunction: lambda.Function;
  readonly stateMachines: Record<string, sfn.StateMachine> = {};
  readonly replicationRole: iam.Role;
  readonly batchRole: iam.Role;
  readonly deadLetters: sqs.Queue;
  readonly topic: sns.Topic;
  /** This region's Batch Replication report bucket, when home is a source region and the stacks
   * make them. */
  readonly reportBucket?: s3.Bucket;
  /** Whether the step Lambda is the placeholder (lambdaAsset missing). */
  readonly placeholderLambda: boolean;

  constructor(scope: Construct, id: string, props: S3DrStackProps) {
    super(scope, id, props);
    const config = props.config;
    const suffix = config.destinationSuffix;
    const bucketArn = (name: string) => this.formatArn({ service: 's3', region: '', account: '', resource: name });
    const anyBucket = bucketArn('*');
    const anyObject = bucketArn('*/*');
    // Destinations are always named <something><suffix> (see src/naming.rs).
    const destinationBuckets = bucketArn(`*${suffix}`);
    const destinationObjects = bucketArn(`*${suffix}/*`);
    const retention = logRetention(config.logRetentionDays);
    const machineName = (stem: string) => `s3-dr-${stem}`;
    // Fixed names, so the Lambda can know the ARNs of the workflows it starts without a
    // dependency cycle (each state machine's definition names the Lambda).
    const machineArn = (stem: string) =>
      this.formatArn({ service: 'states', resource: 'stateMachine', resourceName: machineName(stem), arnFormat: ArnFormat.COLON_RESOURCE_NAME });

    // Keys: the DR key (configured, or made by DrKeyStack and known by its alias), and the
    // sources' keys, whichever they are, used only through S3.
    const drKey = this.drKeyGrant(config);
    const anyKeyOfTheAccount = this.formatArn({ service: 'kms', region: '*', resource: 'key', resourceName: '*' });
    const throughS3In = (regions: string[]) => ({ 'kms:ViaService': regions.map((r) => `s3.${r}.amazonaws.com`) });
    // S3 asks KMS with the object's ARN as encryption context, or the bucket's with an S3
    // Bucket Key (https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html).
    const forS3Objects = { 'kms:EncryptionContext:aws:s3:arn': [anyBucket] };

    // --- Roles S3 assumes -----------------------------------------------------------------
    // Confused-deputy protection (https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html):
    // whenever S3 puts aws:SourceAccount in its AssumeRole request, it must be this account. AWS's
    // S3 pages show these trust policies without conditions
    // (https://docs.aws.amazon.com/AmazonS3/latest/userguide/setting-repl-config-perm-overview.html),
    // and if S3 did not send the key, StringEquals would deny every AssumeRole and replication
    // would fail silently: StringEqualsIfExists protects whenever the key is present and never
    // locks S3 out when it is not.
    const forThisAccount = { StringEqualsIfExists: { 'aws:SourceAccount': this.account } };
    this.replicationRole = new iam.Role(this, 'ReplicationRole', {
      // A fixed name: the DR key's policy (DrKeyStack, another region) admits it by name.
      roleName: replicationRoleName(this.region),
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
      resources: [anyKeyOfTheAccount, ...config.sourceKmsKeyArns],
      conditions: { StringEquals: throughS3In(config.sourceRegions), StringLike: forS3Objects },
    }));
    this.replicationRole.addToPolicy(new iam.PolicyStatement({
      sid: 'EncryptReplicasWithTheDrKey',
      actions: ['kms:Encrypt', 'kms:GenerateDataKey'],
      resources: drKey.resources,
      conditions: { StringEquals: throughS3In([config.drRegion]), StringLike: forS3Objects, ...drKey.conditions },
    }));
    Validations.of(this.replicationRole).acknowledge(
      ...['Resource::arn:<AWS::Partition>:s3:::*', 'Resource::arn:<AWS::Partition>:s3:::*/*', `Resource::arn:<AWS::Partition>:s3:::*${suffix}/*`].map((finding) => ({
        id: `AwsSolutions-IAM5[${finding}]`,
        reason: 'Sources are any bucket tagged for protection, known only at run time, and destinations any bucket named with the s3-dr suffix; the actions are the replication ones only.',
      })),
      ...this.kmsFindings(config).map((finding) => ({
        id: `AwsSolutions-IAM5[${finding}]`,
        reason: 'Source objects may be encrypted with any key of the account (a per-key list goes stale as keys are added); the grant holds only through S3 in the source regions (kms:ViaService) and for S3 objects (encryption context). The DR key is matched by its alias when the deployment made it in the DR region.',
      })),
    );

    this.batchRole = new iam.Role(this, 'BatchOperationsRole', {
      roleName: `s3-dr-batch-${this.region}`,
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
    const reports = this.reportObjects(config);
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

    // --- The step Lambda ------------------------------------------------------------------
    // Log groups: names generated by CloudFormation, kept when the stack is deleted or the group
    // replaced, deleted when the creation that made them rolls back (DeletionPolicy
    // RetainExceptOnCreate, https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html):
    // a fixed name retained by a failed or destroyed stack made the next deploy fail ("already
    // exists").
    const functionLogs = new logs.LogGroup(this, 'StepFunctionLogs', {
      retention,
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });
    const functionRole = new iam.Role(this, 'StepFunctionRole', {
      // A fixed name: the event rules of every region leave out the events its calls cause.
      roleName: stepRoleName(this.region),
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 's3-dr step Lambda: exactly the calls its steps make',
    });
    const { code, placeholder } = stepLambdaCode(config);
    this.placeholderLambda = placeholder;
    this.stepFunction = new lambda.Function(this, 'StepFunction', {
      functionName: 's3-dr-step',
      description: 's3-dr: every step of every workflow (dispatches on the step name)',
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture: lambda.Architecture.ARM_64,
      handler: 'bootstrap',
      code,
      role: functionRole,
      // Reserved: the sweep and many protect runs at once cannot starve the account's other
      // functions, nor be starved by them (0: none; the account must keep a minimum unreserved,
      // https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html).
      reservedConcurrentExecutions: config.reservedConcurrency > 0 ? config.reservedConcurrency : undefined,
      // 512 MB: the copy backfill keeps 16 copies in flight; 15 minutes: the longest task
      // (a copy page, the sweep) has 900 s in the ASL, and the SDK's retries (3 attempts,
      // backoff up to 20 s per call) finish inside it.
      memorySize: 512,
      timeout: Duration.minutes(15),
      loggingFormat: lambda.LoggingFormat.JSON,
      logGroup: functionLogs,
      tracing: config.xrayTracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
      environment: lambdaEnvironment(config, {
        stepRole: functionRole.roleArn,
        replicationRole: this.replicationRole.roleArn,
        batchRole: this.batchRole.roleArn,
        protect: machineArn('protect-bucket'),
        detach: machineArn('detach-bucket'),
      }),
    });
    if (placeholder) annotatePlaceholder(this.stepFunction, config);
    functionLogs.grantWrite(functionRole);
    this.grantStepCalls(functionRole, config, { anyBucket, anyObject, destinationBuckets, destinationObjects, protect: machineArn('protect-bucket'), detach: machineArn('detach-bucket') });

    // --- State machines, one per file -----------------------------------------------------
    for (const stem of statemachineStems()) {
      const definition = readFileSync(path.join(STATEMACHINE_DIR, `${stem}.asl.json`), 'utf8');
      const machine = new sfn.StateMachine(this, `StateMachine-${stem}`, {
        stateMachineName: machineName(stem),
        definitionBody: sfn.DefinitionBody.fromString(definition),
        definitionSubstitutions: { ProtectFunctionArn: this.stepFunction.functionArn },
        logs: {
          destination: new logs.LogGroup(this, `StateMachineLogs-${stem}`, {
            retention,
            removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
          }),
          level: sfn.LogLevel.ALL,
          includeExecutionData: true,
        },
        tracingEnabled: config.xrayTracing,
      });
      this.stepFunction.grantInvoke(machine);
      Validations.of(machine).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'CloudWatch Logs log delivery (logs:CreateLogDelivery and the rest) for the state machine\'s own log group accepts only Resource "*".',
      }, {
        id: `AwsSolutions-IAM5[Resource::<${this.getLogicalId(this.stepFunction.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
        reason: 'CDK grants invoke on the function and its versions; the state machine invokes only the s3-dr step Lambda.',
      });
      if (!config.xrayTracing) {
        Validations.of(machine).acknowledge({ id: 'AwsSolutions-SF2', reason: 'X-Ray tracing is a configuration choice (xrayTracing), off by default for cost; execution history and logs cover the workflow.' });
      }
      this.stateMachines[stem] = machine;
      new CfnOutput(this, `StateMachineArn-${stem}`, { value: machine.stateMachineArn });
    }
    const protect = this.stateMachines['protect-bucket'];
    const sweep = this.stateMachines['sweep'];

    // --- Triggers -------------------------------------------------------------------------
    this.deadLetters = new sqs.Queue(this, 'EventDeadLetters', {
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
    });
    Validations.of(this.deadLetters).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'This queue is the dead-letter queue of the EventBridge targets.' });
    const target = (machine: sfn.StateMachine, input?: events.RuleTargetInput) =>
      new targets.SfnStateMachine(machine, { input, deadLetterQueue: this.deadLetters, retryAttempts: 8, maxEventAge: Duration.hours(6) });
    // This region's events and those the forwarders send (they keep their region and fields).
    new events.Rule(this, 'TaggingEvents', {
      description: 's3-dr: a bucket was created, tagged or untagged (protect or detach)',
      eventPattern: sourcePattern(TAGGING_EVENTS, functionRole.roleArn, config.drRegion),
      targets: [target(protect)],
    });
    new events.Rule(this, 'DriftEvents', {
      description: 's3-dr: replication or versioning changed on a bucket (repair if still tagged)',
      eventPattern: sourcePattern(DRIFT_EVENTS, functionRole.roleArn, config.drRegion),
      targets: [target(protect)],
    });
    // Destination buckets: forwarded from the DR region, or this region's own when it is the DR
    // region.
    new events.Rule(this, 'DestinationEvents', {
      description: 's3-dr: versioning changed on, or something deleted from, a destination bucket (repair)',
      eventPattern: destinationPattern(config.destinationSuffix, functionRole.roleArn),
      targets: [target(protect)],
    });
    new events.Rule(this, 'SweepSchedule', {
      description: 's3-dr: the sweep, the safety net under the events',
      schedule: events.Schedule.expression(config.sweepSchedule),
      targets: [target(sweep, events.RuleTargetInput.fromObject({ requestedBy: 'schedule' }))],
    });

    // --- Observability --------------------------------------------------------------------
    const topic = alarmTopic(this, config.alarmEmail);
    this.topic = topic;
    const alarm = (id: string, metric: cloudwatch.IMetric, description: string) => s3drAlarm(this, id, metric, description, topic);
    // No alarm on the Lambda's Errors: the workflows retry and catch its errors (a transient one
    // would page people); a workflow that fails for good raises FailedExecutions.
    for (const [stem, machine] of Object.entries(this.stateMachines)) {
      alarm(`FailedExecutions-${stem}`, machine.metricFailed({ period: Duration.minutes(5), statistic: 'Sum' }),
        `s3-dr ${stem}: an execution failed; its error names the bucket and the fix (README: troubleshooting)`);
    }
    alarm('DeadLetters', this.deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      's3-dr: EventBridge could not start a workflow for an event; the message is in the dead-letter queue');
    // The Lambda's own metrics (embedded in its log lines, namespace s3-dr, no dimension: `s3-dr
    // status --all` names the buckets): what a person has to look at.
    const own = (metricName: string) => new cloudwatch.Metric({ namespace: 's3-dr', metricName, period: Duration.minutes(5), statistic: 'Sum' });
    alarm('ObjectsNotReplicable', own('ObjectsNotReplicable'),
      's3-dr: a backfill found objects S3 cannot copy (archived and not restored, or SSE-C); `s3-dr status --all` names the buckets and an example key');
    alarm('BackfillObjectsFailed', own('BackfillObjectsFailed'),
      's3-dr: a backfill could not copy some objects (after its retries); `s3-dr status --all` names the buckets');
    alarm('SweepBucketsFailed', own('SweepBucketsFailed'),
      's3-dr: the sweep could not check or start protection for some buckets; the sweep execution\'s output and the Lambda logs name them');
    // What S3 publishes and writes in a source region: the replication failures of its buckets
    // and the report bucket, when this region is one (the DR region, never a source region, has
    // no OperationsFailedReplication: see replicationFailedAlarm).
    if (config.sourceRegions.includes(this.region)) {
      replicationFailedAlarm(this, config, topic);
      this.reportBucket = reportBucket(this, config);
    }

    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: `s3-dr-${this.region}` });
    const machines = Object.entries(this.stateMachines);
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
        left: [this.stepFunction.metricErrors({ statistic: 'Sum' }), this.stepFunction.metricThrottles({ statistic: 'Sum' })],
        right: [this.stepFunction.metricDuration({ statistic: 'p90' })],
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
    new CfnOutput(this, 'AlarmTopicArn', { value: topic.topicArn });
    new CfnOutput(this, 'DashboardName', { value: dashboard.dashboardName });
  }

  /**
   * Where Batch Replication reports are written and read: under the prefix of the report buckets
   * the stacks make (s3-dr-reports-<account>-<region>, of this account only: aws:ResourceAccount,
   * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-resourceaccount),
   * or of the configured bucket (`{region}` any, `{account}` this account).
   */
  private reportObjects(config: S3DrConfig): { arn: string; conditions?: Record<string, unknown>; finding: string } | undefined {
    const account = Token.isUnresolved(this.account) ? '<AWS::AccountId>' : this.account;
    const objects = (bucket: string) => this.formatArn({ service: 's3', region: '', account: '', resource: `${bucket}/${config.batchReportPrefix}/*` });
    if (createsReportBuckets(config)) {
      const bucket = reportBucketName(this.account, '*');
      return {
        arn: objects(bucket),
        conditions: { StringEquals: { 'aws:ResourceAccount': this.account } },
        finding: `Resource::arn:<AWS::Partition>:s3:::${reportBucketName(account, '*')}/${config.batchReportPrefix}/*`,
      };
    }
    if (!config.batchReportBucket) return undefined;
    const pattern = (acct: string) => config.batchReportBucket!.replace('{region}', '*').replace('{account}', acct);
    return { arn: objects(pattern(this.account)), finding: `Resource::arn:<AWS::Partition>:s3:::${pattern(account)}/${config.batchReportPrefix}/*` };
  }

  /** The DR key as IAM grants it (see DrKeyGrant). */
  private drKeyGrant(config: S3DrConfig): DrKeyGrant {
    if (config.drKmsKeyArn) return { resources: [config.drKmsKeyArn], conditions: {} };
    return {
      resources: [this.formatArn({ service: 'kms', region: config.drRegion, resource: 'key', resourceName: '*' })],
      conditions: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': DR_KEY_ALIAS } },
    };
  }

  /** The cdk-nag findings the KMS grants raise (wildcard key resources), as it names them. */
  private kmsFindings(config: S3DrConfig): string[] {
    const account = Token.isUnresolved(this.account) ? '<AWS::AccountId>' : this.account;
    return [
      `Resource::arn:<AWS::Partition>:kms:*:${account}:key/*`,
      ...(config.drKmsKeyArn ? [] : [`Resource::arn:<AWS::Partition>:kms:${config.drRegion}:${account}:key/*`]),
    ];
  }

  /** The Lambda may make exactly the calls its steps make (README lists them by step). */
  private grantStepCalls(role: iam.Role, config: S3DrConfig, arns: Record<string, string>) {
    const allow = (sid: string, actions: string[], resources: string[], conditions?: Record<string, unknown>) =>
      role.addToPolicy(new iam.PolicyStatement({ sid, actions, resources, conditions }));
    allow('ReadAnyBucketsSettings', [
      's3:GetBucketLocation', 's3:GetBucketTagging', 's3:GetBucketVersioning', 's3:GetReplicationConfiguration',
      's3:GetEncryptionConfiguration', 's3:GetBucketPublicAccessBlock', 's3:GetLifecycleConfiguration', 's3:GetBucketCORS',
      's3:GetBucketWebsite', 's3:GetBucketOwnershipControls', 's3:GetBucketPolicy', 's3:GetBucketObjectLockConfiguration',
      's3:ListBucket',
    ], [arns.anyBucket]);
    allow('ProtectSources', ['s3:PutBucketVersioning', 's3:PutReplicationConfiguration'], [arns.anyBucket]);
    allow('ManageDestinations', [
      's3:CreateBucket', 's3:ListBucketVersions', 's3:PutBucketTagging', 's3:PutBucketVersioning', 's3:PutEncryptionConfiguration',
      's3:PutBucketPublicAccessBlock', 's3:PutLifecycleConfiguration', 's3:PutBucketCORS', 's3:PutBucketWebsite',
      's3:DeleteBucketWebsite', 's3:PutBucketOwnershipControls', 's3:PutBucketPolicy', 's3:DeleteBucketPolicy',
      's3:PutBucketObjectLockConfiguration',
    ], [arns.destinationBuckets]);
    // HeadObject shows retention and legal hold only with their read permissions; a copy sets
    // them with their write permissions.
    allow('CopyBackfillRead', ['s3:GetObject', 's3:GetObjectTagging', 's3:GetObjectRetention', 's3:GetObjectLegalHold'], [arns.anyObject]);
    allow('CopyBackfillWrite', [
      's3:PutObject', 's3:PutObjectTagging', 's3:AbortMultipartUpload', 's3:PutObjectRetention', 's3:PutObjectLegalHold',
    ], [arns.destinationObjects]);
    allow('SweepListsBuckets', ['s3:ListAllMyBuckets'], ['*']);
    allow('BatchBackfillJobs', ['s3:CreateJob', 's3:ListJobs'], ['*']);
    allow('BatchBackfillStatus', ['s3:DescribeJob'], [this.formatArn({ service: 's3', region: '*', resource: 'job', resourceName: '*' })]);
    allow('StartWorkflows', ['states:StartExecution'], [arns.protect, arns.detach]);
    // StartBackfill and the sweep ask whether the execution that wrote a backfill's heartbeat
    // still runs; a start whose name is taken asks whether that protect or detach execution
    // still runs (src/executions.rs, start).
    allow('ReadWorkflowExecutions', ['states:DescribeExecution'], ['protect-bucket', 'detach-bucket'].map((stem) =>
      this.formatArn({ service: 'states', resource: 'execution', resourceName: `s3-dr-${stem}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME })));
    // A Batch Replication job's completion report, read when tasks failed.
    const reports = this.reportObjects(config);
    if (reports) allow('ReadBatchReports', ['s3:GetObject'], [reports.arn], reports.conditions);
    allow('PassReplicationRole', ['iam:PassRole'], [this.replicationRole.roleArn], { StringEquals: { 'iam:PassedToService': 's3.amazonaws.com' } });
    // No iam:PassedToService for the batch role: S3's documentation gives no value for it. Its
    // Batch Operations pages grant iam:PassRole on the role ARN only ("Granting permissions for
    // Batch Operations", https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-iam-role-policies.html;
    // the S3 Bucket Keys example, https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-copy-example-bucket-key.html),
    // while other examples use batchoperations.s3.amazonaws.com or s3.amazonaws.com. A wrong
    // value would deny every CreateJob; the ARN scope (this one role) holds either way.
    allow('PassBatchRole', ['iam:PassRole'], [this.batchRole.roleArn]);
    // ValidateSource resolves the DR key; the copy backfill reads SSE-KMS sources and writes
    // with the DR key, both through S3 only.
    const drKey = this.drKeyGrant(config);
    const anyKeyOfTheAccount = this.formatArn({ service: 'kms', region: '*', resource: 'key', resourceName: '*' });
    const throughS3In = (regions: string[]) => ({ 'kms:ViaService': regions.map((r) => `s3.${r}.amazonaws.com`) });
    allow('DescribeDrKey', ['kms:DescribeKey'], drKey.resources, drKey.conditions);
    allow('CopyWithTheDrKeyThroughS3', ['kms:Encrypt', 'kms:GenerateDataKey', 'kms:Decrypt'], drKey.resources,
      { StringEquals: throughS3In([config.drRegion]), ...drKey.conditions });
    // A cross-region CopyObject is sent to the DR region's endpoint: which S3 endpoint asks KMS
    // for the source key is not documented, so both are allowed (S3 either way).
    allow('ReadSourceObjectsThroughS3', ['kms:Decrypt'], [anyKeyOfTheAccount, ...config.sourceKmsKeyArns],
      { StringEquals: throughS3In([...config.sourceRegions, config.drRegion]) });
    const policy = role.node.tryFindChild('DefaultPolicy');
    if (policy) {
      Validations.of(policy).acknowledge(
        ...[
          'Resource::arn:<AWS::Partition>:s3:::*',
          'Resource::arn:<AWS::Partition>:s3:::*/*',
          `Resource::arn:<AWS::Partition>:s3:::*${config.destinationSuffix}`,
          `Resource::arn:<AWS::Partition>:s3:::*${config.destinationSuffix}/*`,
          'Resource::*',
          `Resource::arn:<AWS::Partition>:s3:*:${Token.isUnresolved(this.account) ? '<AWS::AccountId>' : this.account}:job/*`,
          ...['protect-bucket', 'detach-bucket'].map((stem) => `Resource::arn:<AWS::Partition>:states:${Token.isUnresolved(this.region) ? '<AWS::Region>' : this.region}:${Token.isUnresolved(this.account) ? '<AWS::AccountId>' : this.account}:execution:s3-dr-${stem}:*`),
          ...(reports ? [reports.finding] : []),
          ...this.kmsFindings(config),
        ].map((finding) => ({
          id: `AwsSolutions-IAM5[${finding}]`,
          reason: 'Source buckets are whichever are tagged (known at run time), destinations are named with the s3-dr suffix, ListAllMyBuckets/CreateJob/ListJobs take no resource, jobs and executions are created at run time (only the protect workflow\'s executions are read), job reports are read only under the report prefix of the per-region report buckets, and KMS keys are used only through S3 (any source key) or are the DR key (by alias); every action is listed, none is a wildcard.',
        })),
      );
    }
  }
}

/** How IAM names the DR key: its ARN, or (made by DrKeyStack in another region) any key of the
 * DR region that carries the alias. */
export interface DrKeyGrant {
  readonly resources: string[];
  readonly conditions: Record<string, unknown>;
}

function logRetention(days: number): logs.RetentionDays {
  const allowed = Object.values(logs.RetentionDays).filter((v): v is number => typeof v === 'number' && v > 0).sort((a, b) => a - b);
  return (allowed.find((d) => d >= days) ?? logs.RetentionDays.TEN_YEARS) as logs.RetentionDays;
}
