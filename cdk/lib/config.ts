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
  /** Completion reports of Batch Replication jobs; `{region}` becomes the source region. */
  readonly batchReportBucket?: string;
  readonly batchReportPrefix: string;
  /** EventBridge schedule expression of the sweep. */
  readonly sweepSchedule: string;
  readonly alarmEmail?: string;
  readonly xrayTracing: boolean;
  readonly logRetentionDays: number;
  /** Directory holding the Lambda's `bootstrap` (cargo lambda build --release --arm64). */
  readonly lambdaAsset: string;
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
  ['batchReportBucket', undefined, 'Batch Replication report bucket; {region} = source region'],
  ['batchReportPrefix', 's3-dr/batch-reports', 'report key prefix'],
  ['sweepSchedule', 'rate(1 day)', 'EventBridge schedule expression of the sweep'],
  ['alarmEmail', undefined, 'email subscribed to the alarm topic'],
  ['xrayTracing', false, 'X-Ray tracing of the state machines and the Lambda'],
  ['logRetentionDays', 30, 'retention of the Lambda and state machine logs'],
  ['lambdaAsset', '../target/lambda/s3-dr-lambda', 'directory with the built bootstrap'],
];

const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;

/** Merge `context` over the defaults and check it; a bad value throws, naming the key. */
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
    publicAccess: text('publicAccess') as S3DrConfig['publicAccess'],
    backfill: text('backfill') as S3DrConfig['backfill'],
    batchReportBucket: optional('batchReportBucket'),
    batchReportPrefix: text('batchReportPrefix'),
    sweepSchedule: text('sweepSchedule'),
    alarmEmail: optional('alarmEmail'),
    xrayTracing: flag('xrayTracing'),
    logRetentionDays: Number(raw.logRetentionDays),
    lambdaAsset: text('lambdaAsset'),
  };
  for (const key of ['homeRegion', 'drRegion'] as const) {
    if (!REGION.test(config[key])) fail(key, 'expected a region name such as us-east-2');
  }
  config.sourceRegions.forEach((r) => REGION.test(r) || fail('sourceRegions', `${r} is not a region name`));
  if (config.sourceRegions.includes(config.drRegion)) {
    fail('sourceRegions', `the DR region ${config.drRegion} cannot be a source region`);
  }
  if (!/^[^=\s]+=.*$/.test(config.matchTag)) fail('matchTag', 'expected KEY=VALUE');
  if (!/^[a-z0-9.-]{1,20}$/.test(config.destinationSuffix)) fail('destinationSuffix', 'expected 1-20 of a-z 0-9 . -');
  [config.drKmsKeyArn, ...config.sourceKmsKeyArns].forEach((arn) => {
    if (arn !== undefined && !KEY_ARN.test(arn)) fail(arn === config.drKmsKeyArn ? 'drKmsKeyArn' : 'sourceKmsKeyArns', `${arn} is not a KMS key ARN`);
  });
  if (config.drKmsKeyArn && config.drKmsKeyArn.split(':')[3] !== config.drRegion) {
    fail('drKmsKeyArn', `the key must be in the DR region ${config.drRegion}`);
  }
  if (!['block-all', 'same-as-source'].includes(config.publicAccess)) fail('publicAccess', 'expected block-all or same-as-source');
  if (!['batch', 'copy', 'off'].includes(config.backfill)) fail('backfill', 'expected batch, copy or off');
  if (config.backfill === 'batch' && !config.batchReportBucket) {
    fail('batchReportBucket', 'backfill batch needs a report bucket (name; {region} is replaced by the source region)');
  }
  if (!/^(rate|cron)\(.+\)$/.test(config.sweepSchedule)) fail('sweepSchedule', 'expected rate(...) or cron(...)');
  if (!Number.isInteger(config.logRetentionDays) || config.logRetentionDays < 1) fail('logRetentionDays', 'expected whole days');
  return config;
}
