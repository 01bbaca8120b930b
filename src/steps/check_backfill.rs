//! CheckBackfill: one turn of the backfill loop. `copy`: copy the next page of objects.
//! `batch`: ask S3 how the job is doing. The state machine loops (with a Wait for `batch`)
//! until `done`; the progress travels in the state, so the loop survives retries.
//!
//! The loop's memory outside the execution is the destination's heartbeat tag (see
//! `backfill::state`): a copy writes its cursor there after every page (never past an object
//! that failed), with the count of objects S3 cannot copy so far, so an execution that dies is
//! resumed, not restarted, and the sweep can tell a live backfill from a dead one. When the
//! backfill is done, the heartbeat gives way to the marker `s3-dr:backfill=<strategy> <date>`
//! (and the count of objects S3 cannot copy). A page costs two tag calls more; each is a
//! CloudTrail event, which the EventBridge rules leave out (they drop the step role's calls).
//!
//! When this execution has used its history budget (`S3DR_HISTORY_EVENT_BUDGET`), the result
//! says `handover`: ContinueAsNew starts a new execution with the progress.

use serde_json::Value;

use crate::backfill::copy::{copy_page, CopyJob, CopyRule};
use crate::backfill::state::{self, BackfillTags, Heartbeat, Work};
use crate::backfill::{batch, turns_per_execution, unix_now, Progress, Strategy};
use crate::bucket;
use crate::clock::today;
use crate::error::DrError;
use crate::plan::{DestinationPlan, SourcePlan};
use crate::steps::{Invocation, StepContext};

