// The step Lambda's code: the release build (`make lambda-release` writes
// target/lambda/arm64/s3-dr-lambda/bootstrap.zip, which Code.fromAsset takes as it is), or, when
// it is not there, a placeholder so that the app still synthesizes (`cdk bootstrap` synthesizes
// it on a fresh clone) with an error that stops a deploy of the placeholder.

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Annotations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { IConstruct } from 'constructs';
import { S3DrConfig } from './config';

export const MISSING_LAMBDA_MESSAGE = 'the step Lambda is not built: run `make lambda-release` (or set -c s3dr:lambdaAsset=...)';

/** A directory holding a `bootstrap` that exits, always the same content (so the same asset hash). */
export function placeholderAsset(): string {
  const dir = path.join(tmpdir(), 's3-dr-placeholder-lambda');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'bootstrap'), '#!/bin/sh\n# s3-dr placeholder: the step Lambda was not built (make lambda-release)\nexit 1\n', { mode: 0o755 });
  return dir;
}

/** The code of the step Lambda, and whether it is the placeholder. */
export function stepLambdaCode(config: S3DrConfig): { code: lambda.Code; placeholder: boolean } {
  if (existsSync(config.lambdaAsset)) return { code: lambda.Code.fromAsset(config.lambdaAsset), placeholder: false };
  return { code: lambda.Code.fromAsset(placeholderAsset()), placeholder: true };
}

/** Report the placeholder on `fn`: an error (the CLI refuses to synthesize or deploy) unless
 * allowMissingLambda, then a warning. */
export function annotatePlaceholder(fn: IConstruct, config: S3DrConfig): void {
  const message = `${MISSING_LAMBDA_MESSAGE}; ${config.lambdaAsset} does not exist (a placeholder was synthesized)`;
  if (config.allowMissingLambda) {
    Annotations.of(fn).addWarningV2('s3-dr:placeholderLambda', message);
  } else {
    Annotations.of(fn).addError(message);
  }
}
