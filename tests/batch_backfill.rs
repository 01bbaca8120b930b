//! The `batch` backfill against S3 Control, which no emulator offers: aws-smithy-mocks stand in
//! for CreateJob, ListJobs and DescribeJob, so that what s3-dr asks S3 for, and how it reads the
//! answers, is checked here. (S3 copying the objects is AWS's part.)

use aws_sdk_s3control::config::retry::RetryConfig;
use aws_sdk_s3control::operation::create_job::CreateJobOutput;
use aws_sdk_s3control::operation::describe_job::DescribeJobOutput;
use aws_sdk_s3control::operation::list_jobs::ListJobsOutput;
use aws_sdk_s3control::types::{
    JobDescriptor, JobFailure, JobListDescriptor, JobManifestGenerator, JobProgressSummary, JobReportFormat,
    JobReportScope, JobStatus, ReplicationStatus,
};
use aws_sdk_s3control::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use s3_dr::backfill::batch::{self, JobRequest};
use s3_dr::backfill::{Progress, Scope, Strategy};
use s3_dr::clients::Clients;
use s3_dr::config::Config;
use s3_dr::plan::{Action, DestinationPlan, SourcePlan};
use s3_dr::steps::start_backfill::job_request;
use s3_dr::steps::StepContext;

const ACCOUNT: &str = "123456789012";
const BATCH_ROLE: &str = "arn:aws:iam::123456789012:role/s3-dr-batch";

fn config() -> Config {
    let vars = [
        ("S3DR_REPLICATION_ROLE_ARN", "arn:aws:iam::123456789012:role/s3-dr-replication"),
        ("S3DR_BATCH_ROLE_ARN", BATCH_ROLE),
        ("S3DR_BATCH_REPORT_BUCKET", "s3-dr-reports-{region}"),
    ];
    Config::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())).unwrap()
}

fn plan() -> (SourcePlan, DestinationPlan) {
    let destination = DestinationPlan { bucket: "photos-dr".into(), region: "us-east-2".into(), exists: true };
    let plan = SourcePlan {
        action: Action::Protect,
        bucket: "photos".into(),
        region: "us-west-2".into(),
        tagged: true,
        trigger: "manual".into(),
        reason: None,
        destination: Some(destination.clone()),
        source_encryption: None,
        replica_kms_key_arn: None,
        object_lock: false,
        backfill: Some(Strategy::Batch),
        force_backfill: false,
        copy_shards: None,
        source_versioning: None,
        continues: None,
        changed: false,
    };
    (plan, destination)
}

async fn request_for(execution: &str) -> JobRequest {
    request_with(execution, Scope::Full).await
}

async fn request_with(execution: &str, scope: Scope) -> JobRequest {
    let config = config();
    let clients = Clients::new(aws_config::SdkConfig::builder().build());
    let context = StepContext {
        config: &config,
        clients: &clients,
        account_id: Some(ACCOUNT.to_owned()),
        dry_run: false,
        deadline: None,
    };
    let (plan, destination) = plan();
    job_request(&context, &plan, &destination, Some(execution), scope).unwrap()
}

fn s3control_error(status: u16, code: &str) -> (u16, Option<String>) {
    (
        status,
        Some(format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>m</Message><RequestId>R</RequestId></Error>"#
        )),
    )
}

/// What a first backfill must take: every object, whatever its replication history. Objects
/// replicated to another destination (COMPLETED, by a foreign rule s3-dr keeps) and replicas
/// (REPLICA) have never reached the DR bucket, and a job filtered to NONE/FAILED would skip
/// them and still report success.
const EVERY_STATUS: [ReplicationStatus; 4] =
    [ReplicationStatus::None, ReplicationStatus::Failed, ReplicationStatus::Completed, ReplicationStatus::Replica];

