// A source region other than home: forward the CloudTrail events s3-dr reacts to, to the home
// region's default event bus, where the home stack's rules pick them up.

import { Duration, Stack, StackProps, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { alarmTopic } from './alarm-topic';
import { S3DrConfig } from './config';
import { cloudTrailPattern, DRIFT_EVENTS, stepRoleName, TAGGING_EVENTS } from './events';

export interface ForwarderStackProps extends StackProps {
  readonly config: S3DrConfig;
}

export class ForwarderStack extends Stack {
  constructor(scope: Construct, id: string, props: ForwarderStackProps) {
    super(scope, id, props);
    const homeBus = events.EventBus.fromEventBusArn(
      this,
      'HomeBus',
      this.formatArn({ service: 'events', region: props.config.homeRegion, resource: 'event-bus', resourceName: 'default' }),
    );
    const deadLetters = new sqs.Queue(this, 'ForwardDeadLetters', {
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
    });
    Validations.of(deadLetters).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'This queue is the dead-letter queue of the forwarding target.' });
    new events.Rule(this, 'ForwardToHome', {
      description: `s3-dr: S3 tagging, replication and versioning events of ${this.region} to ${props.config.homeRegion}`,
      eventPattern: cloudTrailPattern(
        [...TAGGING_EVENTS, ...DRIFT_EVENTS],
        this.formatArn({ service: 'iam', region: '', resource: 'role', resourceName: stepRoleName(props.config.homeRegion) }),
      ),
      targets: [new targets.EventBus(homeBus, { deadLetterQueue: deadLetters })],
    });
    const topic = alarmTopic(this, props.config.alarmEmail);
    const alarm = new cloudwatch.Alarm(this, 'ForwardDeadLettersAlarm', {
      metric: deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `s3-dr: events of ${this.region} could not be forwarded to ${props.config.homeRegion}`,
    });
    alarm.addAlarmAction(new cloudwatchActions.SnsAction(topic));
  }
}
