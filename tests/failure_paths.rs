//! Failure paths no other test reaches: VerificationFailed, a disabled DR key, a start that
//! finds its execution already running, and malformed input to the detach and sweep workflows.
//! The paths that need S3 or Lambda to fail (a fault that clears, a timed-out or crashed
//! invocation, a multipart copy that cannot finish, an unreadable bucket in a sweep) are in
//! tests/faults.rs, which puts a fault-injecting proxy in front of S3.

mod common;

use aws_sdk_s3::types::BucketVersioningStatus;
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use aws_sdk_sfn::operation::start_execution::StartExecutionOutput;
use aws_sdk_sfn::types::ExecutionStatus;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_types::DateTime;
use common::*;
use s3_dr::executions::{start, Started};
use s3_dr::steps::Step;
use serde_json::{json, Value};

/// The last step checks what the others did: a rule removed and the destination's versioning
/// suspended between them (someone else's change mid-run) fail the run by name, listing both.
#[tokio::test]
async fn a_setup_broken_before_the_last_step_fails_verification_by_name() {
    let stack = stack();
    let source = unique("verify");
    let s3 = source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;
    let lambda = InProcess::new(stack, &[("S3DR_BACKFILL", "off")]).await;
    let steps = [
        Step::ValidateSource,
        Step::EnableSourceVersioning,
        Step::EnsureDestination,
        Step::EnableReplication,
        Step::StartBackfill,
        Step::CloneSettings,
    ];
    let state = lambda.steps("verify-run", &steps, json!({ "bucket": source })).await;

    s3.delete_bucket_replication().bucket(&source).send().await.unwrap();
    set_versioning(&stack.s3(DR_REGION).await, &format!("{source}-dr"), BucketVersioningStatus::Suspended).await;
    let error = lambda.step("verify-run", Step::VerifyProtection, state).await.expect_err("verification fails");

    assert_eq!(error.error_type(), "VerificationFailed", "{error}");
    let message = error.to_string();
    assert!(message.contains(&source) && message.contains("replication rule s3-dr is missing"), "{message}");
    assert!(message.contains("versioning"), "the destination's versioning is named too: {message}");
    assert!(message.contains("Run the workflow again"), "says what to do: {message}");
}

/// A DR key that exists but is disabled cannot encrypt replicas: refused before anything is
/// written, with the key's state and the setting to change.
#[tokio::test]
async fn a_disabled_dr_key_is_refused_before_anything_changes() {
    let stack = stack();
    let kms = stack.kms(DR_REGION).await;
    let key = kms.create_key().description("s3-dr tests: a disabled DR key").send().await.unwrap();
    let key_arn = key.key_metadata().and_then(|m| m.arn()).unwrap().to_owned();
    kms.disable_key().key_id(key.key_metadata().unwrap().key_id()).send().await.unwrap();
    let source = unique("disabled-key");
    let s3 = source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;

    let lambda = InProcess::new(stack, &[("S3DR_DR_KMS_KEY", key_arn.as_str()), ("S3DR_BACKFILL", "copy")]).await;
    let error = lambda.step("disabled-key-run", Step::ValidateSource, json!({ "bucket": source })).await.unwrap_err();

    assert_eq!(error.error_type(), "KmsKeyMissing", "{error}");
    let message = error.to_string();
    assert!(message.contains("Disabled") && message.contains(&key_arn), "{message}");
    assert!(message.contains("S3DR_DR_KMS_KEY"), "names the setting: {message}");
    assert_eq!(versioning(&s3, &source).await, "Off", "source versioning untouched");
    let destination = stack.s3(DR_REGION).await.head_bucket().bucket(format!("{source}-dr")).send().await;
    assert!(destination.is_err(), "no destination created");
}

