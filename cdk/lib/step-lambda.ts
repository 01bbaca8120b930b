// The step function: the Rust Lambda that runs every step of every workflow (it dispatches on the
// step name), its role (exactly the calls its steps make) and its log group.

import { ArnFormat, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { S3DrConfig } from './config';
import { stepRoleName } from './events';
import { anyKeyOfTheAccount, bucketArns, drKeyGrant, kmsFindings, nagName, reportObjects, throughS3In } from './grants';
import { annotatePlaceholder, stepLambdaCode } from './lambda-asset';
import { lambdaEnvironment } from './lambda-environment';
import { keptLogGroup } from './log-groups';
import { Roles } from './roles';
import { workflowArn, workflowName } from './workflows';

export interface StepLambdaProps {
  readonly config: S3DrConfig;
  /** The roles its steps pass to S3 (replication configurations, Batch Replication jobs). */
  readonly roles: Roles;
}

/** The step Lambda, `s3-dr-step`. Its resources are the stack's children (see S3DrStack). */
export class StepLambda extends Construct {
  readonly stepFunction: lambda.Function;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  /** Whether the code is the placeholder (lambdaAsset missing). */
  readonly placeholder: boolean;

  constructor(stack: Stack, id: string, props: StepLambdaProps) {
    super(stack, id);
    const { config, roles } = props;
    this.logGroup = keptLogGroup(stack, 'StepFunctionLogs', config);
    this.role = new iam.Role(stack, 'StepFunctionRole', {
      // A fixed name: the event rules of every region leave out the events its calls cause.
      roleName: stepRoleName(stack.region),
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 's3-dr step Lambda: exactly the calls its steps make',
    });
    const { code, placeholder } = stepLambdaCode(config);
    this.placeholder = placeholder;
    this.stepFunction = new lambda.Function(stack, 'StepFunction', {
      functionName: 's3-dr-step',
      description: 's3-dr: every step of every workflow (dispatches on the step name)',
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture: lambda.Architecture.ARM_64,
      handler: 'bootstrap',
      code,
      role: this.role,
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
      logGroup: this.logGroup,
      tracing: config.xrayTracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
      environment: lambdaEnvironment(config, {
        stepRole: this.role.roleArn,
        replicationRole: roles.replicationRole.roleArn,
        batchRole: roles.batchRole.roleArn,
        protect: workflowArn(stack, 'protect-bucket'),
        detach: workflowArn(stack, 'detach-bucket'),
        verify: workflowArn(stack, 'verify-bucket'),
      }),
    });
    if (placeholder) annotatePlaceholder(this.stepFunction, config);
    this.logGroup.grantWrite(this.role);
    grantStepCalls(stack, this.role, config, roles);
  }
}

/** The workflows the Lambda starts: protect and detach (the sweep, an untag event), verify
 * (the sweep, once a week per protected bucket). */
const STARTED_WORKFLOWS = ['protect-bucket', 'detach-bucket', 'verify-bucket'];

/** Where VerifyData writes its reports in the report bucket (src/steps/verify_data.rs, REPORT_PREFIX). */
export const VERIFY_REPORT_PREFIX = 's3-dr/verify-reports';

/** The Lambda may make exactly the calls its steps make (docs/deploy.md lists them by step). */
function grantStepCalls(stack: Stack, role: iam.Role, config: S3DrConfig, roles: Roles) {
  const allow = (sid: string, actions: string[], resources: string[], conditions?: Record<string, unknown>) =>
    role.addToPolicy(new iam.PolicyStatement({ sid, actions, resources, conditions }));
  const arns = bucketArns(stack, config);
  allow('ReadAnyBucketsSettings', [
    's3:GetBucketLocation', 's3:GetBucketTagging', 's3:GetBucketVersioning', 's3:GetReplicationConfiguration',
    's3:GetEncryptionConfiguration', 's3:GetBucketPublicAccessBlock', 's3:GetLifecycleConfiguration', 's3:GetBucketCORS',
    's3:GetBucketWebsite', 's3:GetBucketOwnershipControls', 's3:GetBucketPolicy', 's3:GetBucketObjectLockConfiguration',
    's3:ListBucket',
  ], [arns.anyBucket]);
  allow('ProtectSources', ['s3:PutBucketVersioning', 's3:PutReplicationConfiguration'], [arns.anyBucket]);
  // VerifyData configures the daily S3 Inventory of a large source and of its destination (the
  // reports are then read with CopyBackfillRead's s3:GetObject and s3:ListBucket).
  allow('ConfigureInventories', ['s3:GetInventoryConfiguration', 's3:PutInventoryConfiguration'], [arns.anyBucket]);
  // Failover switches a Multi-Region Access Point's routing to the DR bucket (any access point
  // of this account: the operator names it). S3 Control takes these on the account's MRAPs only.
  const accessPoints = stack.formatArn({ service: 's3', region: '', resource: 'accesspoint', resourceName: '*' });
  allow('RouteAccessPointsOnFailover', ['s3:GetMultiRegionAccessPointRoutes', 's3:SubmitMultiRegionAccessPointRoutes'], [accessPoints]);
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
  // Failback copies the objects written in DR during a failover home to the source bucket
  // (any bucket of this account: sources are known at run time), with the source's default
  // encryption.
  allow('FailbackWritesHome', [
    's3:PutObject', 's3:PutObjectTagging', 's3:AbortMultipartUpload', 's3:PutObjectRetention', 's3:PutObjectLegalHold',
  ], [arns.anyObject], { StringEquals: { 'aws:ResourceAccount': stack.account } });
  allow('SweepListsBuckets', ['s3:ListAllMyBuckets'], ['*']);
  allow('BatchBackfillJobs', ['s3:CreateJob', 's3:ListJobs'], ['*']);
  allow('BatchBackfillStatus', ['s3:DescribeJob'], [stack.formatArn({ service: 's3', region: '*', resource: 'job', resourceName: '*' })]);
  allow('StartWorkflows', ['states:StartExecution'], STARTED_WORKFLOWS.map((stem) => workflowArn(stack, stem)));
  // StartBackfill and the sweep ask whether the execution that wrote a backfill's heartbeat
  // still runs; a start whose name is taken asks whether that protect or detach execution
  // still runs (src/executions.rs, start).
  allow('ReadWorkflowExecutions', ['states:DescribeExecution'], STARTED_WORKFLOWS.map((stem) =>
    stack.formatArn({ service: 'states', resource: 'execution', resourceName: `${workflowName(stem)}:*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME })));
  // A Batch Replication job's completion report, read when tasks failed.
  const reports = reportObjects(stack, config);
  if (reports) allow('ReadBatchReports', ['s3:GetObject'], [reports.arn], reports.conditions);
  // VerifyData writes its JSON report next to them, under its own prefix.
  const verifyReports = reportObjects(stack, config, VERIFY_REPORT_PREFIX);
  if (verifyReports) allow('WriteVerifyReports', ['s3:PutObject'], [verifyReports.arn], verifyReports.conditions);
  allow('PassReplicationRole', ['iam:PassRole'], [roles.replicationRole.roleArn], { StringEquals: { 'iam:PassedToService': 's3.amazonaws.com' } });
  // No iam:PassedToService for the batch role: S3's documentation gives no value for it. Its
  // Batch Operations pages grant iam:PassRole on the role ARN only ("Granting permissions for
  // Batch Operations", https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-iam-role-policies.html;
  // the S3 Bucket Keys example, https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-copy-example-bucket-key.html),
  // while other examples use batchoperations.s3.amazonaws.com or s3.amazonaws.com. A wrong
  // value would deny every CreateJob; the ARN scope (this one role) holds either way.
  allow('PassBatchRole', ['iam:PassRole'], [roles.batchRole.roleArn]);
  // ValidateSource resolves the DR key; the copy backfill reads SSE-KMS sources and writes
  // with the DR key, both through S3 only.
  const drKey = drKeyGrant(stack, config);
  allow('DescribeDrKey', ['kms:DescribeKey'], drKey.resources, drKey.conditions);
  allow('CopyWithTheDrKeyThroughS3', ['kms:Encrypt', 'kms:GenerateDataKey', 'kms:Decrypt'], drKey.resources,
    { StringEquals: throughS3In([config.drRegion]), ...drKey.conditions });
  // A cross-region CopyObject is sent to the DR region's endpoint: which S3 endpoint asks KMS
  // for the source key is not documented, so both are allowed (S3 either way).
  allow('ReadSourceObjectsThroughS3', ['kms:Decrypt'], [anyKeyOfTheAccount(stack), ...config.sourceKmsKeyArns],
    { StringEquals: throughS3In([...config.sourceRegions, config.drRegion]) });
  // Failback's copies take the source bucket's default encryption: its key, whichever it is,
  // through S3 in the source regions. A multipart copy needs Decrypt on it as well as
  // GenerateDataKey (https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions).
  allow('FailbackEncryptsWithTheSourceKeysThroughS3', ['kms:GenerateDataKey', 'kms:Decrypt'], [anyKeyOfTheAccount(stack), ...config.sourceKmsKeyArns],
    { StringEquals: throughS3In([...config.sourceRegions]) });
  const policy = role.node.tryFindChild('DefaultPolicy');
  if (policy) {
    const account = nagName(stack.account, 'AWS::AccountId');
    const region = nagName(stack.region, 'AWS::Region');
    Validations.of(policy).acknowledge(
      ...[
        'Resource::arn:<AWS::Partition>:s3:::*',
        'Resource::arn:<AWS::Partition>:s3:::*/*',
        `Resource::arn:<AWS::Partition>:s3:::*${config.destinationSuffix}`,
        `Resource::arn:<AWS::Partition>:s3:::*${config.destinationSuffix}/*`,
        'Resource::*',
        `Resource::arn:<AWS::Partition>:s3:*:${account}:job/*`,
        `Resource::arn:<AWS::Partition>:s3::${account}:accesspoint/*`,
        ...STARTED_WORKFLOWS.map((stem) => `Resource::arn:<AWS::Partition>:states:${region}:${account}:execution:${workflowName(stem)}:*`),
        ...(reports ? [reports.finding] : []),
        ...(verifyReports ? [verifyReports.finding] : []),
        ...kmsFindings(stack, config),
      ].map((finding) => ({
        id: `AwsSolutions-IAM5[${finding}]`,
        reason: 'Source buckets are whichever are tagged (known at run time), destinations are named with the s3-dr suffix, ListAllMyBuckets/CreateJob/ListJobs take no resource, jobs and executions are created at run time (only the protect workflow\'s executions are read), job reports are read only under the report prefix of the per-region report buckets, and KMS keys are used only through S3 (any source key) or are the DR key (by alias); every action is listed, none is a wildcard.',
      })),
    );
  }
}
