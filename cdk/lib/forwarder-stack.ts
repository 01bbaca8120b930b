// A region other than home whose S3 events s3-dr needs: forward them to the home region's default
// event bus, where the home stack's rules pick them up (forwarded events keep their fields:
// source, detail-type, region, detail).
// - kind 'source': a source region; its tagging and drift events. It also has the region's
//   Batch Replication report bucket and the alarm on S3's replication failures.
// - kind 'destination': the DR region; versioning changes and deletions on destination buckets.

import { Duration, Stack, StackProps, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { alarmTopic } from './alarm-topic';
import { S3DrConfig } from './config';
import { cloudTrailPattern, destinationPattern, DRIFT_EVENTS, stepRoleName, TAGGING_EVENTS } from './events';
import { replicationFailedAlarm, reportBucket, s3drAlarm } from './source-region';

export type ForwarderKind = 'source' | 'destination';

export interface ForwarderStackProps extends StackProps {
  readonly config: S3DrConfig;
  /** @default 'source' */
  readonly kind?: ForwarderKind;
}

export class ForwarderStack extends Stack {
  readonly kind: ForwarderKind;
  readonly topic: sns.Topic;
  readonly reportBucket?: s3.Bucket;

  constructor(scope: Construct, id: string, props: ForwarderStackProps) {
    super(scope, id, props);
    const config = props.config;
    this.kind = props.kind ?? 'source';
    const homeBus = events.EventBus.fromEventBusArn(
      this,
      'HomeBus',
      this.formatArn({ service: 'events', region: config.homeRegion, resource: 'event-bus', resourceName: 'default' }),
    );
    const deadLetters = new sqs.Queue(this, 'ForwardDeadLetters', {
      retentionPeriod: Duration.days(14),
      enforceSSL: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
    });
    Validations.of(deadLetters).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'This queue is the dead-letter queue of the forwarding target.' });
    // The step role by its fixed name: another stack's role ARN cannot be referenced here.
    const stepRole = this.formatArn({ service: 'iam', region: '', resource: 'role', resourceName: stepRoleName(config.homeRegion) });
    new events.Rule(this, 'ForwardToHome', {
      description: this.kind === 'source'
        ? `s3-dr: S3 tagging, replication and versioning events of ${this.region} to ${config.homeRegion}`
        : `s3-dr: versioning changes and deletions on destination buckets (*${config.destinationSuffix}) of ${this.region} to ${config.homeRegion}`,
      eventPattern: this.kind === 'source'
        ? cloudTrailPattern([...TAGGING_EVENTS, ...DRIFT_EVENTS], stepRole)
        : destinationPattern(config.destinationSuffix, stepRole),
      targets: [new targets.EventBus(homeBus, { deadLetterQueue: deadLetters })],
    });
    this.topic = alarmTopic(this, config.alarmEmail);
    s3drAlarm(this, 'ForwardDeadLettersAlarm',
      deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      `s3-dr: events of ${this.region} could not be forwarded to ${config.homeRegion}`, this.topic);
    // S3 publishes OperationsFailedReplication in the source bucket's region only (see
    // replicationFailedAlarm): the DR region's forwarder has no such alarm.
    if (this.kind === 'source') replicationFailedAlarm(this, config, this.topic);
    // The DR region's too: S3 delivers the destinations' inventories only within their region.
    this.reportBucket = reportBucket(this, config);
  }
}