#[tokio::test]
async fn the_job_replicates_every_eligible_object_whatever_its_history_and_reports_to_the_source_region() {
    let request = request_for("protect-photos-1").await;
    assert_eq!(request.report_bucket, "s3-dr-reports-us-west-2");
    assert_eq!(request.report_prefix, "s3-dr/batch-reports/photos");
    let expected_token = request.token.clone();
    let create = mock!(Client::create_job)
        .match_requests(move |job| {
            let Some(JobManifestGenerator::S3JobManifestGenerator(generator)) = job.manifest_generator() else {
                return false;
            };
            let filter = generator.filter().unwrap();
            let report = job.report().unwrap();
            job.account_id() == Some(ACCOUNT)
                && job.operation().and_then(|o| o.s3_replicate_object()).is_some()
                && job.operation().and_then(|o| o.s3_put_object_copy()).is_none()
                && generator.source_bucket() == "arn:aws:s3:::photos"
                && generator.expected_bucket_owner() == Some(ACCOUNT)
                && filter.eligible_for_replication() == Some(true)
                && filter.object_replication_statuses() == EVERY_STATUS
                && report.enabled()
                && report.bucket() == Some("arn:aws:s3:::s3-dr-reports-us-west-2")
                && report.prefix() == Some("s3-dr/batch-reports/photos")
                && report.format() == Some(&JobReportFormat::ReportCsv20180820)
                && report.report_scope() == Some(&JobReportScope::AllTasks)
                && job.role_arn() == Some(BATCH_ROLE)
                && job.client_request_token() == Some(expected_token.as_str())
                && job.confirmation_required() == Some(false)
                && job.description() == Some("s3-dr backfill of photos to photos-dr")
        })
        .then_output(|| CreateJobOutput::builder().job_id("job-1").build());
    let client = mock_client!(aws_sdk_s3control, RuleMode::MatchAny, [&create]);
    assert_eq!(batch::create_job(&client, &request).await.unwrap(), "job-1");
    assert_eq!(create.num_calls(), 1);
}

#[tokio::test]
async fn a_catch_up_after_a_repair_takes_only_what_replication_did_not_copy() {
    let request = request_with("protect-photos-3", Scope::CatchUp).await;
    let create = mock!(Client::create_job)
        .match_requests(|job| {
            let Some(JobManifestGenerator::S3JobManifestGenerator(generator)) = job.manifest_generator() else {
                return false;
            };
            generator.filter().map(|f| f.object_replication_statuses())
                == Some(&[ReplicationStatus::None, ReplicationStatus::Failed][..])
        })
        .then_output(|| CreateJobOutput::builder().job_id("job-2").build());
    let client = mock_client!(aws_sdk_s3control, RuleMode::MatchAny, [&create]);
    assert_eq!(batch::create_job(&client, &request).await.unwrap(), "job-2");
    assert_eq!(create.num_calls(), 1);
    // A catch-up is another job than a full backfill of the same execution.
    assert_ne!(request_for("protect-photos-3").await.token, request.token);
}

#[tokio::test]
async fn a_retry_asks_with_the_same_token_and_a_new_execution_with_another() {
    let first = request_for("protect-photos-1").await;
    assert_eq!(first.token, request_for("protect-photos-1").await.token);
    assert_ne!(first.token, request_for("protect-photos-2").await.token);
    assert!(first.token.len() <= 64);
}

#[tokio::test]
async fn an_unfinished_job_for_the_bucket_is_followed_instead_of_starting_another() {
    let request = request_for("protect-photos-2").await;
    let list = mock!(Client::list_jobs)
        .match_requests(|r| {
            r.job_statuses().contains(&JobStatus::Active) && !r.job_statuses().contains(&JobStatus::Complete)
        })
        .then_output(|| {
            ListJobsOutput::builder()
                .jobs(
                    JobListDescriptor::builder()
                        .job_id("other")
                        .description("s3-dr backfill of videos to videos-dr")
                        .build(),
                )
                .jobs(
                    JobListDescriptor::builder()
                        .job_id("job-1")
                        .description("s3-dr backfill of photos to photos-dr")
                        .build(),
                )
                .build()
        });
    let client = mock_client!(aws_sdk_s3control, RuleMode::MatchAny, [&list]);
    assert_eq!(batch::find_running_job(&client, &request).await.unwrap().as_deref(), Some("job-1"));

    let none = mock!(Client::list_jobs).then_output(|| ListJobsOutput::builder().build());
    let client = mock_client!(aws_sdk_s3control, RuleMode::MatchAny, [&none]);
    assert_eq!(batch::find_running_job(&client, &request).await.unwrap(), None);
}

