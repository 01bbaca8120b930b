//! StartBackfill: decide whether the objects that existed before replication need copying, and
//! begin.
//!
//! Once the destination carries the backfill marker, nothing is copied again (0 AWS calls),
//! unless the request says `"backfill": "force"`, or this run repaired protection that was
//! broken (the rule was missing, disabled, filtered or pointed elsewhere, or versioning was off
//! on either side): then what was written meanwhile is backfilled (`CatchUp`). An execution that
//! continues an earlier one's backfill (`$.continues`) resumes its progress, and one that finds
//! an interrupted backfill's heartbeat on the destination resumes from it.
//!
//! `off`: nothing (the destination is marked `off <date>` once, so the sweep knows). `copy`:
//! nothing yet (CheckBackfill copies page by page); the heartbeat tag is written. `batch`:
//! follow an unfinished job for this bucket if there is one, else create one (s3control
//! ListJobs, then CreateJob with a token derived from the bucket, the rule, the scope and the
//! execution), and name it in the heartbeat tag.

use serde_json::Value;

use crate::backfill::batch::{self, Followed, JobRequest};
use crate::backfill::state::{self, BackfillTags, Heartbeat, Start, Work};
use crate::backfill::{job_request_token, unix_now, Progress, Scope, Strategy};
use crate::bucket;
use crate::clock::today;
use crate::error::DrError;
use crate::executions;
use crate::plan::{DestinationPlan, SourcePlan};
use crate::steps::{Invocation, StepContext};

pub async fn run(
    context: &StepContext<'_>,
    plan: &SourcePlan,
    destination: &DestinationPlan,
    input: &Value,
    invocation: Invocation<'_>,
) -> Result<Progress, DrError> {
    if let Some(continued) = &plan.continues {
        // This execution continues an earlier one's backfill: carry on where it stopped.
        let mut progress = Progress { turns: 0, handover: false, changed: false, ..continued.progress.clone() };
        progress.summarize();
        return Ok(progress);
    }
    let strategy = plan.backfill.unwrap_or(Strategy::Off);
    let tags = backfill_tags(input)?;
    let me = invocation.execution.unwrap_or_default();
    let mut progress = Progress { strategy: Some(strategy), ..Progress::default() };
    if strategy == Strategy::Off {
        progress.done = true;
        if tags.marker.is_none() && !context.dry_run {
            // Recorded, so that the sweep does not take the destination for one still to fill.
            let marker = state::marker_value(strategy, &today());
            let finish = state::Finish { marker: &marker, not_replicable: None, scanned_from_start_since: None };
            let s3 = context.clients.s3(&destination.region);
            progress.changed =
                bucket::update_tags(&s3, &destination.bucket, |current| state::finished_tags(current, &finish)).await?;
        }
        progress.summarize();
        return Ok(progress);
    }

    let gap = repair_gap(input);
    // Another execution's heartbeat: ask Step Functions whether it still runs (the clock
    // decides only where it cannot be asked).
    let writer_runs = match (state::other_writer(&tags, me), invocation.state_machine) {
        (Some(writer), Some(state_machine)) if !context.dry_run => {
            let arn = executions::execution_arn(state_machine, writer);
            executions::is_running(&context.clients.sfn(), &arn, &plan.bucket).await?
        }
        _ => None,
    };
    let refused = |writer: &str| force_refused(plan, destination, writer);
    match state::decide_start(strategy, plan.force_backfill, &tags, gap.as_deref(), me, writer_runs, unix_now()) {
        Start::AlreadyDone { marker } => {
            progress.done = true;
            progress.not_needed = Some(format!("{} is backfilled already ({marker})", destination.bucket));
        }
        Start::UnderWay { since, writer } => {
            progress.done = true;
            progress.elsewhere = true;
            progress.not_needed = Some(format!(
                "execution {writer} is backfilling {} (heartbeat {} s ago) and finishes the work (a catch-up this run owes is recorded on the destination for it, or for the next run); should it die, the next run or the sweep resumes it",
                destination.bucket,
                unix_now() - since,
            ));
        }
        Start::ForceRefused { writer } => return Err(refused(&writer)),
        Start::Full { after } => {
            match &after {
                // Resuming: the objects found not replicable before the cursor are counted.
                Some(_) => {
                    if let Some(found) = &tags.not_replicable {
                        progress.objects_not_replicable = found.count;
                        progress.not_replicable.extend(found.example.clone());
                    }
                }
                None => progress.scan_started_at = Some(unix_now()),
            }
            if plan.force_backfill && strategy == Strategy::Batch {
                // A forced job must not quietly follow one that runs (its manifest predates it).
                if let Some(state::Heartbeat { work: state::Work::Batch { job_id }, .. }) = &tags.progress {
                    let client = context.clients.s3control(&plan.region);
                    if batch::follow(&client, context.require_account_id()?, &plan.bucket, job_id).await?
                        == Followed::Running
                    {
                        return Err(refused(&format!("Batch Replication job {job_id}")));
                    }
                }
            }
            progress.resumed_after = after.clone();
            progress.continue_after = after;
            begin(context, plan, destination, invocation, &mut progress).await?;
        }
        Start::CatchUp { why } => {
            tracing::info!(%why, "protection was repaired: backfilling what was written meanwhile");
            progress.scope = Scope::CatchUp;
            progress.scan_started_at = Some(unix_now());
            begin(context, plan, destination, invocation, &mut progress).await?;
        }
        Start::FollowJob { job_id } => {
            let account_id = context.require_account_id()?;
            let client = context.clients.s3control(&plan.region);
            // A job on a marked destination is a catch-up's.
            let marked = tags.marker.is_some();
            progress.scope = if marked { Scope::CatchUp } else { Scope::Full };
            match batch::follow(&client, account_id, &plan.bucket, &job_id).await? {
                // A complete job is followed too: polling it reads its report (archived objects
                // are reported, other failures fail the run and leave a catch-up owed).
                Followed::Running | Followed::Complete | Followed::CatchUpFailures => progress.job_id = Some(job_id),
                Followed::Restart => begin(context, plan, destination, invocation, &mut progress).await?,
            }
        }
    }
    progress.summarize();
    if context.dry_run && strategy == Strategy::Batch && !progress.done {
        progress.summary = "batch: would start an S3 Batch Replication job (or follow a running one)".to_owned();
    }
    Ok(progress)
}

