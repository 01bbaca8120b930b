import { App } from 'aws-cdk-lib';
import { loadConfig, S3DrConfig, SETTINGS } from './config';
import { DrKeyStack } from './dr-key-stack';
import { ForwarderStack } from './forwarder-stack';
import { S3DrStack } from './s3-dr-stack';

export interface S3DrApp {
  readonly config: S3DrConfig;
  readonly home: S3DrStack;
  readonly forwarders: ForwarderStack[];
  /** The DR region's key, made when cdk.json names none. */
  readonly drKey?: DrKeyStack;
}

/** The stacks of one deployment, from the app's `s3dr` context (cdk.json). */
export function buildApp(app: App): S3DrApp {
  // cdk.json's "s3dr" object, and any `-c s3dr:<key>=<value>` on the command line over it.
  const context: Record<string, unknown> = { ...(app.node.tryGetContext('s3dr') ?? {}) };
  for (const [key] of SETTINGS) {
    const override = app.node.tryGetContext(`s3dr:${key}`);
    if (override !== undefined) context[key] = override;
  }
  const config = loadConfig(context);
  const account = process.env.CDK_DEFAULT_ACCOUNT;
  const drKey = config.drKmsKeyArn
    ? undefined
    : new DrKeyStack(app, `S3DrKey-${config.drRegion}`, {
        env: { account, region: config.drRegion },
        description: 's3-dr: the DR region key that replicas of SSE-KMS objects are encrypted with',
      });
  const home = new S3DrStack(app, 'S3Dr', {
    env: { account, region: config.homeRegion },
    description: 's3-dr: tag a bucket dr=true and it is replicated to the DR region',
    config,
  });
  const forwarders = config.sourceRegions
    .filter((region) => region !== config.homeRegion)
    .map((region) => new ForwarderStack(app, `S3DrForwarder-${region}`, {
      env: { account, region },
      description: `s3-dr: forwards S3 events of ${region} to ${config.homeRegion}`,
      config,
    }));
  return { config, home, forwarders, drKey };
}
