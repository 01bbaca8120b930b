//! FinishFailback: the source is the primary again. The destination's `s3-dr:failover` record
//! is removed, which returns the bucket to one-way protection: the protect workflow is started
//! for it now (repairing whatever the outage or the operator left: a replication rule removed
//! by hand, versioning), rather than at the next sweep.
//!
//! AWS calls: GetBucketTagging + PutBucketTagging of the destination (only if the record is
//! there); states:StartExecution of the protect workflow (when the Lambda knows its ARN).

use serde::Serialize;
use serde_json::json;

use crate::bucket;
use crate::config::Workflow;
use crate::error::DrError;
use crate::executions::{execution_name, start, Started};
use crate::failback::Plan;
use crate::failover::FAILOVER_TAG;
use crate::steps::StepContext;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub bucket: String,
    pub destination: String,
    /// The protect execution started, if the Lambda knows the protect workflow.
    pub protect: Option<Started>,
    pub summary: String,
    pub changed: bool,
}

pub async fn run(context: &StepContext<'_>, plan: &Plan) -> Result<Output, DrError> {
    let dr = context.clients.s3(&plan.dr_region);
    let removed = match context.dry_run {
        true => false,
        false => {
            bucket::update_tags(&dr, &plan.destination, |tags| {
                tags.iter().filter(|t| t.key != FAILOVER_TAG).cloned().collect()
            })
            .await?
        }
    };
    let protect = match (context.config.protect_state_machine_arn.as_deref(), context.dry_run) {
        (Some(arn), false) => {
            let name = execution_name(Workflow::Protect.name(), &plan.bucket, std::time::SystemTime::now());
            let input = json!({ "bucket": plan.bucket, "requestedBy": "failback" });
            Some(start(&context.clients.sfn(), arn, &name, &plan.bucket, &input).await?)
        }
        _ => None,
    };
    let resumes = match &protect {
        Some(Started::Started(arn)) => format!("protection resumes (execution {arn})"),
        Some(Started::AlreadyStarted(name)) => format!("protection resumes (execution {name}, running)"),
        None => format!("run `s3-dr protect {}` (or wait for the sweep) to check its protection", plan.bucket),
    };
    Ok(Output {
        summary: format!(
            "{} failed back: it is the primary again in {}, and {} its DR copy; {resumes}",
            plan.bucket, plan.source_region, plan.destination
        ),
        bucket: plan.bucket.clone(),
        destination: plan.destination.clone(),
        changed: removed || matches!(protect, Some(Started::Started(_))),
        protect,
    })
}
