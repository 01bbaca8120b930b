// Redeploy after a failed or destroyed stack: no log group has a fixed name (a retained one made
// the next deploy fail, "already exists"); all are kept on delete and replacement, and deleted
// only when the creation that made them rolls back.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { synth } from './helpers';

describe('log groups', () => {
  it('have generated names and RetainExceptOnCreate/Retain policies, in every stack', () => {
    let count = 0;
    for (const built of [synth({ replicationTimeControl: true }), synth({ backfill: 'copy', sourceRegions: ['us-east-1'] })]) {
      for (const { stack, template } of built.templates) {
        for (const [id, group] of Object.entries<any>(template.findResources('AWS::Logs::LogGroup'))) {
          count++;
          assert.equal(group.Properties?.LogGroupName, undefined, `${stack.stackName}/${id} has a fixed name`);
          // RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE: retained, except when its creation fails.
          assert.deepEqual([group.DeletionPolicy, group.UpdateReplacePolicy], ['RetainExceptOnCreate', 'Retain'], `${stack.stackName}/${id}`);
        }
      }
    }
    // The Lambda's and the six state machines', in each home stack.
    assert.equal(count, 14);
  });
});
