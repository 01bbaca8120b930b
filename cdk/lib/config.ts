// The deployment's configuration, in one place: cdk.json's "s3dr" context (override any key on
// the command line with `-c s3dr:<key>=<value>`). Every key, its default and its meaning is
// listed in SETTINGS, which README.md's configuration table mirrors.

export interface S3DrConfig {
  /** Region of the Lambda, the state machines, the sweep and the dashboard. */
  readonly homeRegion: string;
  /** Regions whose buckets s3-dr watches; each one other than home forwards its events home. */
  readonly sourceRegions: string[];
  readonly drRegion: string;
  readonly matchTag: string;
  readonly destinationSuffix: string;
  readonly storageClass: string;
  /** Key ARN in the DR region that SSE-KMS objects are re-encrypted with (IAM needs the ARN,
   * not an alias); unset, the app creates one (`alias/s3-dr`, DrKeyStack). */
  readonly drKmsKeyArn?: string;
  /** Source keys of other accounts: the account's own keys are granted through S3 already. */
  readonly sourceKmsKeyArns: string[];
  readonly replicationTimeControl: boolean;
  readonly publicAccess: 'block-all' | 'same-as-source';
  readonly backfill: 'batch' | 'copy' | 'off';
  /** Completion reports of Batch Replication jobs; `{region}` becomes the source region and
   * `{account}` the account. Unset (and backfill batch): each source region's stack creates
   * `s3-dr-reports-<account>-<region>` (see reportBucketName). */
  readonly batchReportBucket?: string;
  readonly batchReportPrefix: string;
  /** EventBridge schedule expression of the sweep. */
  readonly sweepSchedule: string;
  readonly alarmEmail?: string;
  readonly xrayTracing: boolean;
  readonly logRetentionDays: number;
  /** The RecoveryPointTooOld alarm fires when a verification finds an older recovery point. */
  readonly recoveryPointAlarmSeconds: number;
  /** Reserved concurrency of the step Lambda; 0 means none. */
  readonly reservedConcurrency: number;
  /** The built Lambda: the zip `cargo lambda build --release --arm64 --output-format zip` writes,
   * or a directory holding `bootstrap`. */
  readonly lambdaAsset: string;
  /** Synthesize with a placeholder when lambdaAsset is missing, without an error (`make
   * bootstrap`: `cdk bootstrap` synthesizes the app). */
  readonly allowMissingLambda: boolean;
}

/** [key, default, meaning]; undefined means "no default". */
export const SETTINGS: [keyof S3DrConfig, unknown, string][] = [
  ['homeRegion', 'us-east-1', 'region of the Lambda, state machines, sweep, dashboard and alarms'],
  ['sourceRegions', ['us-east-1', 'us-west-2'], 'regions whose buckets are watched (events forwarded home)'],
  ['drRegion', 'us-east-2', 'region of the destination buckets'],
  ['matchTag', 'dr=true', 'KEY=VALUE tag that requests protection'],
  ['destinationSuffix', '-dr', 'destination name = source name + suffix'],
  ['storageClass', 'STANDARD', 'storage class of the replicas'],
  ['drKmsKeyArn', undefined, 'DR-region key ARN for SSE-KMS objects (unset: the app creates alias/s3-dr)'],
  ['sourceKmsKeyArns', [], "source keys of other accounts (the account's own are granted through S3)"],
  ['replicationTimeControl', false, 'Replication Time Control (15-minute SLA) and metrics'],
  ['publicAccess', 'block-all', 'destination public access block: block-all or same-as-source'],
  ['backfill', 'batch', 'existing objects: batch (S3 Batch Replication), copy, or off'],
  ['batchReportBucket', undefined, 'Batch Replication report bucket ({region}, {account} substituted); unset: the stacks create s3-dr-reports-<account>-<region> in each source region'],
  ['batchReportPrefix', 's3-dr/batch-reports', 'report key prefix'],
  ['sweepSchedule', 'rate(1 day)', 'EventBridge schedule expression of the sweep'],
  ['alarmEmail', undefined, 'email subscribed to the alarm topic'],
  ['xrayTracing', false, 'X-Ray tracing of the state machines and the Lambda'],
  ['logRetentionDays', 30, 'retention of the Lambda and state machine logs'],
  ['recoveryPointAlarmSeconds', 86400, 'alarm when a verification finds objects missing in DR older than this (the recovery point, in seconds)'],
  ['reservedConcurrency', 10, 'reserved concurrency of the step Lambda (0: none). An account must keep a minimum unreserved (100 per the Lambda docs; all 10 on a new account whose quota is 10): on such an account set 0'],
  ['lambdaAsset', '../target/lambda/arm64/s3-dr-lambda/bootstrap.zip', 'the built Lambda (make lambda-release): a zip, or a directory with bootstrap'],
  ['allowMissingLambda', false, 'synthesize with a placeholder Lambda when lambdaAsset is missing (make bootstrap)'],
];

