import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

/** An encrypted SNS topic that CloudWatch alarms can publish to, with an optional email. */
export function alarmTopic(scope: Construct, email: string | undefined): sns.Topic {
  const key = new kms.Key(scope, 'AlarmTopicKey', {
    description: `s3-dr alarm topic encryption (${Stack.of(scope).stackName})`,
    enableKeyRotation: true,
    pendingWindow: Duration.days(7),
  });
  // CloudWatch publishes alarm notifications to the encrypted topic with this key.
  key.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
  const topic = new sns.Topic(scope, 'AlarmTopic', { displayName: 's3-dr alarms', masterKey: key, enforceSSL: true });
  if (email) {
    topic.addSubscription(new subscriptions.EmailSubscription(email));
  }
  return topic;
}