fn job(status: JobStatus, succeeded: i64, failed: i64) -> DescribeJobOutput {
    DescribeJobOutput::builder()
        .job(
            JobDescriptor::builder()
                .job_id("job-1")
                .status(status)
                .progress_summary(
                    JobProgressSummary::builder()
                        .total_number_of_tasks(succeeded + failed)
                        .number_of_tasks_succeeded(succeeded)
                        .number_of_tasks_failed(failed)
                        .build(),
                )
                .failure_reasons(
                    JobFailure::builder()
                        .failure_code("AccessDenied")
                        .failure_reason("role cannot read manifest")
                        .build(),
                )
                .build(),
        )
        .build()
}

fn started() -> Progress {
    Progress { strategy: Some(Strategy::Batch), job_id: Some("job-1".into()), ..Progress::default() }
}

#[tokio::test]
async fn polling_follows_the_job_until_it_is_complete_and_reports_its_counts() {
    let describe = mock!(Client::describe_job)
        .match_requests(|r| r.job_id() == Some("job-1") && r.account_id() == Some(ACCOUNT))
        .sequence()
        .output(|| job(JobStatus::Preparing, 0, 0))
        .output(|| job(JobStatus::Active, 400, 0))
        .output(|| job(JobStatus::Complete, 1000, 0))
        .build();
    let client = mock_client!(aws_sdk_s3control, RuleMode::MatchAny, [&describe]);
    let mut progress = started();
    let mut polls = 0;
    while !progress.done {
        batch::poll_job(&client, ACCOUNT, "photos", "photos-dr", None, &mut progress).await.unwrap();
        polls += 1;
        assert!(polls <= 3, "still polling after the job completed: {progress:?}");
    }
    assert_eq!((progress.objects_copied, progress.objects_failed, progress.pages), (1000, 0, 3));
    assert_eq!(progress.job_status.as_deref(), Some("Complete"));
    assert!(progress.summary.contains("job-1"), "{}", progress.summary);
}

#[tokio::test]
async fn a_failed_job_is_a_named_error_with_the_job_id_and_the_reason() {
    let describe = mock!(Client::describe_job).then_output(|| job(JobStatus::Failed, 0, 0));
    let client = mock_client!(aws_sdk_s3control, RuleMode::MatchAny, [&describe]);
    let error = batch::poll_job(&client, ACCOUNT, "photos", "photos-dr", None, &mut started()).await.unwrap_err();
    assert_eq!(error.error_type(), "BackfillFailed");
    let message = error.to_string();
    assert!(
        message.contains("job-1") && message.contains("photos") && message.contains("role cannot read manifest"),
        "{message}"
    );

    // Complete, but with failed tasks: not a success either.
    let describe = mock!(Client::describe_job).then_output(|| job(JobStatus::Complete, 990, 10));
    let client = mock_client!(aws_sdk_s3control, RuleMode::MatchAny, [&describe]);
    let error = batch::poll_job(&client, ACCOUNT, "photos", "photos-dr", None, &mut started()).await.unwrap_err();
    assert_eq!(error.error_type(), "BackfillFailed");
    assert!(error.to_string().contains("10 of its tasks failed"), "{error}");
}

