//! Data verification on the local stack. moto never replicates, so each state verification must
//! detect can be made exactly: objects missing in DR, a size mismatch, objects in flight, the
//! recovery point's age. The verify workflow (the real ASL file) runs the step; `s3-dr verify`
//! and `s3-dr status` show the figures. What moto does not model (an object's replication
//! status, FAILED or PENDING) is pinned with aws-smithy-mocks at the end.

mod common;

use std::process::Command;
use std::time::Duration;

use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::types::ReplicationStatus;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use common::*;
use s3_dr::steps::Step;
use s3_dr::verify::{Comparison, Example, Problem};
use serde_json::{json, Value};
use tokio::sync::RwLock;

/// The sweep test starts verifications of whatever is due: the other tests' figures hold only
/// while it does not run.
static SWEEP: RwLock<()> = RwLock::const_new(());

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &[u8]) {
    s3.put_object().bucket(bucket).key(key).body(body.to_vec().into()).send().await.unwrap();
}

/// A bucket protected by the real workflow (copy backfill: its two objects are in DR).
async fn protected_bucket(stack: &Stack, prefix: &str) -> (String, aws_sdk_s3::Client) {
    let source = unique(prefix);
    let s3 = source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;
    stack.run_protect(json!({ "bucket": source })).await.assert_succeeded();
    (source, s3)
}

#[tokio::test]
async fn a_complete_copy_verifies_clean_and_the_record_shows_in_status() {
    let _no_sweep = SWEEP.read().await;
    let stack = stack();
    let (source, _) = protected_bucket(stack, "vd-clean").await;

    let run = stack.run_workflow("verify", json!({ "bucket": source })).await;
    run.assert_succeeded();
    let result = run.step("VerifyData");
    assert_eq!(result["complete"], true, "{result}");
    assert_eq!((result["sourceObjects"].as_u64(), result["drObjects"].as_u64()), (Some(2), Some(2)), "{result}");
    assert_eq!((result["missingInDr"].as_u64(), result["recoveryPointSeconds"].as_u64()), (Some(0), Some(0)));
    assert!(result["summary"].as_str().unwrap().starts_with("complete: all 2 objects"), "{result}");

    let dr = stack.s3(DR_REGION).await;
    let recorded = s3_dr::verify::recorded(&s3_dr::bucket::tags(&dr, &format!("{source}-dr")).await.unwrap());
    let recorded = recorded.expect("the DR bucket records the verification");
    assert!(recorded.is_clean(), "{recorded:?}");

    let status = cli(stack, &["status", &source, "--output", "json"], &[]);
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let report: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(report[0]["lastVerification"]["missingInDr"], 0, "{report}");
    assert_eq!(report[0]["protected"], true);
}

