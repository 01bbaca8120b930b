// The CloudTrail events s3-dr reacts to, as EventBridge patterns. The home stack routes them to
// the protect workflow (whose first step decides from the bucket's current state); every other
// source region forwards the same events to the home bus.

export const TAGGING_EVENTS = ['PutBucketTagging', 'DeleteBucketTagging'];
export const DRIFT_EVENTS = ['PutBucketReplication', 'DeleteBucketReplication', 'PutBucketVersioning'];

/** The step Lambda's role, by its fixed name: every stack (the forwarders too) can name it. */
export function stepRoleName(homeRegion: string): string {
  return `s3-dr-step-${homeRegion}`;
}

/**
 * The events named, except those the step Lambda's own calls cause (its PutBucketReplication,
 * tag and versioning writes come back through CloudTrail: acting on them would start a run
 * racing the one that made them). A call made without a role session (an IAM user, root) has
 * no `sessionIssuer` and is kept (`$or` with `exists: false`,
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html).
 * The Lambda ignores such events too (S3DR_STEP_ROLE_ARN); this keeps them from starting an
 * execution at all.
 */
export function cloudTrailPattern(eventNames: string[], stepRoleArn: string) {
  const issuer = (match: unknown) => ({ userIdentity: { sessionContext: { sessionIssuer: { arn: [match] } } } });
  return {
    source: ['aws.s3'],
    detailType: ['AWS API Call via CloudTrail'],
    detail: {
      eventSource: ['s3.amazonaws.com'],
      eventName: eventNames,
      $or: [issuer({ 'anything-but': stepRoleArn }), issuer({ exists: false })],
    },
  };
}
