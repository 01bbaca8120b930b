// One rule set: synth runs the Lambda's validation (`s3-dr config check --env-file FILE`) on the
// environment the home stack deploys. A fake CLI shows the plumbing; the real one (S3DR_CLI_BIN,
// which `make test` sets) the rules.

import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Token } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { CLI_VARIABLE, environmentToCheck, explain, runConfigCheck, UNCHECKED_MESSAGE } from '../lib/check-config';
import { loadConfig } from '../lib/config';
import { cdkJsonSettings, synth } from './helpers';

/** An executable shell script in a fresh directory. */
function script(body: string): { file: string; dir: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 's3-dr-fake-cli-'));
  const file = path.join(dir, 's3-dr');
  writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return { file, dir };
}

describe('the environment checked', () => {
  it('is the home stack\'s, with sample ARNs in the home region where the stack has tokens', () => {
    const built = synth({ backfill: 'batch' });
    const [fn] = Object.values<any>(built.home.findResources('AWS::Lambda::Function', { Properties: { FunctionName: 's3-dr-step' } }));
    const deployed: Record<string, unknown> = fn.Properties.Environment.Variables;
    const checked = environmentToCheck(built.config);
    assert.deepEqual(Object.keys(checked).sort(), Object.keys(deployed).sort());
    for (const [name, value] of Object.entries(checked)) {
      assert.ok(!Token.isUnresolved(value), name);
      if (typeof deployed[name] === 'string') assert.equal(value, deployed[name], name);
      else assert.match(value, /^arn:aws:(iam::123456789012:role\/s3-dr-|states:us-east-1:123456789012:stateMachine:s3-dr-)/, name);
    }
    assert.equal(checked.S3DR_STEP_ROLE_ARN, 'arn:aws:iam::123456789012:role/s3-dr-step-us-east-1');
    assert.equal(checked.S3DR_PROTECT_STATE_MACHINE_ARN, 'arn:aws:states:us-east-1:123456789012:stateMachine:s3-dr-protect-bucket');
  });

  it('names the cdk.json key of a variable the Lambda rejects', () => {
    assert.equal(explain('S3DR_MATCH_TAG="=x" is invalid: expected KEY=VALUE'),
      'the Lambda rejects the configuration (cdk.json context s3dr.matchTag): S3DR_MATCH_TAG="=x" is invalid: expected KEY=VALUE');
    assert.match(explain('something else'), /\(cdk\.json context s3dr\): something else$/);
  });
});

describe('synth', () => {
  it('fails with the CLI\'s message when the Lambda rejects the configuration', () => {
    const fake = script('echo \'S3DR_STORAGE_CLASS="TAPE" is invalid: expected one of STANDARD, ...\' >&2\nexit 1');
    assert.throws(() => synth({ storageClass: 'tape' }, { env: { [CLI_VARIABLE]: fake.file } }),
      /the Lambda rejects the configuration \(cdk\.json context s3dr\.storageClass\): S3DR_STORAGE_CLASS="TAPE" is invalid: expected one of STANDARD/);
  });

  it('succeeds when the CLI accepts it, having given it the environment as a JSON file', () => {
    const fake = script('[ "$1 $2 $3" = "config check --env-file" ] || exit 2\ncp "$4" "$(dirname "$0")/checked.json"\necho ok');
    synth({}, { env: { [CLI_VARIABLE]: fake.file } });
    const checked = JSON.parse(readFileSync(path.join(fake.dir, 'checked.json'), 'utf8'));
    assert.equal(checked.S3DR_MATCH_TAG, 'dr=true');
    assert.equal(checked.S3DR_BATCH_REPORT_BUCKET, 's3-dr-reports-{account}-{region}');
  });

  it('fails when the CLI cannot be run', () => {
    assert.throws(() => synth({}, { env: { [CLI_VARIABLE]: path.join(tmpdir(), 'no-such-s3-dr') } }), /could not be run/);
  });

  it('warns, on the home stack, that nothing was checked when S3DR_CLI_BIN is unset', () => {
    const built = synth({}, { env: {} });
    Annotations.fromStack(built.homeStack).hasWarning('/S3Dr', Match.stringLikeRegexp('not checked against the Lambda'));
    assert.match(UNCHECKED_MESSAGE, /make synth/);
  });
});

describe('the real CLI (S3DR_CLI_BIN)', () => {
  const cli = process.env[CLI_VARIABLE];

  it('accepts cdk.json\'s configuration', (t) => {
    if (!cli) return t.skip(`${CLI_VARIABLE} is not set`);
    assert.equal(runConfigCheck(cli, environmentToCheck(loadConfig(cdkJsonSettings()))), undefined);
  });

  it('rejects what the Lambda rejects, naming the variable', (t) => {
    if (!cli) return t.skip(`${CLI_VARIABLE} is not set`);
    for (const [key, value, variable] of [
      ['matchTag', '=x', 'S3DR_MATCH_TAG'], ['destinationSuffix', '_DR', 'S3DR_DESTINATION_SUFFIX'], ['storageClass', 'TAPE', 'S3DR_STORAGE_CLASS'],
      ['publicAccess', 'open', 'S3DR_PUBLIC_ACCESS'], ['backfill', 'rsync', 'S3DR_BACKFILL'], ['batchReportBucket', 'Reports_Bucket', 'S3DR_BATCH_REPORT_BUCKET'],
      ['drKmsKeyArn', 'arn:aws:kms:us-west-2:123456789012:key/abc', 'S3DR_DR_KMS_KEY'],
    ] as const) {
      const message = runConfigCheck(cli, environmentToCheck(loadConfig({ ...cdkJsonSettings(), [key]: value })));
      assert.ok(message?.includes(variable), `${key}=${value}: ${message}`);
    }
  });
});
