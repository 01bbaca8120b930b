//! No bucket is too big for the workflow. A Standard execution ends at 25,000 history events,
//! so the backfill hands over to a new execution of the same state machine before its budget
//! (`S3DR_HISTORY_EVENT_BUDGET`, tiny here) runs out; and one invocation stops taking objects
//! when the Lambda's deadline comes near.

mod common;

use std::time::{Duration, SystemTime};

use common::*;
use s3_dr::steps::{dispatch, StepContext};
use serde_json::{json, Value};

/// A budget of 144 events: (144 - 120) / 12 = 2 loop turns per execution.
const LAMBDA_ENV: &[(&str, &str)] =
    &[("S3DR_BACKFILL", "copy"), ("S3DR_COPY_PAGE_SIZE", "10"), ("S3DR_HISTORY_EVENT_BUDGET", "144")];
const OBJECTS: usize = 50;

async fn source_with_objects(stack: &Stack, prefix: &str, count: usize) -> String {
    let keys: Vec<String> = (0..count).map(|i| format!("o/{i:03}")).collect();
    tagged_source_with_keys(stack, prefix, &keys).await
}

#[tokio::test]
async fn a_backfill_longer_than_one_execution_hands_over_and_copies_every_object_once() {
    let stack = stack_with(LAMBDA_ENV);
    let source = source_with_objects(stack, "handover", OBJECTS).await;
    let sfn = stack.sfn().await;

    // Follow the chain: each execution ends handing over, until the last protects the bucket.
    let mut run = stack.run_protect(json!({ "bucket": source })).await;
    let first = run.output.clone();
    let mut names = Vec::new();
    while let Some(next) = run.output.pointer("/ContinueAsNew/execution").and_then(Value::as_str) {
        run.assert_succeeded();
        assert_eq!(run.step("CheckBackfill")["handover"], true);
        names.push(next.to_owned());
        let arn = format!("{}:{next}", stack.state_machine_arn.replace(":stateMachine:", ":execution:"));
        run = wait_execution(&sfn, &arn).await;
        assert!(names.len() < 10, "no end to the hand-overs: {names:?}");
    }
    run.assert_succeeded();
    assert!(names.len() >= 2, "at least two hand-overs: {names:?}");
    assert!(names[0].ends_with("-g1") && names[1].ends_with("-g2"), "{names:?}");
    // The progress travelled: the last execution's counts are the whole backfill's.
    let backfill = run.step("CheckBackfill");
    assert_eq!(
        (backfill["objectsCopied"].as_u64(), backfill["objectsSkipped"].as_u64()),
        (Some(OBJECTS as u64), Some(0)),
        "{backfill}"
    );
    assert_eq!(run.step("VerifyProtection")["protected"], true);
    // Every object exactly once.
    let copies = versions(&stack.s3(DR_REGION).await, &format!("{source}-dr")).await;
    assert_eq!(copies.len(), OBJECTS);
    assert!(copies.values().all(|&n| n == 1), "{copies:?}");

    // A retried hand-over finds the execution it started: it cannot fork the backfill.
    let lambda = InProcess::new(stack, LAMBDA_ENV).await;
    let context = lambda.context();
    let mut state = first.clone();
    state.as_object_mut().unwrap().remove("ContinueAsNew");
    let root = names[0].trim_end_matches("-g1").to_owned();
    let retried = dispatch(
        &context,
        &json!({"step": "ContinueAsNew", "input": state, "execution": root, "stateMachine": stack.state_machine_arn}),
    )
    .await
    .unwrap();
    assert_eq!(retried["ContinueAsNew"]["execution"], names[0].as_str());
    assert_eq!(retried["ContinueAsNew"]["started"], false, "{retried}");
}

/// Split into key ranges (the request's `copyShards`), the backfill hands over between Map
/// rounds: the budget fits one round of 3 shards a page each, so each execution after the first
/// runs one round, and the shards' cursors travel in `$.continues`.
#[tokio::test]
async fn a_split_backfill_hands_over_between_rounds_and_copies_every_object_once() {
    let stack = stack_with(LAMBDA_ENV);
    let source = source_with_objects(stack, "handover-split", OBJECTS).await;
    let sfn = stack.sfn().await;
    let mut run = stack.run_protect(json!({ "bucket": source, "copyShards": 3 })).await;
    let mut handovers = 0;
    let mut rounds = 0;
    while let Some(next) = run.output.pointer("/ContinueAsNew/execution").and_then(Value::as_str) {
        run.assert_succeeded();
        assert_eq!(run.step("CheckBackfill")["shards"].as_array().map(Vec::len), Some(3), "{:?}", run.output);
        rounds += run.steps.iter().filter(|(name, _)| name == "CopyShard").count().min(1);
        handovers += 1;
        let arn = format!("{}:{next}", stack.state_machine_arn.replace(":stateMachine:", ":execution:"));
        run = wait_execution(&sfn, &arn).await;
        assert!(handovers < 20, "no end to the hand-overs");
    }
    run.assert_succeeded();
    assert!(handovers >= 2 && rounds >= 1, "rounds in several executions: {handovers} hand-overs");
    let backfill = run.step("CheckBackfill");
    assert_eq!(
        (backfill["objectsCopied"].as_u64(), backfill["objectsSkipped"].as_u64(), backfill["done"].as_bool()),
        (Some(OBJECTS as u64), Some(0), Some(true)),
        "the shards' progress travelled: {backfill}"
    );
    let copies = versions(&stack.s3(DR_REGION).await, &format!("{source}-dr")).await;
    assert_eq!(copies.len(), OBJECTS);
    assert!(copies.values().all(|&n| n == 1), "{copies:?}");
}

#[tokio::test]
async fn a_page_stops_taking_objects_when_the_invocation_is_about_to_end() {
    let stack = stack_with(LAMBDA_ENV);
    let source = source_with_objects(stack, "deadline", 5).await;
    let lambda = InProcess::new(stack, &[("S3DR_BACKFILL", "copy")]).await;
    let mut state = lambda.steps("deadline", &UP_TO_THE_BACKFILL, json!({ "bucket": source })).await;
    // An invocation whose deadline is a minute away (less than the margin a copy needs): each
    // turn copies the one object it must (progress is guaranteed), then stops and says where.
    let late = StepContext { deadline: Some(SystemTime::now() + Duration::from_secs(60)), ..lambda.context() };
    for turn in 1..=3u64 {
        state = dispatch(&late, &json!({ "step": "CheckBackfill", "input": state, "execution": "deadline" }))
            .await
            .unwrap();
        let progress = &state["CheckBackfill"];
        assert_eq!(
            (progress["objectsCopied"].as_u64(), progress["done"].as_bool()),
            (Some(turn), Some(false)),
            "{progress}"
        );
        assert_eq!(progress["continueAfter"], format!("o/{:03}", turn - 1));
    }
}
