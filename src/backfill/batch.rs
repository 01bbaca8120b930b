//! `batch` backfill: one S3 Batch Replication job per bucket and rule. S3 builds the manifest
//! itself (objects eligible for replication, by replication status: see [`statuses`]), copies
//! them with the replication rule's own settings, and writes a completion report.
//!
//! AWS calls: s3control ListJobs (an unfinished job for this bucket is followed, not repeated),
//! CreateJob (its token makes a retry return the same job), then DescribeJob per poll. Not available on the local stack (moto has no S3 Control jobs): the
//! request shape and the polling are tested with aws-smithy-mocks.

use aws_sdk_s3control::types::{
    JobManifestGenerator, JobManifestGeneratorFilter, JobOperation, JobReport, JobReportFormat, JobReportScope,
    JobStatus, ReplicationStatus, S3JobManifestGenerator, S3ReplicateObjectOperation,
};

use crate::backfill::{job_state, report, JobState, Progress, Scope, Strategy};
use crate::error::{AwsResultExt, DrError};

/// Everything CreateJob needs, decided before the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRequest {
    pub account_id: String,
    pub source_bucket: String,
    pub destination_bucket: String,
    pub role_arn: String,
    pub report_bucket: String,
    pub report_prefix: String,
    pub token: String,
    pub scope: Scope,
}

/// The replication statuses a job's manifest takes. A first (or forced) backfill takes every
/// object whatever its history: `COMPLETED` ones were replicated to another destination (a
/// foreign rule s3-dr keeps), `REPLICA`s were replicated into this bucket, and neither has
/// reached ours. "If you want to back-fill a destination bucket with objects that have been
/// replicated to another destination, include COMPLETED ... If you want [to] replicate objects
/// previously replicated, include REPLICA"
/// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-batch-replication-batch.html).
/// A catch-up after a repair takes only what replication did not copy: NONE and FAILED.
pub fn statuses(scope: Scope) -> Vec<ReplicationStatus> {
    match scope {
        Scope::Full => {
            vec![
                ReplicationStatus::None,
                ReplicationStatus::Failed,
                ReplicationStatus::Completed,
                ReplicationStatus::Replica,
            ]
        }
        Scope::CatchUp => vec![ReplicationStatus::None, ReplicationStatus::Failed],
    }
}

impl JobRequest {
    /// `arn:aws:s3:::name`, in the role's partition (aws, aws-cn, aws-us-gov).
    fn bucket_arn(&self, bucket: &str) -> String {
        let partition = self.role_arn.split(':').nth(1).unwrap_or("aws");
        format!("arn:{partition}:s3:::{bucket}")
    }
}

impl JobRequest {
    /// Ties a job to its source and destination; how a later run finds a job still running.
    pub fn description(&self) -> String {
        format!("s3-dr backfill of {} to {}", self.source_bucket, self.destination_bucket)
    }
}

/// Statuses of a job that has not finished.
const UNFINISHED: &[JobStatus] = &[
    JobStatus::New,
    JobStatus::Preparing,
    JobStatus::Ready,
    JobStatus::Active,
    JobStatus::Pausing,
    JobStatus::Paused,
    JobStatus::Suspended,
    JobStatus::Completing,
];

/// The id of an unfinished backfill job for the same source and destination, so that a second
/// execution (an event and a sweep, say) follows the running job instead of starting another.
pub async fn find_running_job(
    client: &aws_sdk_s3control::Client,
    request: &JobRequest,
) -> Result<Option<String>, DrError> {
    let description = request.description();
    let mut pages = client
        .list_jobs()
        .account_id(&request.account_id)
        .set_job_statuses(Some(UNFINISHED.to_vec()))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.aws(&request.source_bucket, "ListJobs")?;
        if let Some(job) = page.jobs().iter().find(|j| j.description() == Some(description.as_str())) {
            return Ok(job.job_id().map(str::to_owned));
        }
    }
    Ok(None)
}

/// Create the job (or get the one this token already created) and return its id.
pub async fn create_job(client: &aws_sdk_s3control::Client, request: &JobRequest) -> Result<String, DrError> {
    let bucket = request.source_bucket.as_str();
    let internal = |e: aws_sdk_s3control::error::BuildError| DrError::Internal(format!("building CreateJob: {e}"));
    let generator = S3JobManifestGenerator::builder()
        .expected_bucket_owner(&request.account_id)
        .source_bucket(request.bucket_arn(bucket))
        .enable_manifest_output(false)
        .filter(
            JobManifestGeneratorFilter::builder()
                .eligible_for_replication(true)
                .set_object_replication_statuses(Some(statuses(request.scope)))
                .build(),
        )
        .build()
        .map_err(internal)?;
    let report = JobReport::builder()
        .enabled(true)
        .bucket(request.bucket_arn(&request.report_bucket))
        .prefix(&request.report_prefix)
        .format(JobReportFormat::ReportCsv20180820)
        .report_scope(JobReportScope::AllTasks)
        .build();
    let output = client
        .create_job()
        .account_id(&request.account_id)
        .confirmation_required(false)
        .operation(JobOperation::builder().s3_replicate_object(S3ReplicateObjectOperation::builder().build()).build())
        .manifest_generator(JobManifestGenerator::S3JobManifestGenerator(generator))
        .report(report)
        .client_request_token(&request.token)
        .priority(10)
        .role_arn(&request.role_arn)
        .description(request.description())
        .send()
        .await
        .aws(bucket, "CreateJob")?;
    output
        .job_id()
        .map(str::to_owned)
        .ok_or_else(|| DrError::Internal(format!("CreateJob for {bucket} returned no job id")))
}