/// `ExecutionAlreadyExists` for an execution that still runs is the same work under way:
/// nothing else is started. For one that ended, the next attempt's name is started. Step
/// Functions' answers are mocked: no emulator here holds an execution running on demand.
#[tokio::test]
async fn a_start_that_finds_its_execution_running_starts_nothing() {
    let machine = "arn:aws:states:us-east-1:123456789012:stateMachine:s3-dr-protect-bucket";
    let already = mock!(aws_sdk_sfn::Client::start_execution)
        .match_requests(|r| r.name() == Some("protect-photos-20261126T0515"))
        .sequence()
        .http_status(400, Some(r#"{"__type": "ExecutionAlreadyExists", "message": "Execution Already Exists"}"#.into()))
        .build();
    let running = mock!(aws_sdk_sfn::Client::describe_execution).then_output(|| described(ExecutionStatus::Running));
    let sfn = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [&already, &running]);
    let started = start(&sfn, machine, "protect-photos-20261126T0515", "photos", &json!({})).await.unwrap();
    assert_eq!(started, Started::AlreadyStarted("protect-photos-20261126T0515".into()));
    assert_eq!((already.num_calls(), running.num_calls()), (1, 1));

    let already = mock!(aws_sdk_sfn::Client::start_execution)
        .match_requests(|r| r.name() == Some("protect-photos-20261126T0515"))
        .sequence()
        .http_status(400, Some(r#"{"__type": "ExecutionAlreadyExists", "message": "Execution Already Exists"}"#.into()))
        .build();
    let ended = mock!(aws_sdk_sfn::Client::describe_execution).then_output(|| described(ExecutionStatus::Succeeded));
    let next = mock!(aws_sdk_sfn::Client::start_execution)
        .match_requests(|r| r.name() == Some("protect-photos-20261126T0515-a2"))
        .then_output(|| {
            StartExecutionOutput::builder()
                .execution_arn("arn:next")
                .start_date(DateTime::from_secs(0))
                .build()
                .unwrap()
        });
    let sfn = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [&already, &ended, &next]);
    let started = start(&sfn, machine, "protect-photos-20261126T0515", "photos", &json!({})).await.unwrap();
    assert_eq!(started, Started::Started("arn:next".into()));
}

fn described(status: ExecutionStatus) -> DescribeExecutionOutput {
    DescribeExecutionOutput::builder()
        .execution_arn("arn:aws:states:us-east-1:123456789012:execution:s3-dr-protect-bucket:x")
        .state_machine_arn("arn:aws:states:us-east-1:123456789012:stateMachine:s3-dr-protect-bucket")
        .status(status)
        .start_date(DateTime::from_secs(0))
        .build()
        .unwrap()
}

/// Malformed objects (not only non-objects, tests/protect_workflow.rs) to the detach and sweep
/// workflows: each is `InvalidInput` at the first step, and nothing runs after it.
#[tokio::test]
async fn malformed_input_to_detach_and_sweep_is_invalid_input() {
    let stack = stack();
    let deep = (0..300).fold(json!("x"), |inner, _| json!({ "a": inner }));
    let cases: Vec<(&str, Value)> = vec![
        ("detach", json!({})),
        ("detach", json!({ "bucket": 42 })),
        ("detach", json!({ "bucket": ["photos"] })),
        ("detach", json!({ "bucket": "Not A Bucket!" })),
        ("detach", json!({ "bucket": "x".repeat(100_000) })),
        ("detach", json!({ "bucket": deep.clone() })),
        ("sweep", json!({ "requestedBy": deep })),
    ];
    for (workflow, input) in cases {
        let run = stack.run_workflow(workflow, input.clone()).await;
        let shown: String = input.to_string().chars().take(80).collect();
        run.assert_failed_with("InvalidInput");
        let cause = run.cause.as_deref().unwrap_or_default();
        assert!(
            !cause.is_empty() && cause.len() < 2_500,
            "{workflow} {shown}: a short cause: {} characters",
            cause.len()
        );
        assert!(run.steps.is_empty(), "{workflow} {shown}: nothing ran: {run:?}");
    }
}
