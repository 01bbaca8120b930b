// The workflows: one state machine per file under ../statemachine, deployed as written with the
// step Lambda's ARN substituted (ProtectFunctionArn), each logging everything to its own log
// group, and its ARN an output of the stack.

import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ArnFormat, CfnOutput, Stack, Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { S3DrConfig } from './config';
import { keptLogGroup } from './log-groups';

export const STATEMACHINE_DIR = path.join(__dirname, '..', '..', 'statemachine');

/** `protect-bucket.asl.json` -> `protect-bucket`, for every state machine file. */
export function statemachineStems(dir = STATEMACHINE_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.asl.json'))
    .map((f) => f.slice(0, -'.asl.json'.length))
    .sort();
}

/** The step names the state machines invoke (each Task's Payload.step). */
export function stepNames(dir = STATEMACHINE_DIR): string[] {
  const names = new Set<string>();
  for (const stem of statemachineStems(dir)) {
    const asl = JSON.parse(readFileSync(path.join(dir, `${stem}.asl.json`), 'utf8'));
    for (const state of Object.values<any>(asl.States)) {
      if (state.Type === 'Task' && state.Parameters?.Payload?.step) names.add(state.Parameters.Payload.step);
    }
  }
  return [...names];
}

/** The state machine's fixed name: `protect-bucket` -> `s3-dr-protect-bucket`. */
export function workflowName(stem: string): string {
  return `s3-dr-${stem}`;
}

/** The state machine's ARN, from its fixed name: so the Lambda can know the ARNs of the workflows
 * it starts without a dependency cycle (each state machine's definition names the Lambda). */
export function workflowArn(stack: Stack, stem: string): string {
  return stack.formatArn({ service: 'states', resource: 'stateMachine', resourceName: workflowName(stem), arnFormat: ArnFormat.COLON_RESOURCE_NAME });
}

export interface WorkflowsProps {
  readonly config: S3DrConfig;
  /** The step Lambda, which every Task invokes. */
  readonly stepFunction: lambda.Function;
}

/** One state machine per file. Its resources are the stack's children (see S3DrStack). */
export class Workflows extends Construct {
  /** By stem (`protect-bucket`, `detach-bucket`, `sweep`). */
  readonly stateMachines: Record<string, sfn.StateMachine> = {};
  /** What every event starts (triggers.ts). */
  readonly protect: sfn.StateMachine;
  /** The safety net under the events, on a schedule (triggers.ts). */
  readonly sweep: sfn.StateMachine;

  constructor(stack: Stack, id: string, props: WorkflowsProps) {
    super(stack, id);
    const { config, stepFunction } = props;
    for (const stem of statemachineStems()) {
      const definition = readFileSync(path.join(STATEMACHINE_DIR, `${stem}.asl.json`), 'utf8');
      const machine = new sfn.StateMachine(stack, `StateMachine-${stem}`, {
        stateMachineName: workflowName(stem),
        definitionBody: sfn.DefinitionBody.fromString(definition),
        definitionSubstitutions: { ProtectFunctionArn: stepFunction.functionArn },
        logs: {
          destination: keptLogGroup(stack, `StateMachineLogs-${stem}`, config),
          level: sfn.LogLevel.ALL,
          includeExecutionData: true,
        },
        tracingEnabled: config.xrayTracing,
      });
      stepFunction.grantInvoke(machine);
      Validations.of(machine).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'CloudWatch Logs log delivery (logs:CreateLogDelivery and the rest) for the state machine\'s own log group accepts only Resource "*".',
      }, {
        id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(stepFunction.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
        reason: 'CDK grants invoke on the function and its versions; the state machine invokes only the s3-dr step Lambda.',
      });
      if (!config.xrayTracing) {
        Validations.of(machine).acknowledge({ id: 'AwsSolutions-SF2', reason: 'X-Ray tracing is a configuration choice (xrayTracing), off by default for cost; execution history and logs cover the workflow.' });
      }
      this.stateMachines[stem] = machine;
      new CfnOutput(stack, `StateMachineArn-${stem}`, { value: machine.stateMachineArn });
    }
    this.protect = this.stateMachines['protect-bucket'];
    this.sweep = this.stateMachines['sweep'];
  }
}
