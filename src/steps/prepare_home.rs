//! PrepareHome: ready the source to take the writes made in DR back. Versioning on (a copy home
//! must never replace an unversioned object: it would be lost), and the source's `s3-dr`
//! replication rule removed for the length of the failback (other rules kept): while it is
//! there, each copy home would replicate back to DR and could land on top of a newer write the
//! application makes there meanwhile. FinishFailback's protect run puts the rule back, and its
//! catch-up takes to DR what was written at home in between.
//!
//! AWS calls: PutBucketVersioning if the source's versioning (ValidateFailback read it) is not
//! Enabled; GetBucketReplication, then PutBucketReplication (other rules kept) or
//! DeleteBucketReplication, only if the rule is there.

use serde::Serialize;

use crate::bucket;
use crate::detach::{remove_our_rule, RuleRemoval};
use crate::error::DrError;
use crate::failback::Plan;
use crate::steps::StepContext;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub enabled_versioning: bool,
    /// `removed rule`, `deleted configuration` or `no s3-dr rule`.
    pub replication: &'static str,
    pub summary: String,
    pub changed: bool,
}

pub async fn run(context: &StepContext<'_>, plan: &Plan) -> Result<Output, DrError> {
    let source = context.clients.s3(&plan.source_region);
    let enable = plan.source_versioning != "Enabled";
    let replication = bucket::replication(&source, &plan.bucket).await?;
    let removal = remove_our_rule(replication.as_ref());
    if !context.dry_run {
        if enable {
            bucket::put_versioning_enabled(&source, &plan.bucket).await?;
        }
        removal.apply(&source, &plan.bucket).await?;
    }
    let replication = removal.result();
    let absent = removal == RuleRemoval::Absent;
    Ok(Output {
        enabled_versioning: enable,
        replication,
        summary: format!(
            "{}: {}versioning Enabled, s3-dr rule {} until failback ends",
            plan.bucket,
            if enable { "turned " } else { "" },
            if absent { "absent" } else { "removed" }
        ),
        changed: enable || !absent,
    })
}