/// What an earlier execution's job came to, for a run that finds its id on the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Followed {
    /// Still running: follow it.
    Running,
    /// Complete without failures: following it finishes at once.
    Complete,
    /// Complete with failed tasks: a catch-up job takes those (their status is FAILED).
    CatchUpFailures,
    /// Failed or cancelled as a whole: a new job.
    Restart,
}

pub async fn follow(
    client: &aws_sdk_s3control::Client,
    account_id: &str,
    source_bucket: &str,
    job_id: &str,
) -> Result<Followed, DrError> {
    let output =
        client.describe_job().account_id(account_id).job_id(job_id).send().await.aws(source_bucket, "DescribeJob")?;
    let job = output.job();
    let status = job.and_then(|j| j.status()).map_or("Unknown", |s| s.as_str());
    let failed = job.and_then(|j| j.progress_summary()).and_then(|p| p.number_of_tasks_failed()).unwrap_or(0);
    Ok(match job_state(status) {
        JobState::Running => Followed::Running,
        JobState::Complete if failed == 0 => Followed::Complete,
        JobState::Complete => Followed::CatchUpFailures,
        JobState::Failed => Followed::Restart,
    })
}

/// Where a job's completion report is: the report bucket (in the source region) and prefix.
pub struct ReportLocation<'a> {
    pub s3: &'a aws_sdk_s3::Client,
    pub bucket: &'a str,
    pub prefix: &'a str,
}

/// Poll the job once and fold what it says into `progress`. A failed or cancelled job, or a
/// complete one with failed tasks, is `BackfillFailed` naming the job and its report.
pub async fn poll_job(
    client: &aws_sdk_s3control::Client,
    account_id: &str,
    source_bucket: &str,
    destination_bucket: &str,
    report: Option<&ReportLocation<'_>>,
    progress: &mut Progress,
) -> Result<(), DrError> {
    let job_id = progress.job_id.clone().ok_or_else(|| {
        DrError::InvalidInput(format!("the batch backfill of {source_bucket} has no job id in its progress"))
    })?;
    let output =
        client.describe_job().account_id(account_id).job_id(&job_id).send().await.aws(source_bucket, "DescribeJob")?;
    let job = output.job().ok_or_else(|| DrError::Internal(format!("DescribeJob {job_id} returned no job")))?;
    let status = job.status().map_or("Unknown", |s| s.as_str()).to_owned();
    if let Some(summary) = job.progress_summary() {
        progress.objects_copied = summary.number_of_tasks_succeeded().unwrap_or(0).max(0) as u64;
        progress.objects_failed = summary.number_of_tasks_failed().unwrap_or(0).max(0) as u64;
    }
    progress.strategy = Some(Strategy::Batch);
    progress.job_status = Some(status.clone());
    progress.pages += 1;
    let failed = |detail: String| DrError::BackfillFailed {
        bucket: source_bucket.to_owned(),
        destination: destination_bucket.to_owned(),
        detail,
    };
    match job_state(&status) {
        JobState::Running => {}
        JobState::Complete if progress.objects_failed == 0 => progress.done = true,
        JobState::Complete => {
            // Failed tasks: archived objects S3 cannot replicate are reported, the rest fail.
            let failures = match report {
                Some(at) => Some(report::read_failures(at.s3, at.bucket, at.prefix, &job_id).await?),
                None => None,
            };
            match failures {
                Some(found) if found.failed == 0 => {
                    progress.objects_failed = 0;
                    progress.objects_not_replicable = found.not_replicable;
                    progress.not_replicable = found.not_replicable_sample;
                    progress.done = true;
                }
                Some(found) => {
                    return Err(failed(format!(
                        "S3 Batch Replication job {job_id} completed with {} tasks failed (first: {}){}; the completion report lists them all. Fix the cause and run the workflow again: a catch-up job takes the failed objects",
                        found.failed,
                        found.failed_sample.join("; "),
                        match found.not_replicable {
                            0 => String::new(),
                            n => format!(", and {n} objects are archived and cannot be replicated"),
                        }
                    )))
                }
                None => {
                    return Err(failed(format!(
                        "S3 Batch Replication job {job_id} completed with {} of its tasks failed; the completion report lists them. Fix the cause and run the workflow again",
                        progress.objects_failed
                    )))
                }
            }
        }
        JobState::Failed => {
            let reasons: Vec<String> = job
                .failure_reasons()
                .iter()
                .map(|f| format!("{}: {}", f.failure_code().unwrap_or("?"), f.failure_reason().unwrap_or("?")))
                .collect();
            let reasons = if reasons.is_empty() {
                job.status_update_reason().unwrap_or("no reason given").to_owned()
            } else {
                reasons.join("; ")
            };
            return Err(failed(format!(
                "S3 Batch Replication job {job_id} is {status} ({reasons}). Check the Batch Operations role and the report bucket, then run the workflow again"
            )));
        }
    }
    progress.summarize();
    Ok(())
}