pub async fn run(
    context: &StepContext<'_>,
    plan: &SourcePlan,
    destination: &DestinationPlan,
    input: &Value,
    invocation: Invocation<'_>,
) -> Result<Progress, DrError> {
    let mut progress = Progress::latest(input)?;
    progress.changed = false;
    if progress.done {
        return Ok(progress);
    }
    progress.turns += 1;
    let config = context.config;
    let dr = context.clients.s3(&destination.region);
    match progress.strategy {
        Some(Strategy::Copy) => {
            let source = context.clients.s3(&plan.region);
            let dr_key = plan.replica_kms_key_arn.as_deref().ok_or_else(|| {
                DrError::InvalidInput(format!(
                    "step CheckBackfill: ValidateSource resolved no DR key for {}",
                    plan.bucket
                ))
            })?;
            let job = CopyJob {
                source: &source,
                destination: &dr,
                source_bucket: &plan.bucket,
                destination_bucket: &destination.bucket,
                storage_class: &config.storage_class,
                kms_key: Some(dr_key),
                rule: CopyRule::Backfill,
                destination_locked: plan.object_lock,
                multipart_threshold: config.copy_multipart_threshold,
                page_size: config.copy_page_size,
                page_bytes: config.copy_page_bytes,
                concurrency: config.copy_concurrency,
                deadline: context.deadline,
                start_margin: crate::backfill::copy::START_MARGIN,
                part_margin: crate::backfill::copy::PART_MARGIN,
                dry_run: context.dry_run,
                destination_exists: destination.exists || !context.dry_run,
            };
            copy_page(&job, &mut progress).await?;
            let finished_clean = progress.done && progress.objects_failed == 0;
            if !context.dry_run && !finished_clean {
                // The heartbeat: alive, resume here (before the first failure), found so far.
                // Written only over this execution's own: another's means another run took the
                // work over (two runs that started together: the later heartbeat wins), and
                // this one stops after the page it did.
                let at = unix_now();
                let me = invocation.execution.unwrap_or_default();
                let heartbeat =
                    Heartbeat { at, writer: me.to_owned(), work: Work::Copy { after: progress.resume_cursor() } };
                let found = progress.not_replicable_at_resume();
                let mut taken_over = None;
                bucket::update_tags(&dr, &destination.bucket, |current| match BackfillTags::read(current).progress {
                    Some(theirs) if theirs.writer != me => {
                        taken_over = Some(theirs.writer);
                        current.to_vec()
                    }
                    _ => state::with_heartbeat(current, &heartbeat, Some(&found)),
                })
                .await?;
                if let Some(writer) = taken_over {
                    progress.done = true;
                    progress.elsewhere = true;
                    progress.not_needed =
                        Some(format!("execution {writer} took the backfill of {} over", destination.bucket));
                    progress.summarize();
                    return Ok(progress);
                }
                progress.heartbeat_at = Some(at);
            }
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
            let account_id = context.require_account_id()?;
            let client = context.clients.s3control(&plan.region);
            // The report is in the source region's report bucket, under the job's prefix.
            let (_, report_bucket) = config.require_batch(&plan.region, Some(account_id))?;
            let report_s3 = context.clients.s3(&plan.region);
            let report_prefix = config.batch_report_prefix_for(&plan.bucket);
            let report = batch::ReportLocation { s3: &report_s3, bucket: &report_bucket, prefix: &report_prefix };
            let polled =
                batch::poll_job(&client, account_id, &plan.bucket, &destination.bucket, Some(&report), &mut progress)
                    .await;
            if let Err(DrError::BackfillFailed { .. }) = &polled {
                // The job ended and did not copy everything: the next run starts a catch-up job
                // for the failed objects rather than follow this one again.
                if !context.dry_run {
                    let at = unix_now();
                    bucket::update_tags(&dr, &destination.bucket, |current| state::after_failed_job(current, at))
                        .await?;
                }
            }
            polled?;
        }
        Some(Strategy::Off) | None => progress.done = true,
    }
    if progress.done && !context.dry_run {
        if let Some(strategy) = progress.strategy.filter(|s| *s != Strategy::Off) {
            // A copy looked at every object (a resumed one counts from its heartbeat), so its
            // count replaces the last one; a batch job's report is read only when tasks failed.
            let not_replicable = (strategy == Strategy::Copy || progress.objects_not_replicable > 0)
                .then(|| progress.not_replicable_tag());
            let marker = state::marker_value(strategy, &today());
            let finish = state::Finish {
                marker: &marker,
                not_replicable: not_replicable.as_ref(),
                scanned_from_start_since: progress.scan_started_at,
            };
            let mut still_owed = None;
            progress.changed |= bucket::update_tags(&dr, &destination.bucket, |current| {
                let finished = state::finished_tags(current, &finish);
                still_owed = BackfillTags::read(&finished).catch_up_owed;
                finished
            })
            .await?;
            // A repair during this backfill left objects behind it: a copy goes round again at
            // once, from the start; a batch catch-up is for the next run (or the sweep).
            if let (Some(since), Strategy::Copy) = (still_owed, strategy) {
                tracing::info!(since, "a catch-up is owed since this backfill began: scanning again");
                restart_as_catch_up(&mut progress, unix_now());
            }
        }
    }
    progress.handover = !progress.done && progress.turns >= turns_per_execution(config.history_event_budget);
    Ok(progress)
}

/// The loop goes on as a catch-up: a scan from the start, counting anew what S3 cannot copy.
fn restart_as_catch_up(progress: &mut Progress, now: i64) {
    progress.done = false;
    progress.scope = crate::backfill::Scope::CatchUp;
    progress.continue_after = None;
    progress.resumed_after = None;
    progress.retry_from = None;
    progress.retry_not_replicable = None;
    progress.scan_started_at = Some(now);
    progress.objects_not_replicable = 0;
    progress.not_replicable.clear();
    progress.summarize();
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
        let progress = Progress::latest(&input)?;
        assert_eq!((progress.continue_after.as_deref(), progress.pages), (Some("k9"), 1));
        let progress =
            Progress::latest(&json!({"StartBackfill": {"strategy": "off", "done": true, "changed": false}}))?;
        assert!(progress.done);
        assert_eq!(Progress::latest(&json!({})).unwrap_err().error_type(), "InvalidInput");
        assert_eq!(
            Progress::latest(&json!({"StartBackfill": {"strategy": "rsync"}})).unwrap_err().error_type(),
            "InvalidInput"
        );
        Ok(())
    }
}
