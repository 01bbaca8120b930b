//! DetachReplication: remove the `s3-dr` rule and nothing else. If it was the only rule, the
//! replication configuration is deleted (S3 refuses one without rules). Versioning stays on:
//! turning it off is not s3-dr's call.
//!
//! AWS calls: GetBucketReplication; then PutBucketReplication (other rules kept) or
//! DeleteBucketReplication, only if the rule is there.

use serde::Serialize;

use crate::bucket;
use crate::detach::remove_our_rule;
use crate::detach::DetachPlan;
use crate::error::DrError;
use crate::steps::StepContext;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub bucket: String,
    /// `removed rule`, `deleted configuration` or `no s3-dr rule`.
    pub result: &'static str,
    pub other_rules: usize,
    pub changed: bool,
}

pub async fn run(context: &StepContext<'_>, plan: &DetachPlan) -> Result<Output, DrError> {
    let bucket = plan.bucket.as_str();
    let s3 = context.clients.s3(&plan.region);
    let replication = bucket::replication(&s3, bucket).await?;
    let other_rules =
        replication.as_ref().map_or(0, |c| c.rules().iter().filter(|r| !crate::replication::is_ours(r)).count());
    let removal = remove_our_rule(replication.as_ref());
    removal.apply(&s3, bucket).await?;
    let result = removal.result();
    Ok(Output { bucket: bucket.to_owned(), result, other_rules, changed: result != "no s3-dr rule" })
}
