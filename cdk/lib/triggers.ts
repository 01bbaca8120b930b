// What starts the workflows: EventBridge rules that send S3's events (this region's, and those
// the forwarders send) to the protect workflow, the sweep's schedule, and the dead-letter queue
// of their targets.

import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { S3DrConfig } from './config';
import { destinationPattern, DRIFT_EVENTS, sourcePattern, TAGGING_EVENTS } from './events';
import { Workflows } from './workflows';

export interface TriggersProps {
  readonly config: S3DrConfig;
  readonly workflows: Workflows;
  /** The step Lambda's role: the events its own calls cause are left out. */
  readonly stepRole: iam.IRole;
}

/** The event rules and the sweep schedule. Its resources are the stack's children (see S3DrStack). */
export class Triggers extends Construct {
  /** Events EventBridge could not deliver to a workflow (after its retries). */
  readonly deadLetters: sqs.Queue;

  constructor(stack: Stack, id: string, props: TriggersProps) {
    super(stack, id);
    const { config, workflows, stepRole } = props;
    this.deadLetters = new sqs.Queue(stack, 'EventDeadLetters', {
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
    });
    Validations.of(this.deadLetters).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'This queue is the dead-letter queue of the EventBridge targets.' });
    const target = (machine: sfn.StateMachine, input?: events.RuleTargetInput) =>
      new targets.SfnStateMachine(machine, { input, deadLetterQueue: this.deadLetters, retryAttempts: 8, maxEventAge: Duration.hours(6) });
    // This region's events and those the forwarders send (they keep their region and fields).
    new events.Rule(stack, 'TaggingEvents', {
      description: 's3-dr: a bucket was created, tagged or untagged (protect or detach)',
      eventPattern: sourcePattern(TAGGING_EVENTS, stepRole.roleArn, config.drRegion),
      targets: [target(workflows.protect)],
    });
    new events.Rule(stack, 'DriftEvents', {
      description: 's3-dr: replication or versioning changed on a bucket (repair if still tagged)',
      eventPattern: sourcePattern(DRIFT_EVENTS, stepRole.roleArn, config.drRegion),
      targets: [target(workflows.protect)],
    });
    // Destination buckets: forwarded from the DR region, or this region's own when it is the DR
    // region.
    new events.Rule(stack, 'DestinationEvents', {
      description: 's3-dr: versioning changed on, or something deleted from, a destination bucket (repair)',
      eventPattern: destinationPattern(config.destinationSuffix, stepRole.roleArn),
      targets: [target(workflows.protect)],
    });
    new events.Rule(stack, 'SweepSchedule', {
      description: 's3-dr: the sweep, the safety net under the events',
      schedule: events.Schedule.expression(config.sweepSchedule),
      targets: [target(workflows.sweep, events.RuleTargetInput.fromObject({ requestedBy: 'schedule' }))],
    });
  }
}
