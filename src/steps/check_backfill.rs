//! CheckBackfill: one turn of the backfill loop. `copy`: copy the next page of objects.
//! `batch`: ask S3 how the job is doing. The state machine loops (with a Wait for `batch`)
//! until `done`; the progress travels in the state, so the loop survives retries.

use serde_json::Value;

use crate::backfill::copy::{copy_page, CopyJob};
use crate::backfill::{batch, Progress, Strategy};
use crate::bucket;
use crate::detach::today;
use crate::error::DrError;
use crate::plan::{DestinationPlan, SourcePlan};
use crate::settings::BACKFILL_TAG;
use crate::steps::ensure_destination::put_tags;
use crate::steps::StepContext;
use crate::tags::Tag;

pub async fn run(
    context: &StepContext<'_>,
    plan: &SourcePlan,
    destination: &DestinationPlan,
    input: &Value,
) -> Result<Progress, DrError> {
    let mut progress = previous_progress(input)?;
    progress.changed = false;
    if progress.done {
        return Ok(progress);
    }
    let config = context.config;
    match progress.strategy {
        Some(Strategy::Copy) => {
            let source = context.clients.s3(&plan.region);
            let dr = context.clients.s3(&destination.region);
            let job = CopyJob {
                source: &source,
                destination: &dr,
                source_bucket: &plan.bucket,
                destination_bucket: &destination.bucket,
                storage_class: &config.storage_class,
                kms_key: plan.replica_kms_key_arn.as_deref(),
                multipart_threshold: config.copy_multipart_threshold,
                page_size: config.copy_page_size,
                concurrency: config.copy_concurrency,
                dry_run: context.dry_run,
                destination_exists: destination.exists || !context.dry_run,
            };
            copy_page(&job, &mut progress).await?;
            if progress.done && progress.objects_failed > 0 {
                return Err(DrError::BackfillFailed {
                    bucket: plan.bucket.clone(),
                    destination: destination.bucket.clone(),
                    detail: format!(
                        "{} objects could not be copied (first: {}); the other {} are in place. Fix the cause and run the workflow again: copied objects are skipped",
                        progress.objects_failed,
                        progress.failures.join("; "),
                        progress.objects_copied + progress.objects_skipped
                    ),
                });
            }
        }
        Some(Strategy::Batch) => {
            let account_id = context.account_id.as_deref().ok_or_else(|| {
                DrError::InvalidConfig("batch backfill needs the account id (from the function ARN)".to_owned())
            })?;
            let client = context.clients.s3control(&plan.region);
            batch::poll_job(&client, account_id, &plan.bucket, &destination.bucket, &mut progress).await?;
        }
        Some(Strategy::Off) | None => progress.done = true,
    }
    // CloneSettings read the destination's tags earlier in this execution: a marker it saw
    // needs no second read.
    let marked = input.pointer("/CloneSettings/backfillMarker").is_some_and(Value::is_string);
    if progress.done && !context.dry_run && !marked {
        if let Some(strategy) = progress.strategy.filter(|s| *s != Strategy::Off) {
            progress.changed |= mark_backfilled(context, destination, strategy).await?;
        }
    }
    Ok(progress)
}

/// Leave `s3-dr:backfill=<strategy> <date>` on the destination once, so that `s3-dr status`
/// can tell a backfilled destination from one still filling. True if it wrote the tag.
async fn mark_backfilled(
    context: &StepContext<'_>,
    destination: &DestinationPlan,
    strategy: Strategy,
) -> Result<bool, DrError> {
    let s3 = context.clients.s3(&destination.region);
    let mut tags = bucket::tags(&s3, &destination.bucket).await?;
    if tags.iter().any(|t| t.key == BACKFILL_TAG) {
        return Ok(false);
    }
    let strategy = serde_json::to_value(strategy).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    tags.push(Tag::new(BACKFILL_TAG, format!("{strategy} {}", today())));
    put_tags(&s3, &destination.bucket, &tags).await?;
    Ok(true)
}

/// The progress from the loop's last turn (`$.CheckBackfill`) or from its start.
fn previous_progress(input: &Value) -> Result<Progress, DrError> {
    let found = input.get("CheckBackfill").or_else(|| input.get("StartBackfill")).ok_or_else(|| {
        DrError::InvalidInput("step CheckBackfill needs StartBackfill's output at input.StartBackfill".to_owned())
    })?;
    serde_json::from_value(found.clone())
        .map_err(|e| DrError::InvalidInput(format!("step CheckBackfill: the backfill progress is malformed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn the_latest_turn_wins() -> TestResult {
        let input = json!({
            "StartBackfill": {"strategy": "copy", "done": false, "changed": false},
            "CheckBackfill": {"strategy": "copy", "done": false, "continueAfter": "k9", "pages": 1, "changed": true}
        });
        let progress = previous_progress(&input)?;
        assert_eq!((progress.continue_after.as_deref(), progress.pages), (Some("k9"), 1));
        let progress =
            previous_progress(&json!({"StartBackfill": {"strategy": "off", "done": true, "changed": false}}))?;
        assert!(progress.done);
        assert_eq!(previous_progress(&json!({})).unwrap_err().error_type(), "InvalidInput");
        assert_eq!(
            previous_progress(&json!({"StartBackfill": {"strategy": "rsync"}})).unwrap_err().error_type(),
            "InvalidInput"
        );
        Ok(())
    }
}