#[tokio::test]
async fn s3_control_throttling_is_retried_and_a_missing_permission_is_not() {
    let (status, body) = s3control_error(503, "ServiceUnavailable");
    let describe = mock!(Client::describe_job).sequence().http_status(status, body).build();
    let client =
        mock_client!(aws_sdk_s3control, RuleMode::Sequential, [&describe], |b| b.retry_config(RetryConfig::disabled()));
    let error = batch::poll_job(&client, ACCOUNT, "photos", "photos-dr", None, &mut started()).await.unwrap_err();
    assert_eq!(error.error_type(), "TransientAwsError");

    let (status, body) = s3control_error(403, "AccessDenied");
    let create = mock!(Client::create_job).sequence().http_status(status, body).build();
    let client =
        mock_client!(aws_sdk_s3control, RuleMode::Sequential, [&create], |b| b.retry_config(RetryConfig::disabled()));
    let error = batch::create_job(&client, &request_for("x").await).await.unwrap_err();
    assert_eq!(error.error_type(), "AccessDenied");
    assert!(error.to_string().contains("CreateJob"), "{error}");
}

/// A job that completed with failed tasks: the completion report says which. Archived objects
/// (S3 cannot replicate them) are reported and the backfill is done; any other failure is
/// `BackfillFailed` naming the objects, as before.
#[tokio::test]
async fn a_jobs_archived_objects_are_reported_from_its_completion_report_and_other_failures_fail() {
    use aws_sdk_s3::operation::get_object::GetObjectOutput;
    use aws_sdk_s3::primitives::ByteStream;
    use s3_dr::backfill::batch::ReportLocation;

    let manifest = r#"{"Format":"Report_CSV_20180820","ReportCreationDate":"2026-11-26T12:00:00Z",
        "Results":[{"TaskExecutionStatus":"failed","Bucket":"s3-dr-reports-us-west-2","MD5Checksum":"x","Key":"s3-dr/batch-reports/photos/job-job-1/results/f.csv"}],
        "ReportSchema":"Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage"}"#;
    for (rows, archived_only) in [
        ("photos,cold/a.tar,v1,failed,InvalidObjectState,403,archived\nphotos,cold/b.tar,v2,failed,InvalidObjectState,403,archived\n", true),
        ("photos,cold/a.tar,v1,failed,InvalidObjectState,403,archived\nphotos,hot/c.jpg,v3,failed,AccessDenied,403,Access Denied\n", false),
    ] {
        let describe = mock!(Client::describe_job).then_output(|| job(JobStatus::Complete, 998, 2));
        let control = mock_client!(aws_sdk_s3control, RuleMode::MatchAny, [&describe]);
        let get_manifest = mock!(aws_sdk_s3::Client::get_object)
            .match_requests(|r| r.bucket() == Some("s3-dr-reports-us-west-2") && r.key() == Some("s3-dr/batch-reports/photos/job-job-1/manifest.json"))
            .then_output(move || GetObjectOutput::builder().body(ByteStream::from_static(manifest.as_bytes())).build());
        let get_rows = mock!(aws_sdk_s3::Client::get_object)
            .match_requests(|r| r.key() == Some("s3-dr/batch-reports/photos/job-job-1/results/f.csv"))
            .then_output(move || GetObjectOutput::builder().body(ByteStream::from_static(rows.as_bytes())).build());
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&get_manifest, &get_rows]);
        let report = ReportLocation { s3: &s3, bucket: "s3-dr-reports-us-west-2", prefix: "s3-dr/batch-reports/photos" };
        let mut progress = started();
        let result = batch::poll_job(&control, ACCOUNT, "photos", "photos-dr", Some(&report), &mut progress).await;
        if archived_only {
            result.unwrap();
            assert!(progress.done);
            assert_eq!((progress.objects_not_replicable, progress.objects_failed), (2, 0));
            assert_eq!(progress.not_replicable[0], "cold/a.tar: archived (InvalidObjectState), not restored");
        } else {
            let error = result.unwrap_err();
            assert_eq!(error.error_type(), "BackfillFailed");
            let message = error.to_string();
            assert!(message.contains("hot/c.jpg: AccessDenied") && message.contains("1 objects are archived"), "{message}");
        }
    }
}
