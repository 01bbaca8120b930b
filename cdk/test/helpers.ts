// What the CDK assertion tests share: the app synthesized offline (a placeholder Lambda asset,
// cdk-nag's AwsSolutions checks on: a finding makes synth throw), and template helpers.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { synthApp } from '../lib/app';

export const ACCOUNT = '123456789012';
export const DR_KEY = 'arn:aws:kms:us-east-2:123456789012:key/1111aaaa-2222-3333-4444-555566667777';
export const SOURCE_KEY = 'arn:aws:kms:us-west-2:123456789012:key/8888bbbb-2222-3333-4444-555566667777';
/** The optional settings, all set: the DR key and another account's source key named, an alarm
 * email, RTC on. */
export const EVERY_OPTION = { drKmsKeyArn: DR_KEY, sourceKmsKeyArns: [SOURCE_KEY], alarmEmail: 'oncall@example.com', replicationTimeControl: true };

export function placeholderAsset(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 's3-dr-asset-'));
  writeFileSync(path.join(dir, 'bootstrap'), '#!/bin/sh\n# placeholder: the tests do not build the release Lambda\n');
  return dir;
}

/** cdk.json's s3dr context. */
export function cdkJsonSettings(): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(__dirname, '..', 'cdk.json'), 'utf8')).context.s3dr;
}

/**
 * The app with cdk.json's settings, `overrides` over them (lambdaAsset: a placeholder unless
 * given), `commandLine` as `-c s3dr:<key>=<value>`, and `env` as the process environment
 * (S3DR_CLI_BIN unset unless given).
 */
export function synth(overrides: Record<string, unknown> = {}, options: { commandLine?: Record<string, string>; env?: NodeJS.ProcessEnv; account?: string | null } = {}) {
  if (options.account === null) delete process.env.CDK_DEFAULT_ACCOUNT;
  else process.env.CDK_DEFAULT_ACCOUNT = options.account ?? ACCOUNT;
  const context: Record<string, unknown> = { s3dr: { ...cdkJsonSettings(), lambdaAsset: placeholderAsset(), ...overrides } };
  for (const [key, value] of Object.entries(options.commandLine ?? {})) context[`s3dr:${key}`] = value;
  const app = new App({ context });
  const built = synthApp(app, options.env ?? {});
  const template = (stack: Stack) => Template.fromStack(stack);
  return {
    ...built,
    app,
    homeStack: built.home,
    home: template(built.home),
    forwarders: built.forwarders.map((f) => ({ region: f.region, template: template(f), stack: f })),
    drForwarder: built.drForwarder ? template(built.drForwarder) : undefined,
    templates: built.stacks.map((stack) => ({ stack, template: template(stack) })),
  };
}

/** Every statement of every IAM policy in the template (inline role policies included). */
export function statements(template: Template): any[] {
  const found: any[] = [];
  for (const policy of Object.values<any>(template.findResources('AWS::IAM::Policy'))) {
    found.push(...policy.Properties.PolicyDocument.Statement);
  }
  for (const role of Object.values<any>(template.findResources('AWS::IAM::Role'))) {
    for (const policy of role.Properties.Policies ?? []) found.push(...policy.PolicyDocument.Statement);
  }
  return found;
}

export const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** `arn:<partition>:<rest>` as CDK renders it. */
export const arn = (rest: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:${rest}`]] });
