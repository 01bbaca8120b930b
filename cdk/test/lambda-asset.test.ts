// The app synthesizes without the built Lambda (`cdk bootstrap` on a fresh clone), and says so.

import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { MISSING_LAMBDA_MESSAGE } from '../lib/lambda-asset';
import { synth } from './helpers';

const missing = path.join(tmpdir(), 's3-dr-no-such-build', 'bootstrap.zip');
const error = Match.stringLikeRegexp('the step Lambda is not built: run `make lambda-release` \\(or set -c s3dr:lambdaAsset=\\.\\.\\.\\)');

describe('the step Lambda asset', () => {
  it('is the zip cargo lambda writes, taken as it is', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 's3-dr-zip-'));
    const zip = path.join(dir, 'bootstrap.zip');
    writeFileSync(zip, 'PK\u0005\u0006' + '\u0000'.repeat(18)); // an empty zip archive
    const built = synth({ lambdaAsset: zip });
    assert.equal(built.homeStack.placeholderLambda, false);
    Annotations.fromStack(built.homeStack).hasNoError('*', Match.anyValue());
    const [fn] = Object.values<any>(built.home.findResources('AWS::Lambda::Function', { Properties: { FunctionName: 's3-dr-step' } }));
    assert.match(JSON.stringify(fn.Properties.Code.S3Key), /\.zip"/);
  });

  it('is a placeholder when missing: synth succeeds with an error annotation that stops the CLI', () => {
    const built = synth({ lambdaAsset: missing });
    assert.equal(built.homeStack.placeholderLambda, true);
    Annotations.fromStack(built.homeStack).hasError('/S3Dr/StepFunction', error);
    assert.ok(MISSING_LAMBDA_MESSAGE.includes('make lambda-release'));
  });

  it('is a placeholder without an error when s3dr:allowMissingLambda is true (make bootstrap)', () => {
    const built = synth({ lambdaAsset: missing }, { commandLine: { allowMissingLambda: 'true' } });
    assert.equal(built.homeStack.placeholderLambda, true);
    Annotations.fromStack(built.homeStack).hasNoError('*', Match.anyValue());
    Annotations.fromStack(built.homeStack).hasWarning('/S3Dr/StepFunction', Match.stringLikeRegexp('not built'));
  });
});
