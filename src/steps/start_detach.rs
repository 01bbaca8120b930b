//! StartDetach: the protect workflow found a bucket that lost its tag but still replicates with
//! the s3-dr rule (an untagging event): start the detach workflow for it.
//!
//! AWS calls: states:StartExecution (a name shared with any other start in the same 15 minutes,
//! so an event and a sweep do not both detach).

use serde::Serialize;
use serde_json::json;

use crate::config::Workflow;
use crate::error::DrError;
use crate::executions::{execution_name, start, Started};
use crate::plan::SourcePlan;
use crate::steps::StepContext;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub bucket: String,
    pub execution: Started,
    pub changed: bool,
}

pub async fn run(context: &StepContext<'_>, plan: &SourcePlan) -> Result<Output, DrError> {
    let arn = context.config.require_state_machine(Workflow::Detach)?;
    let name = execution_name(Workflow::Detach.name(), &plan.bucket, std::time::SystemTime::now());
    let input = json!({ "bucket": plan.bucket, "requestedBy": plan.trigger });
    let execution = start(&context.clients.sfn(), arn, &name, &plan.bucket, &input).await?;
    Ok(Output { bucket: plan.bucket.clone(), changed: matches!(execution, Started::Started(_)), execution })
}
