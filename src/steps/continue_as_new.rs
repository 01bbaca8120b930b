//! ContinueAsNew: the backfill outlives one execution. Step Functions ends a Standard execution
//! at 25,000 history events ("hard quota of 25,000 entries in the execution event history";
//! the documented way out is to start a new execution,
//! https://docs.aws.amazon.com/step-functions/latest/dg/bp-history-limit.html), which a copy
//! backfill of a few million objects or a batch job of a couple of days would reach. Before
//! that, CheckBackfill says `handover`, and this step starts a new execution of the same state
//! machine with the progress in its input (`$.continues`); this one then ends.
//!
//! AWS calls: GetBucketTagging and PutBucketTagging (the heartbeat, naming the new execution
//! before it starts), states:StartExecution (3). The new execution is named from the first
//! execution's name and a generation number, so a retried hand-over finds the execution it
//! started (StartExecution answers ExecutionAlreadyExists) instead of starting a second.

use serde::Serialize;
use serde_json::{json, Value};

use crate::backfill::state::{self, Heartbeat, Work};
use crate::backfill::{unix_now, Continuation};
use crate::bucket;
use crate::config::Workflow;
use crate::error::DrError;
use crate::executions::{continuation_name, start_named, Started};
use crate::plan::{DestinationPlan, SourcePlan};
use crate::steps::{Invocation, StepContext};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub bucket: String,
    /// The execution that carries on.
    pub execution: String,
    pub generation: u32,
    /// False if a retry found the execution already started.
    pub started: bool,
    pub changed: bool,
}

pub async fn run(
    context: &StepContext<'_>,
    plan: &SourcePlan,
    destination: &DestinationPlan,
    input: &Value,
    invocation: Invocation<'_>,
) -> Result<Output, DrError> {
    let progress = crate::backfill::Progress::latest(input)?;
    if !progress.handover {
        return Err(DrError::InvalidInput(format!(
            "step ContinueAsNew: the backfill of {} did not ask to hand over",
            plan.bucket
        )));
    }
    let (root, generation) = match (&plan.continues, invocation.execution) {
        (Some(continued), _) => (continued.root.clone(), continued.generation + 1),
        (None, Some(execution)) => (execution.to_owned(), 1),
        (None, None) => {
            return Err(DrError::InvalidInput(
                "step ContinueAsNew needs the execution's name (\"execution.$\": \"$$.Execution.Name\")".to_owned(),
            ))
        }
    };
    let state_machine = match invocation.state_machine {
        Some(arn) => arn,
        None => context.config.require_state_machine(Workflow::Protect)?,
    };
    let name = continuation_name(&root, generation);
    let strategy = progress.strategy.map_or("off", |s| s.name());
    let continues = Continuation { root, generation, progress };
    let mut new_input = json!({
        "bucket": plan.bucket,
        "backfill": strategy,
        "requestedBy": format!("s3-dr: continues {}", invocation.execution.unwrap_or("an execution")),
        "continues": continues,
    });
    // A request's copyShards holds for the whole backfill (a catch-up restart splits again).
    if let (Some(shards), Some(fields)) = (plan.copy_shards, new_input.as_object_mut()) {
        fields.insert("copyShards".to_owned(), json!(shards));
    }
    if context.dry_run {
        return Ok(Output { bucket: plan.bucket.clone(), execution: name, generation, started: false, changed: true });
    }
    // The heartbeat names the successor before it exists: this execution ends now, and a run
    // that looks in between must find a live writer, not take the work over.
    let work = match &continues.progress.job_id {
        Some(job_id) => Work::Batch { job_id: job_id.clone() },
        None => Work::Copy { after: continues.progress.resume_cursor() },
    };
    let heartbeat = Heartbeat { at: unix_now(), writer: name.clone(), work };
    let s3 = context.clients.s3(&destination.region);
    bucket::update_tags(&s3, &destination.bucket, |current| state::with_heartbeat(current, &heartbeat, None)).await?;
    let started = start_named(&context.clients.sfn(), state_machine, &name, &plan.bucket, &new_input).await?;
    tracing::info!(execution = %name, generation, "backfill handed over to a new execution");
    Ok(Output {
        bucket: plan.bucket.clone(),
        execution: name,
        generation,
        started: matches!(started, Started::Started(_)),
        changed: true,
    })
}
