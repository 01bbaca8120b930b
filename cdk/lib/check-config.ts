// One rule set: the configuration is checked at synth by the Lambda's own validation,
// `s3-dr config check --env-file FILE` (FILE: a JSON object, variable name -> value; exit 0 and
// `ok` when the Lambda accepts it, its error on stderr otherwise). The environment checked is the
// one the home stack deploys (lambdaEnvironment), with sample ARNs where the stack has tokens
// (an ARN CloudFormation resolves cannot be checked at synth).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Annotations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { S3DrConfig } from './config';
import { replicationRoleName } from './dr-key-stack';
import { stepRoleName } from './events';
import { ENVIRONMENT_SETTINGS, LambdaArns, lambdaEnvironment } from './lambda-environment';

/** The account of the sample ARNs. */
export const SAMPLE_ACCOUNT = '123456789012';
/** The variable naming the CLI (the Makefile sets it). */
export const CLI_VARIABLE = 'S3DR_CLI_BIN';
export const UNCHECKED_MESSAGE = `the configuration was not checked against the Lambda's rules (${CLI_VARIABLE} is not set: run through \`make synth\` or \`make deploy\`)`;

/** The ARNs the home stack gives the Lambda, as syntactically valid samples in the home region. */
export function sampleArns(config: S3DrConfig): LambdaArns {
  const role = (name: string) => `arn:aws:iam::${SAMPLE_ACCOUNT}:role/${name}`;
  const machine = (stem: string) => `arn:aws:states:${config.homeRegion}:${SAMPLE_ACCOUNT}:stateMachine:s3-dr-${stem}`;
  return {
    stepRole: role(stepRoleName(config.homeRegion)),
    replicationRole: role(replicationRoleName(config.homeRegion)),
    batchRole: role(`s3-dr-batch-${config.homeRegion}`),
    protect: machine('protect-bucket'),
    detach: machine('detach-bucket'),
    verify: machine('verify-bucket'),
  };
}

/** The home stack's Lambda environment with sample ARNs. */
export function environmentToCheck(config: S3DrConfig): Record<string, string> {
  return lambdaEnvironment(config, sampleArns(config));
}

/** The CLI's verdict on `environment`: undefined when accepted, else its message. */
export function runConfigCheck(cli: string, environment: Record<string, string>): string | undefined {
  const dir = mkdtempSync(path.join(tmpdir(), 's3-dr-config-check-'));
  try {
    const file = path.join(dir, 'environment.json');
    writeFileSync(file, JSON.stringify(environment, null, 2));
    const result = spawnSync(cli, ['config', 'check', '--env-file', file], { encoding: 'utf8' });
    if (result.error) return `${CLI_VARIABLE}=${cli} could not be run: ${result.error.message}`;
    if (result.status === 0) return undefined;
    const output = (result.stderr || result.stdout || '').trim();
    return output || `${cli} config check exited with ${result.status ?? result.signal}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The Lambda rejected the configuration (bin/app.ts prints the message alone). */
export class ConfigurationRejected extends Error {}

/** The CLI's message, with the cdk.json key of each S3DR_* variable it names. */
export function explain(message: string): string {
  const keys = [...new Set([...message.matchAll(/S3DR_[A-Z_]+/g)].map((m) => ENVIRONMENT_SETTINGS[m[0]]).filter(Boolean))];
  const where = keys.length > 0 ? keys.map((k) => `cdk.json context s3dr.${k}`).join(', ') : 'cdk.json context s3dr';
  return `the Lambda rejects the configuration (${where}): ${message}`;
}

/**
 * Check the configuration with the CLI named by S3DR_CLI_BIN in `env`: throws (synth fails) with
 * the Lambda's message when it is rejected; without the variable, a warning on `scope`.
 */
export function checkConfiguration(scope: IConstruct, config: S3DrConfig, env: NodeJS.ProcessEnv = process.env): void {
  const cli = env[CLI_VARIABLE];
  if (!cli) {
    Annotations.of(scope).addWarningV2('s3-dr:configNotChecked', UNCHECKED_MESSAGE);
    return;
  }
  const rejected = runConfigCheck(cli, environmentToCheck(config));
  if (rejected !== undefined) throw new ConfigurationRejected(explain(rejected));
}
