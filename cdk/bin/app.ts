#!/usr/bin/env node
// `cdk deploy --all`: the home stack, a forwarder stack per other source region and one for the
// DR region, and the DR key's stack. The configuration is checked by the Lambda's own rules when
// S3DR_CLI_BIN names the s3-dr CLI (the Makefile sets it); a rejection fails synth with the
// Lambda's message.

import { App } from 'aws-cdk-lib';
import { synthApp } from '../lib/app';
import { ConfigurationRejected } from '../lib/check-config';

try {
  synthApp(new App());
} catch (error) {
  if (!(error instanceof ConfigurationRejected)) throw error;
  console.error(error.message);
  process.exit(1);
}
