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

use crate::backfill::copy::{copy_page, CopyJob};
use crate::backfill::shards::{rebalance, round_turns, split, KeyRange, SHARD_STATE_BUDGET};
use crate::backfill::state::{self, BackfillTags, Heartbeat, Work};
use crate::backfill::{batch, turns_per_execution, unix_now, Progress, Strategy};
use crate::bucket;
use crate::clock::time_left;
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
    let (mut round_started, mut next_round_turns) = (false, None);
    let config = context.config;
    let dr = context.clients.s3(&destination.region);
    match progress.strategy {
        Some(Strategy::Copy) => {
            let source = context.clients.s3(&plan.region);
            if progress.shards.is_empty() {
                let job = CopyJob::backfill(context, plan, destination, &source, &dr)?;
                copy_page(&job, &mut progress).await?;
                let shards = copy_shards(plan.copy_shards.unwrap_or(config.copy_shards), config.reserved_concurrency);
                // Up to 100 probes one after the other: not near the deadline (the next turn splits).
                let time = time_left(context.deadline, SPLIT_MARGIN);
                if !progress.done && !progress.split_tried && shards > 1 && !context.dry_run && time {
                    // More than one page: split the rest of the key space for the CopyShards Map.
                    let after = progress.continue_after.clone();
                    let (ranges, probes) = split(&source, &plan.bucket, after.as_deref(), None, shards).await?;
                    tracing::info!(probes, shards = ranges.len(), "key space split for the copy");
                    split_into(&mut progress, ranges, shards);
                    round_started = !progress.shards.is_empty();
                }
            } else {
                // Split: add up the Map round that ran since the last turn, if one did, and give
                // the Lambdas of the shards that are done to those still copying.
                round_started = add_up_round(input, &mut progress)?;
                let small = serde_json::to_vec(&progress.shards).map_or(0, |v| v.len()) < SHARD_STATE_BUDGET;
                let time = time_left(context.deadline, SPLIT_MARGIN);
                if round_started && !progress.done && !context.dry_run && small && time {
                    let slots = progress.slots.max(1) as usize;
                    let probes = rebalance(&source, &plan.bucket, &mut progress.shards, slots).await?;
                    if probes > 0 {
                        tracing::info!(probes, shards = progress.shards.len(), "shards still copying split again");
                    }
                }
            }
            if !progress.shards.is_empty() {
                let copying = progress.shards.iter().filter(|s| !s.done).count();
                let budget = turns_per_execution(config.history_event_budget);
                let (pages, cost) = round_turns(budget, copying, progress.shards.len());
                let round_begins = unix_now();
                for shard in progress.shards.iter_mut() {
                    (shard.turns, shard.handover, shard.round_turns, shard.changed) = (0, false, pages, false);
                    shard.heartbeat_at = Some(round_begins);
                }
                next_round_turns = Some(cost);
            }
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
    let budget = turns_per_execution(config.history_event_budget);
    progress.handover = !progress.done
        && match next_round_turns {
            // Split: hand over before a round that would not fit, once this execution did one.
            Some(next) => round_started && progress.turns + next > budget,
            None => progress.turns >= budget,
        };
    Ok(progress)
}

/// Shards to split a copy into: as asked, but at most half the Lambda's reserved concurrency
/// when it has one, so that the sweep and other executions keep slots; shards beyond it would
/// wait throttled while the others hold their slots for whole pages.
fn copy_shards(asked: u32, reserved_concurrency: u32) -> usize {
    match reserved_concurrency {
        0 => asked as usize,
        reserved => asked.min((reserved / 2).max(1)) as usize,
    }
}

/// Time a split or a rebalancing needs left in the invocation: 100 probes, one after another.
const SPLIT_MARGIN: std::time::Duration = std::time::Duration::from_secs(60);

/// The shards' progress from the key ranges: the first carries on the whole's cursor and counts
/// so far, the others start at their range; `slots` shards copy at once from now on (a coarse
/// first split leaves some for the rebalancing). One range: no split (tried, not tried again).
fn split_into(progress: &mut Progress, ranges: Vec<KeyRange>, slots: usize) {
    progress.split_tried = true;
    if ranges.len() < 2 {
        return;
    }
    progress.slots = slots as u32;
    let fresh = Progress { strategy: progress.strategy, scope: progress.scope, ..Progress::default() };
    progress.shards = ranges
        .into_iter()
        .enumerate()
        .map(|(index, range)| {
            let mut shard = match index {
                0 => Progress { shards: Vec::new(), summary: String::new(), ..progress.clone() },
                _ => Progress { continue_after: range.after, ..fresh.clone() },
            };
            (shard.done, shard.until) = (false, range.until);
            shard
        })
        .collect();
}

/// The CopyShards Map's results (`$.CopyShards`, one per shard, in order) replace the shards'
/// progress; the turns they took count against this execution's history. False if no round ran
/// since the split (the first turn of an execution that continues a split backfill).
fn add_up_round(input: &Value, progress: &mut Progress) -> Result<bool, DrError> {
    let Some(results) = input.get("CopyShards") else { return Ok(false) };
    let results: Vec<Progress> = serde_json::from_value(results.clone())
        .map_err(|e| DrError::InvalidInput(format!("step CheckBackfill: $.CopyShards is malformed: {e}")))?;
    if results.len() != progress.shards.len() {
        return Err(DrError::InvalidInput(format!(
            "step CheckBackfill: $.CopyShards holds {} shards, the backfill has {}",
            results.len(),
            progress.shards.len()
        )));
    }
    progress.turns += results.iter().map(|s| s.turns + 1).sum::<u32>();
    progress.changed |= results.iter().any(|s| s.changed);
    progress.shards = results;
    progress.add_up_shards();
    // The whole keeps the first failures; each shard one, so that the state stays small.
    for shard in progress.shards.iter_mut() {
        shard.failures.truncate(1);
        shard.not_replicable.truncate(1);
        shard.summary.clear();
    }
    progress.summarize();
    Ok(true)
}

/// The loop goes on as a catch-up: a scan from the start, counting anew what S3 cannot copy.
fn restart_as_catch_up(progress: &mut Progress, now: i64) {
    progress.done = false;
    progress.scope = crate::backfill::Scope::CatchUp;
    progress.continue_after = None;
    progress.resumed_after = None;
    progress.retry_from = None;
    progress.retry_not_replicable = None;
    (progress.shards, progress.split_tried) = (Vec::new(), false);
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
    fn shards_leave_half_the_reserved_concurrency_to_the_rest() {
        assert_eq!(copy_shards(16, 0), 16);
        assert_eq!(copy_shards(16, 10), 5);
        assert_eq!(copy_shards(4, 10), 4);
        assert_eq!(copy_shards(4, 1), 1);
    }

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
