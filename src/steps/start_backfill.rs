//! StartBackfill: begin copying the objects that existed before replication was turned on.
//!
//! `off`: nothing. `copy`: nothing yet (CheckBackfill copies page by page). `batch`: follow an
//! unfinished job for this bucket if there is one, else create one (s3control ListJobs, then
//! CreateJob with a token derived from the bucket, the rule and the execution).

use crate::backfill::batch::{self, JobRequest};
use crate::backfill::{job_request_token, Progress, Strategy};
use crate::error::DrError;
use crate::plan::{DestinationPlan, SourcePlan};
use crate::steps::StepContext;

pub async fn run(
    context: &StepContext<'_>,
    plan: &SourcePlan,
    destination: &DestinationPlan,
    execution: Option<&str>,
) -> Result<Progress, DrError> {
    let strategy = plan.backfill.unwrap_or(Strategy::Off);
    let mut progress = Progress { strategy: Some(strategy), ..Progress::default() };
    match strategy {
        Strategy::Off => progress.done = true,
        Strategy::Copy => {}
        Strategy::Batch if context.dry_run => {
            job_request(context, plan, destination, execution)?;
            progress.summary = "batch: would start an S3 Batch Replication job (or follow a running one)".to_owned();
            return Ok(progress);
        }
        Strategy::Batch => {
            let request = job_request(context, plan, destination, execution)?;
            let client = context.clients.s3control(&plan.region);
            let job_id = match batch::find_running_job(&client, &request).await? {
                Some(running) => running,
                None => {
                    progress.changed = true;
                    batch::create_job(&client, &request).await?
                }
            };
            progress.job_id = Some(job_id);
        }
    }
    progress.summarize();
    Ok(progress)
}

pub fn job_request(
    context: &StepContext<'_>,
    plan: &SourcePlan,
    destination: &DestinationPlan,
    execution: Option<&str>,
) -> Result<JobRequest, DrError> {
    let config = context.config;
    let (role, report_bucket) = config.require_batch(&plan.region)?;
    let account_id = context.account_id.clone().ok_or_else(|| {
        DrError::InvalidConfig("batch backfill needs the account id (from the function ARN)".to_owned())
    })?;
    // The rule's settings and the execution: a retry of this step finds its own job, a later
    // execution (after a failed job, say) may start a new one.
    let fingerprint = format!("{:?}/{}", plan.rule_spec(destination, config), execution.unwrap_or(""));
    Ok(JobRequest {
        account_id,
        source_bucket: plan.bucket.clone(),
        destination_bucket: destination.bucket.clone(),
        role_arn: role.to_owned(),
        report_bucket,
        report_prefix: format!("{}/{}", config.batch_report_prefix, plan.bucket),
        token: job_request_token(&plan.bucket, &fingerprint),
    })
}
