// Events from every region that matters: tagging (CreateBucket, S3 Control TagResource and
// UntagResource too) and drift in the source regions, destination changes in the DR region, each
// routed once to the protect workflow. The rules are checked by shape and by matching sample
// CloudTrail events with a small EventBridge pattern matcher (the operators the rules use).

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { DESTINATION_EVENT_PREFIX, DESTINATION_EVENTS, DRIFT_EVENTS, TAGGING_EVENTS } from '../lib/events';
import { synth } from './helpers';

const STEP_ROLE = 'arn:aws:iam::123456789012:role/s3-dr-step-us-east-1';

/** The template's pattern with its references resolved as CloudFormation would here. */
function resolve(value: any): any {
  if (Array.isArray(value)) return value.map(resolve);
  if (value && typeof value === 'object') {
    if ('Fn::GetAtt' in value) return STEP_ROLE; // the only attribute in the patterns
    if ('Ref' in value) return value.Ref === 'AWS::Partition' ? 'aws' : value.Ref;
    if ('Fn::Join' in value) return value['Fn::Join'][1].map(resolve).join(value['Fn::Join'][0]);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v)]));
  }
  return value;
}

/** EventBridge matching for: exact values, prefix, suffix, anything-but (value or list), exists, $or. */
function matches(pattern: any, event: any): boolean {
  return Object.entries(pattern).every(([key, rule]) => {
    if (key === '$or') return (rule as any[]).some((alternative) => matches(alternative, event));
    const value = event?.[key];
    // A nested pattern: a missing object matches only leaf `exists: false` rules.
    if (!Array.isArray(rule)) return matches(rule, value !== null && typeof value === 'object' ? value : {});
    const values = Array.isArray(value) ? value : [value];
    return rule.some((m: any) => {
      if (m !== null && typeof m === 'object') {
        if ('exists' in m) return m.exists === (value !== undefined);
        if (value === undefined) return false;
        if ('prefix' in m) return values.some((v) => typeof v === 'string' && v.startsWith(m.prefix));
        if ('suffix' in m) return values.some((v) => typeof v === 'string' && v.endsWith(m.suffix));
        if ('anything-but' in m) return values.every((v) => ![m['anything-but']].flat().includes(v));
        throw new Error(`operator ${JSON.stringify(m)} is not modelled`);
      }
      return values.includes(m);
    });
  });
}

/** A CloudTrail event as EventBridge delivers it. */
function cloudTrail(eventName: string, region: string, bucket: string, caller?: string) {
  return {
    source: 'aws.s3',
    'detail-type': 'AWS API Call via CloudTrail',
    region,
    detail: {
      eventSource: 's3.amazonaws.com',
      eventName,
      awsRegion: region,
      requestParameters: eventName.endsWith('Resource') ? { resourceArn: `arn:aws:s3:::${bucket}` } : { bucketName: bucket },
      userIdentity: caller ? { type: 'AssumedRole', sessionContext: { sessionIssuer: { type: 'Role', arn: caller } } } : { type: 'IAMUser' },
    },
  };
}

const rules = (template: Template) => Object.values<any>(template.findResources('AWS::Events::Rule'))
  .filter((r) => r.Properties.EventPattern)
  .map((r) => ({ description: r.Properties.Description as string, pattern: resolve(r.Properties.EventPattern), targets: r.Properties.Targets }));
/** Descriptions of the rules of `template` that `event` matches. */
const matched = (template: Template, event: unknown) => rules(template).filter((r) => matches(r.pattern, event)).map((r) => r.description.split(':')[1].trim().split(' ').slice(0, 4).join(' '));

describe('the event lists', () => {
  it('are exported for the Lambda to mirror', () => {
    assert.deepEqual(TAGGING_EVENTS, ['PutBucketTagging', 'DeleteBucketTagging', 'CreateBucket', 'TagResource', 'UntagResource']);
    assert.deepEqual(DRIFT_EVENTS, ['PutBucketReplication', 'DeleteBucketReplication', 'PutBucketVersioning']);
    assert.deepEqual([DESTINATION_EVENTS, DESTINATION_EVENT_PREFIX], [['PutBucketVersioning'], 'DeleteBucket']);
  });
});

