// Alarms that mean something, delivered: every alarm topic (every stack) lets CloudWatch publish
// and keeps its TLS deny, and its key goes with the stack; alarms on what a person must act on;
// S3's replication failures where S3 publishes them (the source regions).

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { replicationMetricQuery } from '../lib/source-region';
import { statemachineStems } from '../lib/workflows';
import { list, synth } from './helpers';

const rtc = synth({ replicationTimeControl: true, alarmEmail: 'oncall@example.com' });
const plain = synth({ replicationTimeControl: false });
// Account unset: the conditions are CloudFormation's AccountId.
const anyAccount = synth({ replicationTimeControl: true }, { account: null });

const alarms = (template: Template) => Object.values<any>(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);

describe('alarm topics', () => {
  for (const [name, built, account] of [['account known', rtc, '123456789012'], ['account unset', anyAccount, { Ref: 'AWS::AccountId' }]] as const) {
    it(`let CloudWatch publish, for this account's alarms only, and deny publishing without TLS: every topic of every stack (${name})`, () => {
      let topics = 0;
      for (const { stack, template } of built.templates) {
        const region = stack.region;
        const alarmArn = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:cloudwatch:${region}:`, account, ':alarm:*']] };
        const wanted = { StringEquals: { 'aws:SourceAccount': account }, ArnLike: { 'aws:SourceArn': typeof account === 'string' ? { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:cloudwatch:${region}:${account}:alarm:*`]] } : alarmArn } };
        const policies = Object.values<any>(template.findResources('AWS::SNS::TopicPolicy'));
        for (const topicId of Object.keys(template.findResources('AWS::SNS::Topic'))) {
          topics++;
          const policy = policies.find((p) => p.Properties.Topics.some((t: any) => t.Ref === topicId));
          assert.ok(policy, `${stack.stackName}: ${topicId} has a topic policy`);
          const statements: any[] = policy.Properties.PolicyDocument.Statement;
          const deny = statements.find((s) => s.Effect === 'Deny');
          assert.deepEqual([deny.Action, deny.Condition, deny.Resource], ['sns:Publish', { Bool: { 'aws:SecureTransport': 'false' } }, { Ref: topicId }], stack.stackName);
          const allow = statements.find((s) => s.Effect === 'Allow' && s.Principal?.Service === 'cloudwatch.amazonaws.com');
          assert.ok(allow, `${stack.stackName}: CloudWatch may publish to ${topicId}`);
          assert.deepEqual([allow.Action, allow.Resource, allow.Condition], ['sns:Publish', { Ref: topicId }, wanted], stack.stackName);
          // The topic's key: CloudWatch may use it, with the same conditions.
          const topic = template.findResources('AWS::SNS::Topic')[topicId];
          const keyId = topic.Properties.KmsMasterKeyId['Fn::GetAtt'][0];
          const key = template.findResources('AWS::KMS::Key')[keyId];
          const keyGrant = key.Properties.KeyPolicy.Statement.find((s: any) => s.Principal?.Service === 'cloudwatch.amazonaws.com');
          assert.deepEqual([list(keyGrant.Action).sort(), keyGrant.Condition], [['kms:Decrypt', 'kms:GenerateDataKey*'], wanted], stack.stackName);
          // Deleted (after a 7-day pending window) with its stack: no orphan key per destroyed stack.
          assert.deepEqual([key.DeletionPolicy, key.UpdateReplacePolicy, key.Properties.PendingWindowInDays], ['Delete', 'Delete', 7], stack.stackName);
        }
      }
      // The home stack and the three forwarders (us-west-2, the DR region's); the DR key has none.
      assert.equal(topics, 3);
    });
  }
});

