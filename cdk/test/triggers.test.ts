// The triggers (lib/triggers.ts): the event rules and the sweep schedule that start the workflows,
// and the forwarders that bring other regions' events to them. events.test.ts matches sample
// events against the patterns.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { DRIFT_EVENTS, TAGGING_EVENTS } from '../lib/events';
import { EVERY_OPTION, synth } from './helpers';

const deployed = synth(EVERY_OPTION);
const home = deployed.home;

describe('the triggers', () => {
  const rules = home.findResources('AWS::Events::Rule');
  const rule = (description: RegExp) => {
    const found = Object.values<any>(rules).filter((r) => description.test(r.Properties.Description));
    assert.equal(found.length, 1, `one rule matching ${description}`);
    return found[0].Properties;
  };
  const protectArn = { Ref: Match.stringLikeRegexp('^StateMachineprotectbucket') };

  it('send tagging and drift events, one rule per purpose, to the protect workflow, with a DLQ and retries', () => {
    for (const [description, names] of [[/tagged or untagged/, TAGGING_EVENTS], [/replication or versioning changed/, DRIFT_EVENTS]] as const) {
      const properties = rule(description);
      // The step Lambda's own calls are left out (a call without a role session is kept).
      const stepRole = { 'Fn::GetAtt': [Match.stringLikeRegexp('^StepFunctionRole'), 'Arn'] };
      assert.deepEqual(Object.keys(properties.EventPattern.detail).sort(), ['$or', 'eventName', 'eventSource']);
      assert.deepEqual(properties.EventPattern.detail.eventName, names);
      const [notOurs, noSession] = properties.EventPattern.detail.$or.map((o: any) => o.userIdentity.sessionContext.sessionIssuer.arn[0]);
      assert.ok(Match.objectLike({ 'anything-but': stepRole }).test(notOurs).isSuccess, JSON.stringify(notOurs));
      assert.deepEqual(noSession, { exists: false });
      const [target] = properties.Targets;
      assert.ok(Match.objectLike(protectArn).test(target.Arn).isSuccess, JSON.stringify(target.Arn));
      assert.ok(target.DeadLetterConfig?.Arn, 'a dead-letter queue');
      assert.deepEqual(target.RetryPolicy, { MaximumEventAgeInSeconds: 21600, MaximumRetryAttempts: 8 });
      assert.equal(target.Input, undefined, 'the event itself is the input');
    }
  });

  it('run the sweep on the configured schedule', () => {
    const properties = rule(/the sweep/);
    assert.equal(properties.ScheduleExpression, 'rate(1 day)');
    assert.ok(Match.objectLike({ Ref: Match.stringLikeRegexp('^StateMachinesweep') }).test(properties.Targets[0].Arn).isSuccess);
  });

  it('forward the same events from every other source region to the home bus', () => {
    assert.deepEqual(deployed.forwarders.map((f) => f.region), ['us-west-2']);
    const [{ template }] = deployed.forwarders;
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({
        detail: Match.objectLike({
          eventName: [...TAGGING_EVENTS, ...DRIFT_EVENTS],
          // The step role by its fixed name: another stack's role ARN cannot be referenced here.
          $or: Match.arrayWith([{ userIdentity: { sessionContext: { sessionIssuer: { arn: [{ 'anything-but': {
            'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::123456789012:role/s3-dr-step-us-east-1']],
          } }] } } } }]),
        }),
      }),
      Targets: [Match.objectLike({
        Arn: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':events:us-east-1:123456789012:event-bus/default']] },
        DeadLetterConfig: Match.anyValue(),
      })],
    });
  });
});
