//! Failover on the local stack, with the source's region down: the fault proxy refuses every
//! call the Lambda signs for that region (503 ServiceUnavailable), and the failover workflow (the
//! real ASL file) still makes the DR bucket the primary. Bad states are refused by name and
//! change nothing; the sweep leaves a failed-over bucket alone; a drill changes nothing.
//! MRAP routing (S3 Control, not in moto) is pinned in tests/failover_mocks.rs.

mod common;

use common::*;
use s3_dr::steps::Step;
use serde_json::{json, Value};
use tokio::sync::Mutex;

/// One proxy (settings global) and one sweep for the binary: the tests take turns.
static TURN: Mutex<()> = Mutex::const_new(());

fn outage_stack() -> &'static Stack {
    common::stack_with_args(&[("S3DR_VERIFY_STATE_MACHINE_ARN", "")], &["--s3-fault-proxy"])
}

fn faults(stack: &Stack, settings: Value) {
    let url = stack.env.get("S3DR_FAULT_PROXY_URL").expect("the stack announces its fault proxy");
    control("POST", &format!("{url}/__s3dr/faults"), Some(&settings));
}

/// The source's region is down for the Lambda: every request signed for it answers 503.
fn source_region_down(stack: &Stack) {
    faults(
        stack,
        json!({ "rate": 0.0, "rules": [{ "region": SOURCE_REGION, "status": 503, "code": "ServiceUnavailable" }] }),
    );
}

fn source_region_back(stack: &Stack) {
    faults(stack, json!({ "rate": 0.0, "rules": [] }));
}

async fn protected(stack: &Stack, prefix: &str) -> String {
    let source = unique(prefix);
    source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;
    stack.run_protect(json!({ "bucket": source })).await.assert_succeeded();
    source
}

async fn destination_tags(stack: &Stack, destination: &str) -> Vec<s3_dr::tags::Tag> {
    s3_dr::bucket::tags(&stack.s3(DR_REGION).await, destination).await.unwrap()
}

fn cli(stack: &Stack, args: &[&str]) -> std::process::Output {
    std::process::Command::new(cli_binary()).args(args).envs(&stack.env).output().expect("run s3-dr")
}

