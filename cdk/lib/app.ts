import { App, Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { checkConfiguration } from './check-config';
import { loadConfig, S3DrConfig, SETTINGS } from './config';
import { DrKeyStack } from './dr-key-stack';
import { ForwarderStack } from './forwarder-stack';
import { S3DrStack } from './s3-dr-stack';

export interface S3DrApp {
  readonly config: S3DrConfig;
  readonly home: S3DrStack;
  /** One per source region other than home. */
  readonly forwarders: ForwarderStack[];
  /** The DR region's forwarder of destination events, unless the DR region is home. */
  readonly drForwarder?: ForwarderStack;
  /** The DR region's key, made when cdk.json names none. */
  readonly drKey?: DrKeyStack;
  /** Every stack above. */
  readonly stacks: Stack[];
}

/** cdk.json's "s3dr" object, and any `-c s3dr:<key>=<value>` on the command line over it. */
export function appContext(app: App): Record<string, unknown> {
  const context: Record<string, unknown> = { ...(app.node.tryGetContext('s3dr') ?? {}) };
  for (const [key] of SETTINGS) {
    const override = app.node.tryGetContext(`s3dr:${key}`);
    if (override !== undefined) context[key] = override;
  }
  return context;
}

/** The stacks of one deployment, from the app's `s3dr` context (cdk.json). */
export function buildApp(app: App): S3DrApp {
  const config = loadConfig(appContext(app));
  const account = process.env.CDK_DEFAULT_ACCOUNT;
  const drKey = config.drKmsKeyArn
    ? undefined
    : new DrKeyStack(app, `S3DrKey-${config.drRegion}`, {
        env: { account, region: config.drRegion },
        description: 's3-dr: the DR region key that replicas of SSE-KMS objects are encrypted with',
        homeRegion: config.homeRegion,
      });
  const home = new S3DrStack(app, 'S3Dr', {
    env: { account, region: config.homeRegion },
    description: 's3-dr: tag a bucket dr=true and it is replicated to the DR region',
    config,
  });
  // KMS rejects a key policy whose principals do not exist yet
  // (https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html): the key stack
  // deploys after the home stack, which makes the roles. No cycle: the home stack names the key
  // only by its alias.
  drKey?.addStackDependency(home, 'the key policy names roles the home stack creates');
  const forwarders = config.sourceRegions
    .filter((region) => region !== config.homeRegion)
    .map((region) => new ForwarderStack(app, `S3DrForwarder-${region}`, {
      env: { account, region },
      description: `s3-dr: forwards S3 events of ${region} to ${config.homeRegion}`,
      config,
    }));
  // When the DR region is home, the home stack's destination rule sees its events directly.
  const drForwarder = config.drRegion === config.homeRegion
    ? undefined
    : new ForwarderStack(app, `S3DrForwarder-${config.drRegion}`, {
        env: { account, region: config.drRegion },
        description: `s3-dr: forwards events on destination buckets of ${config.drRegion} to ${config.homeRegion}`,
        config,
        kind: 'destination',
      });
  const stacks: Stack[] = [home, ...forwarders, ...(drForwarder ? [drForwarder] : []), ...(drKey ? [drKey] : [])];
  return { config, home, forwarders, drForwarder, drKey, stacks };
}

/**
 * The CDK app: the stacks, the configuration checked by the Lambda's rules (S3DR_CLI_BIN, see
 * check-config.ts), cdk-nag's AwsSolutions checks (findings make synth fail), synthesized.
 */
export function synthApp(app: App, env: NodeJS.ProcessEnv = process.env): S3DrApp {
  const built = buildApp(app);
  // The warning goes on the home stack: the cloud assembly keeps only stacks' annotations (one
  // on the App itself is not reported by the CLI).
  checkConfiguration(built.home, built.config, env);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  app.synth();
  return built;
}
