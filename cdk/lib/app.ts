import { App } from 'aws-cdk-lib';
import { loadConfig, S3DrConfig, SETTINGS } from './config';
import { ForwarderStack } from './forwarder-stack';
import { S3DrStack } from './s3-dr-stack';

export interface S3DrApp {
  readonly config: S3DrConfig;
  readonly home: S3DrStack;
  readonly forwarders: ForwarderStack[];
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
  return { config, home, forwarders };
}