describe('with a DR region other than home', () => {
  const built = synth();
  const home = built.home;
  const source = built.forwarders[0].template;
  const dr = built.drForwarder!;

  it('has a forwarder stack in the DR region, with a dead-letter queue, an alarm and a topic', () => {
    assert.equal(built.drForwarder && built.stacks.find((s) => s.stackName === 'S3DrForwarder-us-east-2')?.region, 'us-east-2');
    const [rule] = rules(dr);
    assert.deepEqual(rule.pattern.detail.eventName, ['PutBucketVersioning', { prefix: 'DeleteBucket' }]);
    assert.deepEqual(rule.pattern.detail.requestParameters, { bucketName: [{ suffix: '-dr' }] });
    assert.deepEqual(rule.pattern.detail.$or, [
      { userIdentity: { sessionContext: { sessionIssuer: { arn: [{ 'anything-but': STEP_ROLE }] } } } },
      { userIdentity: { sessionContext: { sessionIssuer: { arn: [{ exists: false }] } } } },
    ]);
    assert.equal(resolve(rule.targets[0].Arn), 'arn:aws:events:us-east-1:123456789012:event-bus/default');
    assert.ok(rule.targets[0].DeadLetterConfig?.Arn);
    dr.resourceCountIs('AWS::SQS::Queue', 1);
    dr.resourceCountIs('AWS::SNS::Topic', 1);
    dr.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateNumberOfMessagesVisible' });
  });

  it('routes tagging events (CreateBucket, TagResource, UntagResource too) of a source region, once', () => {
    for (const name of TAGGING_EVENTS) {
      const event = cloudTrail(name, 'us-west-2', 'photos');
      assert.equal(matched(source, event).length, 1, `${name} forwarded`);
      assert.deepEqual(matched(home, event), ['a bucket was created,'], `${name} at home`);
      assert.deepEqual(matched(dr, event), []);
    }
    assert.deepEqual(matched(home, cloudTrail('CreateBucket', 'us-east-1', 'new-bucket', 'arn:aws:iam::123456789012:role/ci')), ['a bucket was created,']);
  });

  it('routes drift of a source bucket to the drift rule only', () => {
    for (const name of DRIFT_EVENTS) {
      assert.deepEqual(matched(home, cloudTrail(name, 'us-east-1', 'photos')), ['replication or versioning changed'], name);
    }
  });

  it('forwards destination events of the DR region, routed once at home by the destination rule', () => {
    for (const name of ['PutBucketVersioning', 'DeleteBucket', 'DeleteBucketPolicy', 'DeleteBucketTagging', 'DeleteBucketReplication']) {
      const event = cloudTrail(name, 'us-east-2', 'photos-dr');
      assert.equal(matched(dr, event).length, 1, `${name} forwarded`);
      // Not the tagging or drift rule as well: one execution per event.
      assert.deepEqual(matched(home, event), ['versioning changed on, or'], `${name} at home`);
    }
  });

  it('leaves out the step Lambda\'s own calls, buckets that are not destinations and other calls', () => {
    assert.deepEqual(matched(dr, cloudTrail('PutBucketVersioning', 'us-east-2', 'photos-dr', STEP_ROLE)), []);
    assert.deepEqual(matched(home, cloudTrail('PutBucketVersioning', 'us-east-2', 'photos-dr', STEP_ROLE)), []);
    assert.deepEqual(matched(source, cloudTrail('PutBucketTagging', 'us-west-2', 'photos', STEP_ROLE)), []);
    assert.deepEqual(matched(dr, cloudTrail('PutBucketVersioning', 'us-east-2', 'photos')), []);
    assert.deepEqual(matched(dr, cloudTrail('PutBucketPolicy', 'us-east-2', 'photos-dr')), []);
    // Another role's calls are kept.
    assert.equal(matched(dr, cloudTrail('DeleteBucket', 'us-east-2', 'photos-dr', 'arn:aws:iam::123456789012:role/admin')).length, 1);
  });
});

describe('with the DR region at home', () => {
  const built = synth({ homeRegion: 'us-east-2', drRegion: 'us-east-2', sourceRegions: ['us-east-1', 'us-west-2'], backfill: 'copy' });

  it('has no DR forwarder: the home stack\'s destination rule sees the region\'s own events', () => {
    assert.equal(built.drForwarder, undefined);
    assert.deepEqual(built.forwarders.map((f) => f.region), ['us-east-1', 'us-west-2']);
    assert.deepEqual(matched(built.home, cloudTrail('PutBucketVersioning', 'us-east-2', 'photos-dr')), ['versioning changed on, or']);
    assert.deepEqual(matched(built.home, cloudTrail('PutBucketVersioning', 'us-east-1', 'photos')), ['replication or versioning changed']);
    for (const rule of rules(built.home)) {
      assert.match(JSON.stringify(rule.targets[0].Arn), /StateMachineprotectbucket/, rule.description);
    }
  });
});
