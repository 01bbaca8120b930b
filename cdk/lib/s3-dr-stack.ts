// The home-region stack, composed of one construct per part, each in its own file:
//
//   Roles          roles.ts           the roles S3 assumes (replication, Batch Replication)
//   StepLambda     step-lambda.ts     the step function: the Lambda, its role, its log group
//   Workflows      workflows.ts       one state machine per file under ../statemachine
//   Triggers       triggers.ts        the EventBridge rules, the sweep schedule, their dead letters
//   Observability  observability.ts   the alarm topic, alarms, the dashboard (and, in a source
//                                     region, the report bucket)
//
// The constructs make their resources in this stack's scope, under the ids they had when the stack
// was one constructor: a logical ID comes from the construct path, and a changed one would replace
// the deployed resource (a role, a log group, a bucket) on the next deploy. stack.test.ts pins them.

import { Stack, StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { S3DrConfig } from './config';
import { Observability } from './observability';
import { Roles } from './roles';
import { StepLambda } from './step-lambda';
import { Triggers } from './triggers';
import { Workflows } from './workflows';

export { lambdaEnvironment } from './lambda-environment';

export interface S3DrStackProps extends StackProps {
  readonly config: S3DrConfig;
}

export class S3DrStack extends Stack {
  readonly stepFunction: lambda.Function;
  readonly stateMachines: Record<string, sfn.StateMachine>;
  readonly replicationRole: iam.Role;
  readonly batchRole: iam.Role;
  readonly deadLetters: sqs.Queue;
  readonly topic: sns.Topic;
  /** This region's Batch Replication report bucket, when home is a source region and the stacks
   * make them. */
  readonly reportBucket?: s3.Bucket;
  /** Whether the step Lambda is the placeholder (lambdaAsset missing). */
  readonly placeholderLambda: boolean;

  constructor(scope: Construct, id: string, props: S3DrStackProps) {
    super(scope, id, props);
    const config = props.config;
    // In this order: it is the order of the resources in the template.
    const roles = new Roles(this, 'Roles', { config });
    const step = new StepLambda(this, 'StepLambda', { config, roles });
    const workflows = new Workflows(this, 'Workflows', { config, stepFunction: step.stepFunction });
    const triggers = new Triggers(this, 'Triggers', { config, workflows, stepRole: step.role });
    const observability = new Observability(this, 'Observability', {
      config, workflows, stepFunction: step.stepFunction, deadLetters: triggers.deadLetters,
    });

    this.replicationRole = roles.replicationRole;
    this.batchRole = roles.batchRole;
    this.stepFunction = step.stepFunction;
    this.placeholderLambda = step.placeholder;
    this.stateMachines = workflows.stateMachines;
    this.deadLetters = triggers.deadLetters;
    this.topic = observability.topic;
    this.reportBucket = observability.reportBucket;
  }
}
