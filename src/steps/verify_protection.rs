//! VerifyProtection: read back what the earlier steps set and fail loudly if any is missing.
//!
//! AWS calls: GetBucketVersioning (source and destination) and GetBucketReplication,
//! concurrently. Writes nothing. Settings CloneSettings reported as failed make the run fail
//! here, with `SettingsNotCloned`, once replication and the backfill are in place.
//!
//! The result also says what the DR copy holds: the backfill's outcome (copied, already
//! there, not replicable and why, failed), and a warning for objects S3 cannot copy, so a
//! protected bucket with such objects does not read as a silent "protected".

use serde::Serialize;

use crate::backfill::state::NotReplicable;
use crate::backfill::{Progress, Scope, Strategy};
use crate::bucket;
use crate::error::DrError;
use crate::plan::{DestinationPlan, SourcePlan};
use crate::replication::{is_ours, rule_drift, RULE_ID};
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
    /// What the backfill of this run did (absent if the workflow ran none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backfill: Option<BackfillOutcome>,
    /// What a person should know although the bucket is protected.
    pub warnings: Vec<String>,
    /// "protected", or "protected, 3 objects not replicable (e.g. ...)".
    pub summary: String,
    pub changed: bool,
}

/// The backfill's outcome, as this run saw it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackfillOutcome {
    pub strategy: Option<Strategy>,
    pub scope: Scope,
    pub summary: String,
    pub objects_copied: u64,
    pub objects_skipped: u64,
    pub objects_not_replicable: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_replicable: Vec<String>,
    pub objects_failed: u64,
}

impl BackfillOutcome {
    pub fn of(progress: &Progress) -> BackfillOutcome {
        BackfillOutcome {
            strategy: progress.strategy,
            scope: progress.scope,
            summary: progress.summary.clone(),
            objects_copied: progress.objects_copied,
            objects_skipped: progress.objects_skipped,
            objects_not_replicable: progress.objects_not_replicable,
            not_replicable: progress.not_replicable.clone(),
            objects_failed: progress.objects_failed,
        }
    }
}

/// What the DR copy lacks: this run's count of objects S3 cannot copy, or, when this run did
/// not look at every object (nothing to backfill, a catch-up job), what the destination
/// remembers from the last count.
pub fn not_replicable(backfill: Option<&Progress>, remembered: Option<&NotReplicable>) -> Option<NotReplicable> {
    let counted = backfill
        .filter(|p| p.not_needed.is_none() && (p.strategy == Some(Strategy::Copy) || p.objects_not_replicable > 0));
    match counted {
        Some(progress) => Some(progress.not_replicable_tag()),
        None => remembered.cloned(),
    }
    .filter(|found| found.count > 0)
}

/// Warnings about the DR copy from the backfill's outcome.
pub fn warnings(
    bucket: &str,
    destination: &str,
    backfill: Option<&Progress>,
    missing: Option<&NotReplicable>,
) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Some(found) = missing {
        warnings.push(format!(
            "{} objects of {bucket} are not in {destination} because S3 cannot copy them (e.g. {}): restore archived objects (or re-upload SSE-C objects with SSE-S3 or SSE-KMS), then run with \"backfill\": \"force\"",
            found.count,
            found.example.as_deref().unwrap_or("none listed")
        ));
    }
    if let Some(progress) = backfill.filter(|p| p.scope == Scope::CatchUp && p.strategy == Some(Strategy::Batch)) {
        warnings.push(format!(
            "the catch-up Batch Replication job {} ran while {destination}'s lifecycle rules were active; AWS advises disabling lifecycle expiry during a Batch Replication job (a delete marker replicated before its object versions may expire): check that no object of {bucket} expired on the destination",
            progress.job_id.as_deref().unwrap_or("(unknown)")
        ));
    }
    warnings
}

pub async fn run(
    context: &StepContext<'_>,
    plan: &SourcePlan,
    destination: &DestinationPlan,
    settings: Option<&clone_settings::Output>,
    backfill: Option<&Progress>,
    remembered: Option<&NotReplicable>,
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
    match replication.as_ref().and_then(|c| c.rules().iter().find(|r| is_ours(r))) {
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
    let missing = not_replicable(backfill, remembered);
    Ok(Output {
        bucket: plan.bucket.clone(),
        protected: true,
        source_versioning,
        destination: destination.bucket.clone(),
        destination_region: destination.region.clone(),
        destination_versioning,
        rule: "present and matching",
        backfill: backfill.map(BackfillOutcome::of),
        warnings: warnings(&plan.bucket, &destination.bucket, backfill, missing.as_ref()),
        summary: crate::status::protected_summary(missing.as_ref()),
        changed: false,
    })
}
