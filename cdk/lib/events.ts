// The CloudTrail events s3-dr reacts to, as EventBridge patterns. The home stack routes them to
// the protect workflow (whose first step decides from the bucket's current state); every other
// source region forwards the tagging and drift events to the home bus, and the DR region forwards
// the destination events. The Lambda mirrors these lists (src/): keep them in step.
//
// CloudTrail logs the bucket-level S3 API and the S3 Control API calls on general purpose buckets
// with eventSource "s3.amazonaws.com" (directory buckets use s3express.amazonaws.com); AWS shows
// S3 Control events (Batch Operations jobs) with that source in
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-examples-event-bridge-cloud-trail.html
// and lists S3's CloudTrail events in
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-s3-info.html
// (neither page names TagResource explicitly).

/**
 * A bucket's tags changed, or a bucket was created (CreateBucket can carry tags:
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html). Once ABAC is enabled on
 * a bucket, its tags can be changed only with the S3 Control TagResource/UntagResource
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketAbac.html); their
 * requestParameters name the bucket by its ARN (resourceArn), not bucketName.
 *
 * EventBridge's `exists` matches leaf fields only
 * (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html#eb-filtering-exists-matching),
 * so CreateBucket events cannot be filtered by "has tags": all of them are routed, and the
 * protect workflow's first step reads the bucket's tags and does nothing for an untagged bucket.
 */
export const TAGGING_EVENTS = ['PutBucketTagging', 'DeleteBucketTagging', 'CreateBucket', 'TagResource', 'UntagResource'];
/** A source bucket's replication or versioning changed: repaired if it is still tagged. */
export const DRIFT_EVENTS = ['PutBucketReplication', 'DeleteBucketReplication', 'PutBucketVersioning'];
/** On a destination bucket (DR region, name ends with the suffix): its versioning changed, or it
 * (or one of its settings) was deleted. */
export const DESTINATION_EVENTS = ['PutBucketVersioning'];
/** ...and every event whose name starts with this (DeleteBucket, DeleteBucketPolicy, ...). */
export const DESTINATION_EVENT_PREFIX = 'DeleteBucket';

/** The step Lambda's role, by its fixed name: every stack (the forwarders too) can name it. */
export function stepRoleName(homeRegion: string): string {
  return `s3-dr-step-${homeRegion}`;
}

/** An EventBridge match for an eventName: the name itself, or a prefix rule. */
export type EventNameMatch = string | { prefix: string };

/**
 * The events named, except those the step Lambda's own calls cause (its PutBucketReplication,
 * tag and versioning writes come back through CloudTrail: acting on them would start a run
 * racing the one that made them). A call made without a role session (an IAM user, root) has
 * no `sessionIssuer` and is kept (`$or` with `exists: false`,
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html).
 * The Lambda ignores such events too (S3DR_STEP_ROLE_ARN); this keeps them from starting an
 * execution at all.
 *
 * `extra` adds top-level fields (e.g. `region`) and `requestParameters` narrows the detail.
 */
export function cloudTrailPattern(
  eventNames: EventNameMatch[],
  stepRoleArn: string,
  options: { requestParameters?: Record<string, unknown>; region?: unknown[] } = {},
) {
  const issuer = (match: unknown) => ({ userIdentity: { sessionContext: { sessionIssuer: { arn: [match] } } } });
  return {
    source: ['aws.s3'],
    detailType: ['AWS API Call via CloudTrail'],
    // EventPattern types `region` as string[]; EventBridge takes matchers there as in detail.
    ...(options.region ? { region: options.region as string[] } : {}),
    detail: {
      eventSource: ['s3.amazonaws.com'],
      eventName: eventNames,
      ...(options.requestParameters ? { requestParameters: options.requestParameters } : {}),
      $or: [issuer({ 'anything-but': stepRoleArn }), issuer({ exists: false })],
    },
  };
}

/** Tagging and drift events of the source regions. Events of the DR region are left out: the
 * only ones that reach the home bus are the destination events the DR forwarder sends, and the
 * destination rule handles them (without this, a forwarded PutBucketVersioning or
 * DeleteBucketTagging on a destination would start two executions). When the DR region is home,
 * its own events are left out the same way (it cannot be a source region). */
export function sourcePattern(eventNames: EventNameMatch[], stepRoleArn: string, drRegion: string) {
  return cloudTrailPattern(eventNames, stepRoleArn, { region: [{ 'anything-but': drRegion }] });
}

/** Events on destination buckets (named `<source><suffix>`), from any region. */
export function destinationPattern(destinationSuffix: string, stepRoleArn: string) {
  return cloudTrailPattern([...DESTINATION_EVENTS, { prefix: DESTINATION_EVENT_PREFIX }], stepRoleArn, {
    requestParameters: { bucketName: [{ suffix: destinationSuffix }] },
  });
}
