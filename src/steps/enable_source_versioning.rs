//! EnableSourceVersioning: replication needs a versioned source.
//!
//! AWS calls: PutBucketVersioning only if not Enabled (after a suspension, first the catch-up it
//! owes on the destination: GetBucketTagging, PutBucketTagging). ValidateSource read the
//! versioning with its other reads; GetBucketVersioning here only for a plan without it.

use serde::Serialize;

use crate::backfill::owe_catch_up;
use crate::bucket;
use crate::error::DrError;
use crate::plan::SourcePlan;
use crate::steps::StepContext;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub bucket: String,
    pub versioning: &'static str,
    /// What it was before this step: Enabled, Suspended or Off.
    pub previous: String,
    pub changed: bool,
}

pub async fn run(context: &StepContext<'_>, plan: &SourcePlan) -> Result<Output, DrError> {
    let s3 = context.clients.s3(&plan.region);
    let previous = match &plan.source_versioning {
        Some(read) => read.clone(),
        None => bucket::versioning(&s3, &plan.bucket).await?,
    };
    let changed = previous != "Enabled";
    if changed && !context.dry_run {
        // Suspended: objects written meanwhile were not replicated. Owed first, then repaired.
        if let Some(destination) = plan.destination.as_ref().filter(|d| d.exists && previous == "Suspended") {
            owe_catch_up(&context.clients.s3(&destination.region), &destination.bucket).await?;
        }
        bucket::put_versioning_enabled(&s3, &plan.bucket).await?;
    }
    Ok(Output { bucket: plan.bucket.clone(), versioning: "Enabled", previous, changed })
}
