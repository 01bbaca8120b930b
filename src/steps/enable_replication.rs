//! EnableReplication: upsert the one `s3-dr` rule, keep every other rule as it is.
//!
//! AWS calls: GetBucketReplication; PutBucketReplication only if the merge changed something.
//! A write that closes a gap (objects written meanwhile were not replicated) on a destination
//! where a backfill began first records the catch-up it owes (GetBucketTagging,
//! PutBucketTagging of `s3-dr:catch-up-owed`), so that a run that dies after the repair does not
//! leave those objects behind unnoticed: the next run, or the sweep, catches up.

use serde::Serialize;

use crate::backfill::owe_catch_up;
use crate::bucket;
use crate::error::DrError;
use crate::plan::{DestinationPlan, SourcePlan};
use crate::replication::{self, Merge, RULE_ID};
use crate::steps::StepContext;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub bucket: String,
    pub rule_id: &'static str,
    pub destination_arn: String,
    pub role: String,
    /// Rules of others on the same bucket, kept untouched.
    pub other_rules: usize,
    /// Why the configuration was written (empty when unchanged).
    pub reasons: Vec<String>,
    /// What left objects unreplicated before this run repaired it (a missing, disabled,
    /// filtered or misdirected rule): StartBackfill catches up on what was written meanwhile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap: Option<String>,
    pub changed: bool,
}

pub async fn run(
    context: &StepContext<'_>,
    plan: &SourcePlan,
    destination: &DestinationPlan,
) -> Result<Output, DrError> {
    let role = context.config.require_replication_role()?;
    let s3 = context.clients.s3(&plan.region);
    let spec = plan.rule_spec(destination, context.config);
    let existing = bucket::replication(&s3, &plan.bucket).await?;
    let other_rules = existing.as_ref().map_or(0, |c| c.rules().iter().filter(|r| !replication::is_ours(r)).count());
    let ours = existing.as_ref().and_then(|c| c.rules().iter().find(|r| replication::is_ours(r)));
    let gap = replication::replication_gap(ours, &spec);

    let reasons = match replication::merge(&plan.bucket, existing.as_ref(), role, &spec)? {
        Merge::Unchanged => Vec::new(),
        Merge::Write { reasons, .. } if context.dry_run => reasons,
        Merge::Write { configuration, reasons } => {
            if gap.is_some() && destination.exists && !context.dry_run {
                let dr = context.clients.s3(&destination.region);
                owe_catch_up(&dr, &destination.bucket).await?;
            }
            bucket::put_replication(&s3, &plan.bucket, configuration).await.map_err(versioning_not_yet_visible)?;
            reasons
        }
    };
    Ok(Output {
        bucket: plan.bucket.clone(),
        rule_id: RULE_ID,
        destination_arn: spec.destination_arn(),
        role: role.to_owned(),
        other_rules,
        // A rule that needed no write left nothing behind.
        gap: gap.filter(|_| !reasons.is_empty()),
        changed: !reasons.is_empty(),
        reasons,
    })
}

/// Versioning was enabled moments ago by earlier steps; S3 can take a while to see it, and
/// says so with InvalidRequest. Retrying is the fix.
fn versioning_not_yet_visible(error: DrError) -> DrError {
    match error {
        DrError::AwsRequestFailed { bucket, operation, code, message }
            if code == "InvalidRequest" && message.to_ascii_lowercase().contains("versioning") =>
        {
            DrError::TransientAwsError { bucket, operation, detail: format!("{code}: {message}") }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(code: &str, message: &str) -> DrError {
        DrError::AwsRequestFailed {
            bucket: "p".into(),
            operation: "PutBucketReplication",
            code: code.into(),
            message: message.into(),
        }
    }

    #[test]
    fn versioning_not_yet_visible_is_transient_other_invalid_requests_are_not() {
        let lag =
            failed("InvalidRequest", "Versioning must be 'Enabled' on the bucket to apply a replication configuration");
        assert_eq!(versioning_not_yet_visible(lag).error_type(), "TransientAwsError");
        let other = failed("InvalidRequest", "Priority must be unique");
        assert_eq!(versioning_not_yet_visible(other.clone()), other);
        let malformed = failed("MalformedXML", "versioning");
        assert_eq!(versioning_not_yet_visible(malformed.clone()), malformed);
    }
}
