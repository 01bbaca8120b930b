import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

/**
 * What CloudWatch may do for this account's alarms in this region only (confused-deputy
 * protection, https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html): the
 * alarm's account in aws:SourceAccount, its ARN in aws:SourceArn.
 */
export function fromThisAccountsAlarms(scope: Construct) {
  const stack = Stack.of(scope);
  return {
    StringEquals: { 'aws:SourceAccount': stack.account },
    ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
  };
}

/** An encrypted SNS topic that CloudWatch alarms can publish to, with an optional email. */
export function alarmTopic(scope: Construct, email: string | undefined): sns.Topic {
  const cloudWatch = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
  const key = new kms.Key(scope, 'AlarmTopicKey', {
    description: `s3-dr alarm topic encryption (${Stack.of(scope).stackName})`,
    enableKeyRotation: true,
    // Scheduled for deletion with its stack (CDK's default, RETAIN, left an orphan key costing
    // $1/month per destroyed stack: https://aws.amazon.com/kms/pricing/): it only encrypts alarm
    // notifications, which nothing reads once the topic is gone.
    removalPolicy: RemovalPolicy.DESTROY,
    pendingWindow: Duration.days(7),
  });
  // CloudWatch publishes alarm notifications to the encrypted topic with this key
  // (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services),
  // for this account's alarms only. Not pinned to the topic by kms:EncryptionContext:aws:sns:topicArn:
  // the topic's ARN in the key policy would be a cycle (the topic names the key), or need a fixed
  // topic name (a replaced topic, email subscriptions to confirm again).
  key.addToResourcePolicy(new iam.PolicyStatement({
    sid: 'CloudWatchAlarmsOfThisAccount',
    principals: [cloudWatch],
    actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
    resources: ['*'],
    conditions: fromThisAccountsAlarms(scope),
  }));
  // enforceSSL writes a topic policy, which replaces SNS's default one (the account's principals
  // may publish): CloudWatch has to be allowed in it, or no alarm is ever delivered
  // (https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html).
  const topic = new sns.Topic(scope, 'AlarmTopic', { displayName: 's3-dr alarms', masterKey: key, enforceSSL: true });
  topic.addToResourcePolicy(new iam.PolicyStatement({
    sid: 'CloudWatchAlarmsPublish',
    principals: [cloudWatch],
    actions: ['sns:Publish'],
    resources: [topic.topicArn],
    conditions: fromThisAccountsAlarms(scope),
  }));
  if (email) {
    topic.addSubscription(new subscriptions.EmailSubscription(email));
  }
  return topic;
}
