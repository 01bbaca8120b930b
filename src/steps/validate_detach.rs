//! ValidateDetach: decide, by reading only, whether a bucket is to be detached: it exists, it
//! is not tagged (any more), and something of s3-dr's is left (the rule, or an unmarked
//! destination).
//!
//! AWS calls: GetBucketLocation, then GetBucketTagging and GetBucketReplication concurrently,
//! then GetBucketLocation of the destination.

use serde_json::Value;

use crate::bucket;
use crate::detach::destination_of_rule;
use crate::detach::DetachPlan;
use crate::error::DrError;
use crate::event::parse_trigger;
use crate::naming;
use crate::replication::is_ours;
use crate::steps::StepContext;

pub async fn run(context: &StepContext<'_>, input: &Value) -> Result<DetachPlan, DrError> {
    let config = context.config;
    let bucket = parse_trigger(input)?.bucket().to_owned();
    let home = context.clients.s3(&context.clients.home_region());
    let mut plan = DetachPlan {
        action: "skip".to_owned(),
        bucket: bucket.clone(),
        region: String::new(),
        reason: None,
        has_rule: false,
        destination: None,
        destination_region: None,
        changed: false,
    };
    let Some(region) = bucket::region(&home, &bucket).await? else {
        plan.reason = Some(format!("bucket {bucket} no longer exists"));
        return Ok(plan);
    };
    plan.region = region.clone();
    let source = context.clients.s3(&region);
    let (tags, replication) = tokio::try_join!(bucket::tags(&source, &bucket), bucket::replication(&source, &bucket))?;
    if config.match_tag.matches(&tags) {
        plan.reason = Some(format!("bucket {bucket} is tagged {} again: it stays protected", config.match_tag));
        return Ok(plan);
    }
    plan.has_rule = replication.as_ref().is_some_and(|c| c.rules().iter().any(is_ours));
    let destination = destination_of_rule(replication.as_ref())
        .unwrap_or_else(|| naming::destination_bucket_name(&bucket, &config.destination_suffix));
    plan.destination_region = bucket::region(&home, &destination).await?;
    if plan.destination_region.is_some() {
        plan.destination = Some(destination);
    }
    if !plan.has_rule && plan.destination.is_none() {
        plan.reason = Some(format!("bucket {bucket} has no s3-dr rule and no destination: nothing to detach"));
        return Ok(plan);
    }
    plan.action = "detach".to_owned();
    Ok(plan)
}
