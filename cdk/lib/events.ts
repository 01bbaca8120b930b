// The CloudTrail events s3-dr reacts to, as EventBridge patterns. The home stack routes them to
// the protect workflow (whose first step decides from the bucket's current state); every other
// source region forwards the same events to the home bus.

export const TAGGING_EVENTS = ['PutBucketTagging', 'DeleteBucketTagging'];
export const DRIFT_EVENTS = ['PutBucketReplication', 'DeleteBucketReplication', 'PutBucketVersioning'];

export function cloudTrailPattern(eventNames: string[]) {
  return {
    source: ['aws.s3'],
    detailType: ['AWS API Call via CloudTrail'],
    detail: { eventSource: ['s3.amazonaws.com'], eventName: eventNames },
  };
}
