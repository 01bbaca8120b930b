//! A protected bucket never starts a second backfill: not a second Batch Replication job ($0.25
//! and a manifest scan of the whole bucket each), not a second copy pass. The stack is
//! configured for `batch`, as on AWS; moto has no S3 Control, so any call to it would fail the
//! run: a re-run that succeeds made none.

mod common;

use common::*;
use s3_dr::steps::Step;
use serde_json::json;

const BATCH_ENV: &[(&str, &str)] = &[
    ("S3DR_BACKFILL", "batch"),
    ("S3DR_BATCH_ROLE_ARN", "arn:aws:iam::123456789012:role/s3-dr-batch"),
    ("S3DR_BATCH_REPORT_BUCKET", "s3-dr-reports-{region}"),
];

#[tokio::test]
async fn a_re_run_on_a_backfilled_bucket_makes_no_job_and_no_write_whatever_the_strategy() {
    let stack = stack_with(BATCH_ENV);
    let source = unique("once");
    source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;
    // The first protection copies (the request overrides the configured strategy).
    let first = stack.run_protect(json!({ "bucket": source, "backfill": "copy" })).await;
    first.assert_succeeded();
    assert_eq!(first.step("CheckBackfill")["objectsCopied"], 2);

    // Then the configured batch strategy: the marker says it is done. No ListJobs, no CreateJob.
    let again = stack.run_protect(json!({ "bucket": source })).await;
    assert_no_backfill_and_no_write(&again);
    assert_eq!(again.step("StartBackfill")["strategy"], "batch");
    assert!(again.step("StartBackfill")["notNeeded"].as_str().unwrap().contains("backfilled already"));
    // Nor with copy asked for explicitly.
    assert_no_backfill_and_no_write(&stack.run_protect(json!({ "bucket": source, "backfill": "copy" })).await);
}

/// One backfill at a time. A run that finds another execution's fresh heartbeat leaves it the
/// work (a tag event or a manual run during a long copy would otherwise copy the same keys
/// again); one whose writer Step Functions says ended takes over where it stopped.
#[tokio::test]
async fn a_backfill_under_way_elsewhere_is_left_to_it_and_a_dead_ones_is_taken_over() {
    let stack = stack_with(BATCH_ENV);
    let source = unique("elsewhere");
    source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;
    let destination = format!("{source}-dr");
    let dr = stack.s3(DR_REGION).await;
    create_bucket(&dr, &destination, DR_REGION).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();

    // A copy under way, by a writer Step Functions cannot be asked about: its heartbeat is fresh.
    tag_bucket(&dr, &destination, &[("s3-dr:source", &source), ("s3-dr:backfill-progress", &format!("copy:{now}::b"))])
        .await;
    let left = stack.run_protect(json!({ "bucket": source, "backfill": "copy" })).await;
    left.assert_succeeded();
    let start = left.step("StartBackfill");
    assert_eq!((start["elsewhere"].as_bool(), start["done"].as_bool()), (Some(true), Some(true)), "{start}");
    let names: Vec<&str> = left.steps.iter().map(|(n, _)| n.as_str()).collect();
    assert!(!names.contains(&"CheckBackfill") && !names.contains(&"CloneSettings"), "{names:?}");
    assert!(dr.head_object().bucket(&destination).key("a.txt").send().await.is_err(), "nothing copied");
    // Forcing a new backfill meanwhile is refused by name, not dropped.
    let forced = stack.run_protect(json!({ "bucket": source, "backfill": "force" })).await;
    forced.assert_failed_with("BackfillFailed");
    assert!(forced.cause.as_deref().unwrap().contains("force again once it has ended"), "{forced:?}");

    // The same heartbeat, written by an execution that has ended: taken over after its cursor.
    tag_bucket(
        &dr,
        &destination,
        &[("s3-dr:source", &source), ("s3-dr:backfill-progress", &format!("copy:{now}:protect-ended-long-ago:a.txt"))],
    )
    .await;
    let taken = stack.run_protect(json!({ "bucket": source, "backfill": "copy" })).await;
    taken.assert_succeeded();
    assert_eq!(taken.step("StartBackfill")["resumedAfter"], "a.txt");
    assert_eq!(taken.step("CheckBackfill")["objectsCopied"], 1, "only b/c.txt, after the cursor");
    dr.head_object().bucket(&destination).key("b/c.txt").send().await.unwrap();
}

