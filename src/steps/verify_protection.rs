//! VerifyProtection: read back what the earlier steps set and fail loudly if any is missing.
//!
//! AWS calls: GetBucketVersioning (source and destination) and GetBucketReplication,
//! concurrently. Writes nothing. Settings CloneSettings reported as failed make the run fail
//! here, with `SettingsNotCloned`, once replication and the backfill are in place.

use serde::Serialize;

use crate::bucket;
use crate::error::DrError;
use crate::plan::{DestinationPlan, SourcePlan};
use crate::replication::{rule_drift, RULE_ID};
use crate::steps::{clone_settings, StepContext};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub bucket: String,
    pub protected: bool,
    pub source_versioning: String,
    pub destination: String,
    pub destination_region: String,
    pub destination_versioning: String,
    pub rule: &'static str,
    pub changed: bool,
}

pub async fn run(
    context: &StepContext<'_>,
    plan: &SourcePlan,
    destination: &DestinationPlan,
    settings: Option<&clone_settings::Output>,
) -> Result<Output, DrError> {
    let source = context.clients.s3(&plan.region);
    let dr = context.clients.s3(&destination.region);
    let (source_versioning, destination_versioning, replication) = tokio::try_join!(
        bucket::versioning(&source, &plan.bucket),
        bucket::versioning(&dr, &destination.bucket),
        bucket::replication(&source, &plan.bucket),
    )?;

    let mut problems = Vec::new();
    if source_versioning != "Enabled" {
        problems.push(format!("source versioning is {source_versioning}"));
    }
    if destination_versioning != "Enabled" {
        problems.push(format!("destination {} versioning is {destination_versioning}", destination.bucket));
    }
    let spec = plan.rule_spec(destination, context.config);
    match replication.as_ref().and_then(|c| c.rules().iter().find(|r| r.id() == Some(RULE_ID))) {
        None => problems.push(format!("replication rule {RULE_ID} is missing")),
        Some(rule) => problems.extend(rule_drift(rule, &spec)),
    }
    if !problems.is_empty() {
        return Err(DrError::VerificationFailed { bucket: plan.bucket.clone(), problems: problems.join("; ") });
    }
    // The data is protected; settings that did not copy are still worth failing the run for.
    if let Some(failures) = settings.and_then(clone_settings::Output::failures) {
        return Err(DrError::SettingsNotCloned {
            bucket: plan.bucket.clone(),
            destination: destination.bucket.clone(),
            failures,
        });
    }
    Ok(Output {
        bucket: plan.bucket.clone(),
        protected: true,
        source_versioning,
        destination: destination.bucket.clone(),
        destination_region: destination.region.clone(),
        destination_versioning,
        rule: "present and matching",
        changed: false,
    })
}