#[tokio::test]
async fn failover_makes_dr_the_primary_while_the_source_region_refuses_every_call() {
    let _turn = TURN.lock().await;
    let stack = outage_stack();
    let source = protected(stack, "fo-down").await;
    let destination = format!("{source}-dr");
    let before = destination_tags(stack, &destination).await;

    source_region_down(stack);
    // The outage is real for the Lambda's clients (they go through the proxy): a call signed
    // for the source's region is refused.
    let proxy = stack.env.get("S3DR_FAULT_PROXY_URL").unwrap().clone();
    let through_proxy = aws_sdk_s3::config::Builder::from(&stack.sdk_config(SOURCE_REGION).await)
        .endpoint_url(proxy)
        .force_path_style(true)
        .build();
    let refused = aws_sdk_s3::Client::from_conf(through_proxy).get_bucket_tagging().bucket(&source).send().await;
    assert_eq!(refused.map_err(|e| e.raw_response().map(|r| r.status().as_u16())).err(), Some(Some(503)));

    let run = stack.run_workflow("failover", json!({ "bucket": source })).await;
    run.assert_succeeded();
    let promoted = run.step("PromoteDestination");
    assert_eq!(promoted["changed"], true, "{promoted}");
    assert!(
        promoted["summary"].as_str().unwrap().contains(&format!("{destination} ({DR_REGION}) is the primary")),
        "{promoted}"
    );
    let changes: Vec<&str> =
        promoted["applicationChanges"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(changes.contains(&format!("bucket name: {source} -> {destination}").as_str()), "{changes:?}");
    // Never verified: said, not refused.
    assert!(promoted["warnings"].to_string().contains("never verified"), "{promoted}");
    let record =
        s3_dr::failover::recorded(&destination_tags(stack, &destination).await).expect("the failover is recorded");
    assert_eq!(record.mrap, None);

    // Writes during the outage go to DR; the application reads them there.
    let dr = stack.s3(DR_REGION).await;
    dr.put_object()
        .bucket(&destination)
        .key("written-during-outage")
        .body(b"new".to_vec().into())
        .send()
        .await
        .unwrap();

    // Twice: refused by name, nothing changed.
    let tags = destination_tags(stack, &destination).await;
    stack.run_workflow("failover", json!({ "bucket": source })).await.assert_failed_with("AlreadyFailedOver");
    assert_eq!(destination_tags(stack, &destination).await, tags);
    assert_eq!(tags.len(), before.len() + 1, "one tag added by failover: {tags:?}");

    // The region is back: status says failed over, and the sweep leaves the bucket alone.
    source_region_back(stack);
    let status = cli(stack, &["status", &source, "--output", "json"]);
    let printed: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(printed[0]["protected"], false, "{printed}");
    assert!(printed[0]["failedOver"].as_str().unwrap().contains(&format!("from {SOURCE_REGION}")), "{printed}");
    // A protect run (an event, `s3-dr protect`) skips it, saying why: no replication rebuilt
    // over the writes made in DR.
    let protect = stack.run_protect(json!({ "bucket": source })).await;
    protect.assert_succeeded();
    let validated = protect.step("ValidateSource");
    assert_eq!(validated["action"], "skip", "{validated}");
    assert!(validated["reason"].as_str().unwrap().contains("failed over"), "{validated}");
    assert!(s3_dr::failover::is_failed_over(&destination_tags(stack, &destination).await));
    let sweep = stack.run_workflow("sweep", json!({ "requestedBy": "failover test" })).await;
    sweep.assert_succeeded();
    let report = sweep.step("Sweep");
    assert!(!report.to_string().contains(&format!("{source}: protect")), "{report}");
    assert!(report["failedOver"].as_u64().unwrap() >= 1, "{report}");
}

#[tokio::test]
async fn bad_states_are_refused_by_name_and_change_nothing() {
    let _turn = TURN.lock().await;
    let stack = outage_stack();
    source_region_back(stack);

    // Not protected: no destination of ours.
    let plain = unique("fo-plain");
    source_bucket(stack, &plain, SOURCE_REGION, &[]).await;
    stack.run_workflow("failover", json!({ "bucket": plain })).await.assert_failed_with("NotProtected");
    stack.run_workflow("failover", json!({ "bucket": plain, "force": "yes" })).await.assert_failed_with("InvalidInput");

    // Known incomplete: the last verification found an object missing in DR.
    let source = protected(stack, "fo-gap").await;
    let destination = format!("{source}-dr");
    stack
        .s3(SOURCE_REGION)
        .await
        .put_object()
        .bucket(&source)
        .key("not-replicated")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap();
    let lambda = InProcess::new(stack, &[("S3DR_VERIFY_THRESHOLD_SECONDS", "0")]).await;
    let verified = lambda.step("fo", Step::VerifyData, json!({ "bucket": source })).await.unwrap();
    assert_eq!(verified["VerifyData"]["missingInDr"], 1);
    let tags = destination_tags(stack, &destination).await;
    let run = stack.run_workflow("failover", json!({ "bucket": source })).await;
    run.assert_failed_with("DrCopyIncomplete");
    assert!(run.cause.as_deref().unwrap_or_default().contains("1 objects missing in DR"), "{run:?}");
    assert_eq!(destination_tags(stack, &destination).await, tags, "nothing changed");

    // A drill says what would happen and changes nothing, even forced.
    let drill = cli(stack, &["failover", &source, "--drill", "--force"]);
    let stdout = String::from_utf8_lossy(&drill.stdout);
    assert!(drill.status.success(), "{stdout}{}", String::from_utf8_lossy(&drill.stderr));
    assert!(stdout.contains("drill: failover of") && stdout.contains("would succeed"), "{stdout}");
    assert!(stdout.contains("warning: forced:"), "{stdout}");
    assert!(stdout.contains(&format!("bucket name: {source} -> {destination}")), "{stdout}");
    assert_eq!(destination_tags(stack, &destination).await, tags, "a drill changes nothing");

    // Forced: fails over, saying what it forced.
    let run = stack.run_workflow("failover", json!({ "bucket": source, "force": true })).await;
    run.assert_succeeded();
    assert!(run.step("PromoteDestination")["warnings"].to_string().contains("forced"), "{run:?}");
}

/// The current objects of a bucket: key -> (content, number of versions of the key).
async fn holdings(s3: &aws_sdk_s3::Client, bucket: &str) -> std::collections::BTreeMap<String, (String, usize)> {
    let versions = s3.list_object_versions().bucket(bucket).send().await.unwrap();
    let mut found = std::collections::BTreeMap::new();
    for version in versions.versions() {
        let key = version.key().unwrap().to_owned();
        let entry = found.entry(key.clone()).or_insert((String::new(), 0));
        entry.1 += 1;
        if version.is_latest() == Some(true) {
            let body = s3.get_object().bucket(bucket).key(&key).send().await.unwrap().body.collect().await.unwrap();
            entry.0 = String::from_utf8_lossy(&body.into_bytes()).into_owned();
        }
    }
    found
}

#[tokio::test]
async fn failback_brings_every_write_made_in_dr_home_exactly_once_and_protection_resumes() {
    let _turn = TURN.lock().await;
    let stack = outage_stack();
    source_region_back(stack);
    let source = protected(stack, "fb-home").await;
    let destination = format!("{source}-dr");
    let (home, dr) = (stack.s3(SOURCE_REGION).await, stack.s3(DR_REGION).await);
    let before = holdings(&home, &source).await;
    assert_eq!(holdings(&dr, &destination).await.keys().collect::<Vec<_>>(), before.keys().collect::<Vec<_>>());

    source_region_down(stack);
    stack.run_workflow("failover", json!({ "bucket": source })).await.assert_succeeded();
    // Failback while the region still fails: refused by name, nothing changed.
    let tags = destination_tags(stack, &destination).await;
    let run = stack.run_workflow("failback", json!({ "bucket": source })).await;
    run.assert_failed_with("SourceRegionUnavailable");
    assert!(run.cause.as_deref().unwrap_or_default().contains(SOURCE_REGION), "{run:?}");
    assert_eq!(destination_tags(stack, &destination).await, tags);
    assert_eq!(holdings(&home, &source).await, before);

    // The application writes in DR during the outage: a new key, and an overwrite.
    for (key, body) in [("new-in-dr", "written in DR"), ("a.txt", "overwritten in DR")] {
        dr.put_object().bucket(&destination).key(key).body(body.as_bytes().to_vec().into()).send().await.unwrap();
    }
    source_region_back(stack);
    let run = stack.run_workflow("failback", json!({ "bucket": source })).await;
    run.assert_succeeded();

    // Every object written on either side, exactly once: the two DR writes copied home once
    // (one new version each), the rest untouched.
    let after = holdings(&home, &source).await;
    let mut expected = before.clone();
    expected.insert("new-in-dr".into(), ("written in DR".into(), 1));
    expected.insert("a.txt".into(), ("overwritten in DR".into(), before["a.txt"].1 + 1));
    assert_eq!(after, expected);
    let passes: Vec<&Value> = run.steps.iter().filter(|(n, _)| n == "BringHome").map(|(_, v)| v).collect();
    assert_eq!(passes.first().map(|p| (p["pass"].clone(), p["objectsCopied"].clone())), Some((json!(1), json!(2))));
    assert_eq!(passes.last().map(|p| (p["pass"].clone(), p["objectsCopied"].clone())), Some((json!(2), json!(0))));
    assert_eq!(passes.last().map(|p| p["firstPassCopied"].clone()), Some(json!(2)));
    let verified = run.step("VerifyHome");
    assert_eq!((verified["writtenInDr"].as_u64(), verified["notHome"].as_u64()), (Some(2), Some(0)), "{verified}");
    assert_eq!(run.step("RouteHome")["settleSeconds"], 0);

    // The source is the primary again: the record is gone, and protection resumed.
    assert!(!s3_dr::failover::is_failed_over(&destination_tags(stack, &destination).await));
    let finished = run.step("FinishFailback");
    let protect_arn = finished["protect"]["started"].as_str().expect("a protect execution started");
    let protect = wait_execution(&stack.sfn().await, protect_arn).await;
    protect.assert_succeeded();
    assert_eq!(protect.step("ValidateSource")["action"], "protect");
    // PrepareHome took the source's s3-dr rule off for the failback; protect puts it back.
    assert_eq!(run.step("PrepareHome")["replication"], "deleted configuration");
    assert_eq!(protect.step("EnableReplication")["changed"], true);
    let rules = s3_dr::bucket::replication(&home, &source).await.unwrap().expect("replication again");
    assert!(rules.rules().iter().any(s3_dr::replication::is_ours));

    // Twice: nothing to fail back, nothing changed.
    let tags = destination_tags(stack, &destination).await;
    stack.run_workflow("failback", json!({ "bucket": source })).await.assert_failed_with("NotFailedOver");
    assert_eq!(destination_tags(stack, &destination).await, tags);
    assert_eq!(holdings(&home, &source).await, after);

    // A bucket never failed over, from the CLI in this process: refused by name.
    let never = protected(stack, "fb-never").await;
    let refused = cli(stack, &["failback", &never, "--here"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && stderr.contains("NotFailedOver"), "{stderr}");

    // The runbook's commands, through the workflows, print what docs/failover.md shows.
    assert!(cli(stack, &["failover", &never, "--wait"]).status.success());
    let back = cli(stack, &["failback", &never, "--wait"]);
    let stdout = String::from_utf8_lossy(&back.stdout);
    assert!(back.status.success(), "{stdout}{}", String::from_utf8_lossy(&back.stderr));
    for said in [
        "SUCCEEDED, pass 2 (after the routing came home; 0 before): 0 objects (0 bytes) brought home",
        &format!("{never} holds all 0 objects written in {never}-dr during the failover"),
        &format!("{never} failed back: it is the primary again in {SOURCE_REGION}"),
        "protection resumes (execution",
    ] {
        assert!(stdout.contains(said), "{said:?} not in {stdout}");
    }
}