/// Start the copy (a heartbeat on the destination) or the job (and name it there).
async fn begin(
    context: &StepContext<'_>,
    plan: &SourcePlan,
    destination: &DestinationPlan,
    invocation: Invocation<'_>,
    progress: &mut Progress,
) -> Result<(), DrError> {
    let now = unix_now();
    let work = match progress.strategy {
        Some(Strategy::Batch) => {
            let request = job_request(context, plan, destination, invocation.execution, progress.scope)?;
            if context.dry_run {
                return Ok(());
            }
            let client = context.clients.s3control(&plan.region);
            let job_id = match batch::find_running_job(&client, &request).await? {
                Some(running) => running,
                None => {
                    progress.changed = true;
                    batch::create_job(&client, &request).await?
                }
            };
            progress.job_id = Some(job_id.clone());
            Work::Batch { job_id }
        }
        _ => Work::Copy { after: progress.resume_cursor() },
    };
    let heartbeat = Heartbeat { at: now, writer: invocation.execution.unwrap_or_default().to_owned(), work };
    if !context.dry_run {
        // The heartbeat tells the sweep (and the next run, should this one die) that a backfill
        // is under way, and from where to resume it.
        let s3 = context.clients.s3(&destination.region);
        progress.changed |=
            bucket::update_tags(&s3, &destination.bucket, |current| state::with_heartbeat(current, &heartbeat, None))
                .await?;
        progress.heartbeat_at = Some(now);
    }
    Ok(())
}