/// A repair owes a catch-up: EnableReplication records it on the destination
/// (`s3-dr:catch-up-owed`) before it puts the rule back, so a run that dies right after the repair does not leave the objects written
/// meanwhile behind unnoticed. Here the repairing run is driven in this process and abandoned
/// after EnableReplication; the next execution catches up.
#[tokio::test]
async fn a_catch_up_owed_by_a_run_that_died_after_the_repair_is_done_by_the_next() {
    let stack = stack_with(BATCH_ENV);
    let source = unique("owed");
    let s3 = source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;
    stack.run_protect(json!({ "bucket": source, "backfill": "copy" })).await.assert_succeeded();
    s3.delete_bucket_replication().bucket(&source).send().await.unwrap();
    s3.put_object().bucket(&source).key("meanwhile.txt").body(b"m".to_vec().into()).send().await.unwrap();

    let lambda = InProcess::new(stack, &[("S3DR_BACKFILL", "copy")]).await;
    let state = lambda.steps("repair-that-died", &UP_TO_THE_BACKFILL[..4], json!({ "bucket": source })).await;
    assert!(state["EnableReplication"]["gap"].is_string(), "{state}");
    let owed = s3_dr::backfill::state::BackfillTags::read(
        &s3_dr::bucket::tags(&stack.s3(DR_REGION).await, &format!("{source}-dr")).await.unwrap(),
    );
    assert!(owed.catch_up_owed.is_some(), "{owed:?}");

    // The rule is back, so nothing looks broken: only the destination's record says a catch-up
    // is owed. The next run, whatever started it, does it.
    let next = stack.run_protect(json!({ "bucket": source, "backfill": "copy" })).await;
    next.assert_succeeded();
    assert_eq!(next.step("EnableReplication")["changed"], false);
    assert_eq!(next.step("StartBackfill")["scope"], "catchUp");
    assert_eq!(next.step("CheckBackfill")["objectsCopied"], 1, "{:?}", next.step("CheckBackfill"));
    stack.s3(DR_REGION).await.head_object().bucket(format!("{source}-dr")).key("meanwhile.txt").send().await.unwrap();
    assert_no_backfill_and_no_write(&stack.run_protect(json!({ "bucket": source, "backfill": "copy" })).await);
}

/// Two runs that decided at the same moment both start a copy; the later heartbeat wins, and the
/// other run stops after the page it did (driven here in this process, as two executions).
#[tokio::test]
async fn of_two_runs_that_started_together_one_stops_after_a_page() {
    let stack = stack_with(BATCH_ENV);
    let source = unique("together");
    source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;
    let lambda = InProcess::new(stack, &[("S3DR_BACKFILL", "copy"), ("S3DR_COPY_PAGE_SIZE", "1")]).await;
    let state = lambda.steps("run-a", &UP_TO_THE_BACKFILL[..4], json!({ "bucket": source })).await;
    // Both decide from the same read of the destination, then each writes its heartbeat.
    let b = lambda.steps("run-b", &[Step::StartBackfill], state.clone()).await;
    let a = lambda.steps("run-a", &[Step::StartBackfill], state).await;
    assert_eq!(
        (a["StartBackfill"]["elsewhere"].as_bool(), b["StartBackfill"]["elsewhere"].as_bool()),
        (Some(false), Some(false))
    );
    // run-a wrote last: run-b finds it at the end of its first page and stops.
    let b = lambda.steps("run-b", &[Step::CheckBackfill], b).await;
    assert_eq!(b["CheckBackfill"]["elsewhere"], true, "{}", b["CheckBackfill"]);
    let a = lambda.steps("run-a", &[Step::CheckBackfill], a).await;
    assert_eq!(a["CheckBackfill"]["elsewhere"], false, "{}", a["CheckBackfill"]);
}

/// A repair made while a copy runs (its scan began before the gap) leaves a catch-up owed; the
/// copy, when it finishes, goes round again from the start rather than mark the destination done.
#[tokio::test]
async fn a_catch_up_owed_during_a_copy_is_done_by_that_copy_before_it_ends() {
    let stack = stack_with(BATCH_ENV);
    let source = unique("during");
    let s3 = source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;
    let lambda = InProcess::new(stack, &[("S3DR_BACKFILL", "copy")]).await;
    let state = lambda.steps("the-copy", &UP_TO_THE_BACKFILL, json!({ "bucket": source })).await;
    // Meanwhile, a second later: a repair elsewhere records a catch-up owed after this scan began.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let destination = format!("{source}-dr");
    let dr = stack.s3(DR_REGION).await;
    assert!(s3_dr::backfill::owe_catch_up(&dr, &destination).await.unwrap());
    s3.put_object().bucket(&source).key("meanwhile.txt").body(b"m".to_vec().into()).send().await.unwrap();
    let state = lambda.steps("the-copy", &[Step::CheckBackfill], state).await;
    let progress = &state["CheckBackfill"];
    assert_eq!((progress["done"].as_bool(), progress["scope"].as_str()), (Some(false), Some("catchUp")), "{progress}");
    let state = lambda.steps("the-copy", &[Step::CheckBackfill], state).await;
    assert_eq!(state["CheckBackfill"]["done"], true, "{}", state["CheckBackfill"]);
    dr.head_object().bucket(&destination).key("meanwhile.txt").send().await.unwrap();
    let tags = s3_dr::backfill::state::BackfillTags::read(&s3_dr::bucket::tags(&dr, &destination).await.unwrap());
    assert_eq!((tags.catch_up_owed, tags.progress.is_none(), tags.marker.is_some()), (None, true, true), "{tags:?}");
}