#[tokio::test]
async fn missing_objects_a_size_mismatch_and_objects_in_flight_are_counted_with_the_recovery_point() {
    let _no_sweep = SWEEP.read().await;
    let stack = stack();
    let (source, s3) = protected_bucket(stack, "vd-gaps").await;
    let destination = format!("{source}-dr");
    let dr = stack.s3(DR_REGION).await;
    // moto does not replicate: what is written to the source now is not in DR.
    put(&s3, &source, "missing-1.bin", &[1; 100]).await;
    put(&s3, &source, "missing-2.bin", &[2; 50]).await;
    // Same key, another size on the DR side.
    put(&s3, &source, "resized.bin", &[3; 10]).await;
    put(&dr, &destination, "resized.bin", &[3; 7]).await;
    // Only in DR: deleted in the source since, say. Not a loss.
    put(&dr, &destination, "only-in-dr.bin", &[4; 5]).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Written just now: in flight with a 2 s threshold, not missing.
    put(&s3, &source, "fresh.bin", &[5; 20]).await;

    let lambda = InProcess::new(stack, &[("S3DR_VERIFY_THRESHOLD_SECONDS", "2")]).await;
    let state = lambda.step("vd-gaps", Step::VerifyData, json!({ "bucket": source })).await.unwrap();
    let result = &state["VerifyData"];
    assert_eq!(result["complete"], true);
    assert_eq!(result["sourceObjects"], 6, "{result}");
    assert_eq!((result["missingInDr"].as_u64(), result["missingBytes"].as_u64()), (Some(3), Some(160)), "{result}");
    assert_eq!(result["sizeDiffers"], 1);
    assert_eq!((result["inFlight"].as_u64(), result["inFlightBytes"].as_u64()), (Some(1), Some(20)));
    assert_eq!(result["extraInDr"], 1);
    // The oldest object not in DR was written more than 3 s ago, and the clocks agree here.
    let recovery_point = result["recoveryPointSeconds"].as_u64().unwrap();
    assert!((3..60).contains(&recovery_point), "{recovery_point}");
    let keys: Vec<&str> = result["examples"].as_array().unwrap().iter().map(|e| e["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["missing-1.bin", "missing-2.bin", "resized.bin"]);
    // moto gives no replication status: the examples count as having none.
    assert_eq!(result["replicationStatus"]["none"], 3, "{result}");

    // status: the bucket is set up, but the last verification found objects missing.
    let status = cli(stack, &["status", &source], &[]);
    assert!(!status.status.success());
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert!(stderr.contains("found 3 objects missing in DR"), "{stderr}");

    // `s3-dr verify` says the same, with a non-zero exit.
    let verify = cli(stack, &["verify", &source, "--output", "json"], &[("S3DR_VERIFY_THRESHOLD_SECONDS", "0")]);
    assert!(!verify.status.success());
    let printed: Value = serde_json::from_slice(&verify.stdout).unwrap();
    assert_eq!(printed[0]["missingInDr"], 4, "with no threshold, fresh.bin counts too: {printed}");
    assert!(String::from_utf8_lossy(&verify.stderr).contains("4 of 6 objects missing in DR"));
}

#[tokio::test]
async fn a_bucket_larger_than_the_bound_is_reported_partial_never_complete() {
    let _no_sweep = SWEEP.read().await;
    let stack = stack();
    let (source, s3) = protected_bucket(stack, "vd-bound").await;
    for i in 0..3 {
        put(&s3, &source, &format!("later-{i}"), b"x").await;
    }
    // One object per run: the first page (5 objects) is more than the bound.
    let lambda =
        InProcess::new(stack, &[("S3DR_VERIFY_MAX_OBJECTS", "1"), ("S3DR_VERIFY_THRESHOLD_SECONDS", "0")]).await;
    let state = lambda.step("vd-bound", Step::VerifyData, json!({ "bucket": source })).await.unwrap();
    let result = &state["VerifyData"];
    assert_eq!(result["complete"], false, "{result}");
    assert!(result["summary"].as_str().unwrap().contains("partial"), "{result}");
    let dr = stack.s3(DR_REGION).await;
    let recorded = s3_dr::verify::recorded(&s3_dr::bucket::tags(&dr, &format!("{source}-dr")).await.unwrap()).unwrap();
    assert!(!recorded.complete && !recorded.is_clean(), "{recorded:?}");

    // Without the bound, the same bucket: complete, the 3 later objects missing.
    let lambda = InProcess::new(stack, &[("S3DR_VERIFY_THRESHOLD_SECONDS", "0")]).await;
    let state = lambda.step("vd-bound", Step::VerifyData, json!({ "bucket": source })).await.unwrap();
    assert_eq!(
        (state["VerifyData"]["complete"].as_bool(), state["VerifyData"]["missingInDr"].as_u64()),
        (Some(true), Some(3))
    );
}

#[tokio::test]
async fn an_unprotected_bucket_is_refused_by_name_and_changes_nothing() {
    let _no_sweep = SWEEP.read().await;
    let stack = stack();
    let plain = unique("vd-plain");
    let s3 = source_bucket(stack, &plain, SOURCE_REGION, &[]).await;
    let run = stack.run_workflow("verify", json!({ "bucket": plain })).await;
    run.assert_failed_with("NotProtected");
    assert!(s3_dr::bucket::tags(&s3, &plain).await.unwrap().is_empty());
    let run = stack.run_workflow("verify", json!({ "bucket": 7 })).await;
    run.assert_failed_with("InvalidInput");
}

#[tokio::test]
async fn the_sweep_starts_the_weekly_verification_of_a_protected_bucket_on_its_day() {
    let _only_sweep = SWEEP.write().await;
    let stack = stack();
    let now = s3_dr::verify::unix_seconds(std::time::SystemTime::now());
    // A name whose day is today (the hash spreads names over the week).
    let prefix = (0..)
        .map(|i| format!("vd-week{i}"))
        .find(|p| s3_dr::verify::is_due(&format!("{p}-{}-0", std::process::id()), None, now))
        .unwrap();
    let source = format!("{prefix}-{}-0", std::process::id());
    source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;
    stack.run_protect(json!({ "bucket": source })).await.assert_succeeded();

    let run = stack.run_workflow("sweep", json!({ "requestedBy": "verify test" })).await;
    run.assert_succeeded();
    let report = run.step("Sweep");
    let started: Vec<&str> = report["started"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(started.contains(&format!("{source}: verify (weekly)").as_str()), "{report}");
    let verifications =
        settled_executions(stack, &["verify"], &format!("verify-{source}-"), Duration::from_secs(120)).await;
    assert_eq!(verifications.len(), 1, "{verifications:?}");
    let dr = stack.s3(DR_REGION).await;
    let recorded = s3_dr::verify::recorded(&s3_dr::bucket::tags(&dr, &format!("{source}-dr")).await.unwrap());
    assert!(recorded.as_ref().is_some_and(|r| r.is_clean()), "{recorded:?}");

    // Verified today: the next sweep leaves it alone.
    let run = stack.run_workflow("sweep", json!({ "requestedBy": "verify test" })).await;
    let report = run.step("Sweep");
    assert!(!report.to_string().contains(&format!("{source}: verify")), "{report}");
}

#[tokio::test]
async fn a_drill_reads_a_sample_from_dr_and_names_each_object_that_does_not_restore() {
    let _no_sweep = SWEEP.read().await;
    let stack = stack();
    let (source, s3) = protected_bucket(stack, "vd-drill").await;
    let drill = cli(stack, &["drill", &source, "--sample", "5"], &[]);
    let stdout = String::from_utf8_lossy(&drill.stdout).into_owned();
    assert!(drill.status.success(), "{stdout}{}", String::from_utf8_lossy(&drill.stderr));
    assert!(stdout.contains(&format!("{source}: 2 of 2 passed")), "{stdout}");
    assert!(stdout.contains("DR READ") && stdout.contains("pass"), "{stdout}");

    // Same key and size, other bytes in DR; and an object not in DR at all.
    put(&stack.s3(DR_REGION).await, &format!("{source}-dr"), "a.txt", b"A.TXT").await;
    put(&s3, &source, "new.txt", b"new").await;
    let drill = cli(stack, &["drill", &source, "--sample", "5", "--seed", "7"], &[]);
    let stdout = String::from_utf8_lossy(&drill.stdout).into_owned();
    assert!(!drill.status.success(), "{stdout}");
    let line = |key: &str| stdout.lines().find(|l| l.starts_with(key)).unwrap_or_default().to_owned();
    assert!(line("a.txt").contains("FAIL: differs: content"), "{stdout}");
    assert!(line("new.txt").contains("FAIL: DR: missing"), "{stdout}");
    assert!(line("b/c.txt").ends_with("pass"), "{stdout}");
    assert!(String::from_utf8_lossy(&drill.stderr).contains("2 of 3 sampled objects do not restore"));
}

/// What S3 says of an object replication did not carry: HeadObject's x-amz-replication-status.
/// moto never sets it, so S3's answers are mocked.
#[tokio::test]
async fn replication_status_of_the_missing_examples_is_counted_failed_pending_or_none() {
    let status_of = |key: &'static str, status: Option<ReplicationStatus>| {
        mock!(aws_sdk_s3::Client::head_object)
            .match_requests(move |r| r.key() == Some(key))
            .then_output(move || HeadObjectOutput::builder().set_replication_status(status.clone()).build())
    };
    let failed = status_of("a", Some(ReplicationStatus::Failed));
    let pending = status_of("b", Some(ReplicationStatus::Pending));
    let none = status_of("c", None);
    let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&failed, &pending, &none]);
    let example = |key: &str| Example { key: key.to_owned(), problem: Problem::Missing, last_modified: 0 };
    let comparison = Comparison { examples: vec![example("a"), example("b"), example("c")], ..Comparison::default() };
    let counts = s3_dr::steps::verify_data::replication_statuses(&s3, "photos", &comparison).await.unwrap();
    assert_eq!((counts.failed, counts.pending, counts.none, counts.completed), (1, 1, 1, 0));
}

fn cli(stack: &Stack, args: &[&str], extra: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(cli_binary());
    command.args(args);
    for (key, value) in stack.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).chain(extra.iter().copied()) {
        command.env(key, value);
    }
    command.output().expect("run s3-dr")
}