describe('alarms', () => {
  it('go to the stack\'s own topic, one bad datapoint in 5 minutes, no data not breaching', () => {
    for (const { stack, template } of [...rtc.templates, ...plain.templates]) {
      const [topic] = Object.keys(template.findResources('AWS::SNS::Topic'));
      for (const alarm of alarms(template)) {
        assert.deepEqual(alarm.AlarmActions, [{ Ref: topic }], `${stack.stackName} ${alarm.AlarmDescription}`);
        // The recovery point alarm's threshold is a duration (cdk.json recoveryPointAlarmSeconds).
        const [threshold, operator] = alarm.MetricName === 'RecoveryPointSeconds' ? [86400, 'GreaterThanThreshold'] : [1, 'GreaterThanOrEqualToThreshold'];
        assert.deepEqual([alarm.Threshold, alarm.EvaluationPeriods, alarm.ComparisonOperator, alarm.TreatMissingData],
          [threshold, 1, operator, 'notBreaching'], alarm.AlarmDescription);
      }
    }
  });

  it('watch failed executions of every workflow, the dead letters and the Lambda\'s own metrics, not Lambda errors', () => {
    const home = alarms(plain.home);
    assert.deepEqual(home.filter((a) => a.MetricName === 'ExecutionsFailed').length, statemachineStems().length);
    assert.equal(home.filter((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible').length, 1);
    // Transient errors the workflows retry would page people.
    assert.equal(home.filter((a) => a.MetricName === 'Errors' || a.Namespace === 'AWS/Lambda').length, 0);
    const own = home.filter((a) => a.Namespace === 's3-dr');
    assert.deepEqual(own.map((a) => a.MetricName).sort(),
      ['BackfillObjectsFailed', 'ObjectsMissingInDr', 'ObjectsNotReplicable', 'RecoveryPointSeconds', 'SweepBucketsFailed']);
    for (const alarm of own) {
      // The fleet's figures (no dimension); the recovery point as its worst bucket's, hourly.
      const [statistic, period] = alarm.MetricName === 'RecoveryPointSeconds' ? ['Maximum', 3600] : ['Sum', 300];
      assert.deepEqual([alarm.Statistic, alarm.Period, alarm.Dimensions], [statistic, period, undefined], alarm.MetricName);
    }
    assert.equal(home.length, statemachineStems().length + 6);
  });

  it('watch S3\'s replication failures with RTC, by a Metrics Insights query, in every source region only', () => {
    const query = 'SELECT SUM(OperationsFailedReplication) FROM SCHEMA("AWS/S3", SourceBucket, DestinationBucket, RuleId) WHERE RuleId = \'s3-dr\'';
    assert.equal(replicationMetricQuery('OperationsFailedReplication'), query);
    const failed = (template: Template) => alarms(template).filter((a) => a.Metrics?.[0]?.Expression === query);
    // Home (us-east-1) is a source region; us-west-2 another; us-east-2 the DR region, where S3
    // does not publish OperationsFailedReplication (the source bucket's region only).
    const regions = rtc.templates.filter(({ template }) => failed(template).length === 1).map(({ stack }) => stack.region).sort();
    assert.deepEqual(regions, ['us-east-1', 'us-west-2']);
    assert.equal(failed(rtc.drForwarder!).length, 0, 'none in the DR region\'s forwarder');
    for (const { template } of rtc.templates) {
      for (const alarm of failed(template)) {
        assert.deepEqual(alarm.Metrics, [{ Expression: query, Id: 'expr_1', Label: 'OperationsFailedReplication', Period: 300, ReturnData: true }]);
      }
    }
    for (const { template } of plain.templates) assert.equal(alarms(template).filter((a) => a.Metrics).length, 0, 'none without RTC');
    // Home in neither kind of region: no such alarm at home.
    const elsewhere = synth({ replicationTimeControl: true, homeRegion: 'eu-west-1', backfill: 'copy' });
    assert.equal(failed(elsewhere.home).length, 0);
    // Home is the DR region: none at home either (no DR forwarder then); the source regions have theirs.
    const atDr = synth({ replicationTimeControl: true, homeRegion: 'us-east-2', backfill: 'copy' });
    assert.equal(atDr.drForwarder, undefined);
    assert.equal(failed(atDr.home).length, 0);
    assert.deepEqual(atDr.forwarders.filter((f) => failed(f.template).length === 1).map((f) => f.region), ['us-east-1', 'us-west-2']);
  });

  it('leave a dashboard graph of failures per source region and one of latency and pending operations in the DR region', () => {
    const [dashboard] = Object.values<any>(rtc.home.findResources('AWS::CloudWatch::Dashboard'));
    // The body is a Fn::Join of JSON text and references (inside JSON strings).
    const body = dashboard.Properties.DashboardBody['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : 'TOKEN')).join('');
    const widgets = JSON.parse(body).widgets.filter((w: any) => /^S3 replication/.test(w.properties.title));
    // Each metric of a graph: [{ expression, label, region }]; CDK leaves out the region when it is
    // the dashboard's own (home, us-east-1).
    const graphed = (widget: any) => widget.properties.metrics.map(([m]: any) => [m.label, m.region ?? 'us-east-1', m.expression]);
    const select = (aggregate: string, metric: string) => replicationMetricQuery(metric, aggregate as 'SUM' | 'MAX');
    assert.deepEqual(widgets.map((w: any) => [w.properties.region, graphed(w)]), [
      ['us-east-1', [['OperationsFailedReplication', 'us-east-1', select('SUM', 'OperationsFailedReplication')]]],
      ['us-west-2', [['OperationsFailedReplication', 'us-west-2', select('SUM', 'OperationsFailedReplication')]]],
      ['us-east-2', [
        ['ReplicationLatency', 'us-east-2', select('MAX', 'ReplicationLatency')],
        ['OperationsPendingReplication', 'us-east-2', select('MAX', 'OperationsPendingReplication')],
      ]],
    ]);
    const [noRtc] = Object.values<any>(plain.home.findResources('AWS::CloudWatch::Dashboard'));
    assert.ok(!JSON.stringify(noRtc).includes('S3 replication'), 'no replication graphs without RTC');
  });
});
