//! A repair is never postponed by the 15-minute name window: the Lambda names the executions it
//! starts `<workflow>-<bucket>-<window>`, and a name stays taken after its execution ended. Two
//! drifts and two sweeps inside one window: both repaired (the second as attempt `-a2`).
//! Its own test binary, so the sweeps see only this test's buckets.

mod common;

use std::time::Duration;

use aws_sdk_s3::types::BucketVersioningStatus;
use aws_sdk_sfn::types::ExecutionStatus;
use common::*;
use s3_dr::executions::DEDUP_WINDOW_SECONDS;
use serde_json::{json, Value};

/// The protect executions of `bucket` once none runs: (name, status).
async fn protect_executions_of(stack: &Stack, bucket: &str) -> Vec<(String, ExecutionStatus)> {
    settled_executions(stack, &["protect"], &format!("protect-{bucket}-"), Duration::from_secs(300)).await
}

async fn sweep(stack: &Stack) -> Value {
    let run = stack.run_workflow("sweep", json!({ "requestedBy": "name-window test" })).await;
    run.assert_succeeded();
    run.step("Sweep").clone()
}

fn window(at: std::time::SystemTime) -> u64 {
    at.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / DEDUP_WINDOW_SECONDS
}

#[tokio::test]
async fn two_drifts_and_two_sweeps_in_one_window_are_both_repaired() {
    // Without the weekly verification: the starts counted are the repairs'.
    let stack = stack_with(&[("S3DR_VERIFY_STATE_MACHINE_ARN", "")]);
    let source = unique("window");
    let destination = format!("{source}-dr");
    let s3 = source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;
    stack.run_protect(json!({ "bucket": source })).await.assert_succeeded();
    let dr = stack.s3(DR_REGION).await;

    // Drift 1: the replication configuration is deleted; the sweep repairs it.
    s3.delete_bucket_replication().bucket(&source).send().await.unwrap();
    let first_at = std::time::SystemTime::now();
    let first = sweep(stack).await;
    assert_eq!(first["started"].as_array().map(Vec::len), Some(1), "{first}");
    let after_first = protect_executions_of(stack, &source).await;
    assert!(s3_dr::bucket::replication(&s3, &source).await.unwrap().is_some(), "rule back");

    // Drift 2, minutes later at most: the destination's versioning is suspended. The window's
    // name is taken by the finished repair; the sweep starts the next attempt.
    set_versioning(&dr, &destination, BucketVersioningStatus::Suspended).await;
    let second_at = std::time::SystemTime::now();
    let second = sweep(stack).await;
    assert_eq!(second["started"].as_array().map(Vec::len), Some(1), "{second}");
    assert_eq!(second["alreadyStarted"], 0, "{second}");
    let after_second = protect_executions_of(stack, &source).await;
    assert_eq!(versioning(&dr, &destination).await, "Enabled");

    assert!(after_second.iter().all(|(_, status)| *status == ExecutionStatus::Succeeded), "{after_second:?}");
    let new: Vec<&String> =
        after_second.iter().map(|(name, _)| name).filter(|n| !after_first.iter().any(|(m, _)| m == *n)).collect();
    assert_eq!(new.len(), 1, "one more execution: {after_second:?}");
    if window(first_at) == window(second_at) {
        assert!(new[0].ends_with("-a2"), "the second attempt of the window: {new:?}");
    }
}