/// A forced backfill asked for while `writer` (an execution, or a job) backfills.
fn force_refused(plan: &SourcePlan, destination: &DestinationPlan, writer: &str) -> DrError {
    DrError::BackfillFailed {
        bucket: plan.bucket.clone(),
        destination: destination.bucket.clone(),
        detail: format!(
            "\"backfill\": \"force\" asks for a new backfill, and one is running ({writer}); force again once it has ended (or stop it)"
        ),
    }
}

/// What EnsureDestination read of the destination's backfill tags (nothing in a dry run before
/// the destination exists).
fn backfill_tags(input: &Value) -> Result<BackfillTags, DrError> {
    match input.pointer("/EnsureDestination/backfill") {
        None | Some(Value::Null) => Ok(BackfillTags::default()),
        Some(found) => serde_json::from_value(found.clone()).map_err(|e| {
            DrError::InvalidInput(format!("step StartBackfill: input.EnsureDestination.backfill is malformed: {e}"))
        }),
    }
}

/// What this run repaired that left objects unreplicated, from the earlier steps' results.
pub fn repair_gap(input: &Value) -> Option<String> {
    let mut gaps = Vec::new();
    if input.pointer("/EnableSourceVersioning/changed") == Some(&Value::Bool(true)) {
        let previous = input.pointer("/EnableSourceVersioning/previous").and_then(Value::as_str).unwrap_or("off");
        gaps.push(format!("source versioning was {previous}"));
    }
    let destination_changes = input.pointer("/EnsureDestination/changes").and_then(Value::as_array);
    if destination_changes.is_some_and(|c| c.iter().any(|change| change == "versioning")) {
        gaps.push("destination versioning was off".to_owned());
    }
    if let Some(gap) = input.pointer("/EnableReplication/gap").and_then(Value::as_str) {
        gaps.push(gap.to_owned());
    }
    (!gaps.is_empty()).then(|| gaps.join("; "))
}

pub fn job_request(
    context: &StepContext<'_>,
    plan: &SourcePlan,
    destination: &DestinationPlan,
    execution: Option<&str>,
    scope: Scope,
) -> Result<JobRequest, DrError> {
    let config = context.config;
    let account_id = context.require_account_id()?.to_owned();
    let (role, report_bucket) = config.require_batch(&plan.region, Some(&account_id))?;
    // The rule's settings, the scope and the execution: a retry of this step finds its own
    // job, a later execution (after a failed job, say) may start a new one.
    let spec = plan.rule_spec(destination, config);
    let key = match &spec.replica_key {
        crate::replication::ReplicaKey::Key(key) => key.as_str(),
        crate::replication::ReplicaKey::AnyKey => "",
    };
    let fingerprint = format!(
        "{}/{}/{key}/{}/{}/{}",
        spec.destination_bucket,
        spec.storage_class,
        spec.replication_time_control,
        scope.token_part(),
        execution.unwrap_or("")
    );
    Ok(JobRequest {
        account_id,
        source_bucket: plan.bucket.clone(),
        destination_bucket: destination.bucket.clone(),
        role_arn: role.to_owned(),
        report_bucket,
        report_prefix: config.batch_report_prefix_for(&plan.bucket),
        token: job_request_token(&plan.bucket, &fingerprint),
        scope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_repair_is_read_from_what_the_earlier_steps_changed() {
        let healthy = json!({
            "EnableSourceVersioning": {"changed": false, "previous": "Enabled"},
            "EnsureDestination": {"changes": []},
            "EnableReplication": {"changed": false}
        });
        assert_eq!(repair_gap(&healthy), None);
        let broken = json!({
            "EnableSourceVersioning": {"changed": true, "previous": "Suspended"},
            "EnsureDestination": {"changes": ["versioning"]},
            "EnableReplication": {"changed": true, "gap": "replication rule s3-dr was missing"}
        });
        let gap = repair_gap(&broken).unwrap_or_default();
        assert!(
            gap.contains("Suspended") && gap.contains("destination versioning") && gap.contains("missing"),
            "{gap}"
        );
        // A storage class change rewrote the rule but left no object behind.
        assert_eq!(repair_gap(&json!({"EnableReplication": {"changed": true}})), None);
    }
}
