// Observability (lib/observability.ts): the alarm topic and the dashboard. The alarms themselves:
// alarms.test.ts; the report bucket: report-buckets.test.ts.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { EVERY_OPTION, synth } from './helpers';

const home = synth(EVERY_OPTION).home;

describe('observability', () => {
  // Alarms themselves: alarms.test.ts.
  it('sends alarms to an encrypted topic with the configured email', () => {
    home.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    home.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
  });

  it('has a dashboard with executions, step durations, Lambda and replication metrics', () => {
    const [dashboard] = Object.values<any>(home.findResources('AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const needle of ['ExecutionsStarted', 'ExecutionsFailed', 'StepDuration', 'CheckBackfill', 'Errors', 'ReplicationLatency']) {
      assert.ok(body.includes(needle), `dashboard shows ${needle}`);
    }
  });
});
