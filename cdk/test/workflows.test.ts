// The workflows (lib/workflows.ts): one state machine per file under statemachine/, deployed as
// written.

import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { STATEMACHINE_DIR, statemachineStems } from '../lib/workflows';
import { EVERY_OPTION, synth } from './helpers';

const home = synth(EVERY_OPTION).home;

describe('the state machines', () => {
  it('are every file under statemachine/, inline, with the Lambda ARN substituted and full logging', () => {
    const stems = statemachineStems();
    assert.deepEqual(stems, ['detach-bucket', 'failback-bucket', 'failover-bucket', 'protect-bucket', 'sweep', 'verify-bucket']);
    home.resourceCountIs('AWS::StepFunctions::StateMachine', stems.length);
    for (const stem of stems) {
      home.hasResourceProperties('AWS::StepFunctions::StateMachine', {
        StateMachineName: `s3-dr-${stem}`,
        DefinitionString: readFileSync(path.join(STATEMACHINE_DIR, `${stem}.asl.json`), 'utf8'),
        DefinitionSubstitutions: { ProtectFunctionArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^StepFunction'), 'Arn'] } },
        LoggingConfiguration: Match.objectLike({ Level: 'ALL' }),
      });
    }
  });
});