const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;

/**
 * Merge `context` over the defaults, parse the types and check what only the CDK app uses; a bad
 * value throws, naming the key. What the Lambda reads (the S3DR_* variables: suffix, match tag,
 * storage class, public access, backfill, the DR key's region, the report bucket) is checked by
 * the Lambda's own rules, run at synth by `s3-dr config check` (check-config.ts): one rule set.
 */
export function loadConfig(context: Record<string, unknown> | undefined): S3DrConfig {
  const raw: Record<string, unknown> = {};
  for (const [key, fallback] of SETTINGS) {
    raw[key] = context?.[key] ?? fallback;
  }
  const fail = (key: string, why: string): never => {
    throw new Error(`cdk.json context s3dr.${key}=${JSON.stringify(raw[key])} is invalid: ${why}`);
  };
  const list = (key: string): string[] => {
    const value = raw[key];
    if (typeof value === 'string') return value.split(',').map((s) => s.trim()).filter(Boolean);
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
    return fail(key, 'expected a list of strings');
  };
  const flag = (key: string): boolean => {
    const value = raw[key];
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === 'false') return value === 'true';
    return fail(key, 'expected true or false');
  };
  const text = (key: string): string => (typeof raw[key] === 'string' ? (raw[key] as string) : fail(key, 'expected a string'));
  const optional = (key: string): string | undefined => (raw[key] === undefined || raw[key] === '' ? undefined : text(key));
  const whole = (key: string, min: number): number => {
    const value = typeof raw[key] === 'string' && (raw[key] as string).trim() !== '' ? Number(raw[key]) : raw[key];
    return typeof value === 'number' && Number.isInteger(value) && value >= min ? value : fail(key, `expected a whole number, at least ${min}`);
  };

  const config: S3DrConfig = {
    homeRegion: text('homeRegion'),
    sourceRegions: list('sourceRegions'),
    drRegion: text('drRegion'),
    matchTag: text('matchTag'),
    destinationSuffix: text('destinationSuffix'),
    storageClass: text('storageClass').toUpperCase(),
    drKmsKeyArn: optional('drKmsKeyArn'),
    sourceKmsKeyArns: list('sourceKmsKeyArns'),
    replicationTimeControl: flag('replicationTimeControl'),
    // Lower case, as the Lambda reads them: the app decides from them too (report buckets).
    publicAccess: text('publicAccess').toLowerCase() as S3DrConfig['publicAccess'],
    backfill: text('backfill').toLowerCase() as S3DrConfig['backfill'],
    batchReportBucket: optional('batchReportBucket'),
    batchReportPrefix: text('batchReportPrefix'),
    sweepSchedule: text('sweepSchedule'),
    alarmEmail: optional('alarmEmail'),
    xrayTracing: flag('xrayTracing'),
    logRetentionDays: whole('logRetentionDays', 1),
    recoveryPointAlarmSeconds: whole('recoveryPointAlarmSeconds', 60),
    reservedConcurrency: raw.reservedConcurrency === undefined || raw.reservedConcurrency === '' ? 0 : whole('reservedConcurrency', 0),
    lambdaAsset: text('lambdaAsset'),
    allowMissingLambda: flag('allowMissingLambda'),
  };
  // Checks of what only the app uses: the stacks' regions, the IAM resources, the schedule.
  for (const key of ['homeRegion', 'drRegion'] as const) {
    if (!REGION.test(config[key])) fail(key, 'expected a region name such as us-east-2');
  }
  if (config.sourceRegions.length === 0) fail('sourceRegions', 'expected at least one region');
  config.sourceRegions.forEach((r) => REGION.test(r) || fail('sourceRegions', `${r} is not a region name`));
  if (config.sourceRegions.includes(config.drRegion)) {
    fail('sourceRegions', `the DR region ${config.drRegion} cannot be a source region`);
  }
  // IAM policies name the keys by ARN (an alias or key id cannot be a policy resource); whether
  // the DR key is in the DR region is the Lambda's rule (S3DR_DR_KMS_KEY).
  if (config.drKmsKeyArn !== undefined && !KEY_ARN.test(config.drKmsKeyArn)) fail('drKmsKeyArn', 'expected a KMS key ARN (IAM needs the ARN, not an alias)');
  config.sourceKmsKeyArns.forEach((arn) => KEY_ARN.test(arn) || fail('sourceKmsKeyArns', `${arn} is not a KMS key ARN`));
  if (!/^(rate|cron)\(.+\)$/.test(config.sweepSchedule)) fail('sweepSchedule', 'expected rate(...) or cron(...)');
  return config;
}
