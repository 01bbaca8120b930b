//! S3's and Lambda's real failure modes, injected on purpose. The stack puts a loopback proxy
//! (local/fault_proxy.py) between the Lambda's S3 clients and the emulator, routed by the SDK's
//! `AWS_ENDPOINT_URL_S3`: at a chosen rate it answers 503 SlowDown before a request applies, 500
//! InternalError after it applied, or drops the connection; targeted rules fail chosen calls.
//! The stack's Lambda service answers chosen invocations as timed out or crashed. The tests'
//! own clients read the emulator directly, so what they assert is what S3 holds.
//!
//! One proxy serves the whole binary and its settings are global, so the tests take turns.

mod common;

use std::collections::BTreeMap;

use aws_sdk_sfn::types::HistoryEventType;
use common::*;
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::Mutex;

const MIB: usize = 1 << 20;
static TURN: Mutex<()> = Mutex::const_new(());

fn faulty_stack() -> &'static Stack {
    common::stack_with_args(
        // Objects of 5 MiB or more are copied in parts, so a 6 MiB object takes the multipart path.
        &[("S3DR_COPY_MULTIPART_THRESHOLD", "5242880"), ("S3DR_VERIFY_STATE_MACHINE_ARN", "")],
        &["--s3-fault-proxy"],
    )
}

fn proxy(stack: &Stack) -> String {
    let url = stack.env.get("S3DR_FAULT_PROXY_URL").expect("the stack announces its fault proxy");
    format!("{url}/__s3dr/faults")
}

fn set_faults(stack: &Stack, settings: Value) -> Value {
    control("POST", &proxy(stack), Some(&settings));
    control("GET", &proxy(stack), None)
}

/// Start an execution of `workflow` and wait for it; also the error names of the task
/// failures its history records (each one a retried or caught attempt).
async fn run_with_history(stack: &Stack, workflow: &str, input: Value) -> (Execution, Vec<String>) {
    let run = stack.run_workflow(workflow, input).await;
    let errors = run
        .history
        .0
        .iter()
        .filter_map(|event| match event.r#type() {
            HistoryEventType::TaskFailed => event.task_failed_event_details().and_then(|d| d.error()),
            HistoryEventType::LambdaFunctionFailed => {
                event.lambda_function_failed_event_details().and_then(|d| d.error())
            }
            _ => None,
        })
        .map(str::to_owned)
        .collect();
    (run, errors)
}

/// key -> size, of the current versions.
async fn objects(s3: &aws_sdk_s3::Client, bucket: &str) -> BTreeMap<String, i64> {
    let mut all = BTreeMap::new();
    let mut pages = s3.list_objects_v2().bucket(bucket).into_paginator().send();
    while let Some(page) = pages.next().await {
        for object in page.expect("list").contents() {
            all.insert(object.key().unwrap().to_owned(), object.size().unwrap_or_default());
        }
    }
    all
}

#[tokio::test]
async fn buckets_protected_at_a_20_percent_fault_rate_get_complete_dr_copies() {
    let _turn = TURN.lock().await;
    let stack = faulty_stack();
    let buckets: Vec<String> = (0..4).map(|_| unique("faulty")).collect();
    let s3 = stack.s3(SOURCE_REGION).await;
    for (index, bucket) in buckets.iter().enumerate() {
        create_bucket(&s3, bucket, SOURCE_REGION).await;
        futures::stream::iter(0..25)
            .for_each_concurrent(8, |i| {
                let s3 = &s3;
                async move {
                    let body = format!("object {i} of {bucket}").into_bytes();
                    s3.put_object()
                        .bucket(bucket)
                        .key(format!("data/{i:03}.txt"))
                        .body(body.into())
                        .send()
                        .await
                        .unwrap();
                }
            })
            .await;
        if index == 0 {
            // One object copied in parts (UploadPartCopy, CompleteMultipartUpload) under faults too.
            let big = vec![b'x'; 6 * MIB];
            s3.put_object().bucket(bucket).key("big.bin").body(big.into()).send().await.unwrap();
        }
        tag_bucket(&s3, bucket, &[("dr", "true"), ("team", "media")]).await;
    }

    set_faults(stack, json!({ "rate": 0.2, "seed": 20, "rules": [], "reset_counts": true }));
    let runs: Vec<(Execution, Vec<String>)> = futures::stream::iter(&buckets)
        .map(|bucket| run_with_history(stack, "protect", json!({ "bucket": bucket })))
        .buffer_unordered(4)
        .collect()
        .await;
    let report = set_faults(stack, json!({ "rate": 0.0 }));

    let counts = &report["counts"];
    println!("faults at 20%: {counts}");
    for kind in ["slowdown", "internal_after", "drop"] {
        assert!(counts[kind].as_u64().unwrap_or_default() > 0, "no {kind} was injected: {report}");
    }
    let dr = stack.s3(DR_REGION).await;
    for ((run, errors), bucket) in runs.iter().zip(&buckets) {
        run.assert_succeeded();
        println!("{bucket}: task failures retried by the workflow: {errors:?}");
        let source = objects(&s3, bucket).await;
        let destination = objects(&dr, &format!("{bucket}-dr")).await;
        assert_eq!(source, destination, "{bucket}: every object, at its size, in the DR bucket");
        assert_eq!(versioning(&dr, &format!("{bucket}-dr")).await, "Enabled");
        let replication = s3_dr::bucket::replication(&s3, bucket).await.unwrap().expect("replication configured");
        assert_eq!(replication.rules().len(), 1, "{replication:?}");
    }
}

/// A fault that outlasts the SDK's own retries fails the invocation with TransientAwsError;
/// the workflow retries it, the fault has cleared, and the run succeeds.
#[tokio::test]
async fn a_transient_fault_that_clears_is_retried_by_the_running_workflow() {
    let _turn = TURN.lock().await;
    let stack = faulty_stack();
    let bucket = unique("clears");
    source_bucket(stack, &bucket, SOURCE_REGION, &[("dr", "true")]).await;
    // The SDK tries each call 3 times: the first invocation's GetBucketTagging gets 3 SlowDowns.
    let rule =
        json!({ "bucket": bucket, "method": "GET", "query": "tagging", "status": 503, "code": "SlowDown", "times": 3 });
    set_faults(stack, json!({ "rate": 0.0, "rules": [rule], "reset_counts": true }));
    let (run, errors) = run_with_history(stack, "protect", json!({ "bucket": bucket })).await;
    let report = set_faults(stack, json!({ "rules": [] }));

    run.assert_succeeded();
    assert_eq!(report["counts"]["rule"], 3, "{report}");
    assert_eq!(errors, ["TransientAwsError"], "one attempt failed, and was retried: {run:?}");
}

/// With every S3 request 50 ms away, a fresh bucket's protection makes its S3 round trips one
/// after another only where it must: the longest chain of requests that do not overlap (the
/// proxy's trace) is the critical path `make bench` prints, request for request. A new bucket is
/// not read back, and the source's versioning comes with ValidateSource's reads.
#[tokio::test]
async fn a_fresh_protection_makes_no_sequential_round_trip_off_its_critical_path() {
    let _turn = TURN.lock().await;
    let stack = faulty_stack();
    let bucket = unique("critical");
    source_bucket(stack, &bucket, SOURCE_REGION, &[("dr", "true")]).await;
    set_faults(stack, json!({ "rate": 0.0, "rules": [], "latency_ms": [50, 50], "trace": true, "reset_counts": true }));
    let (run, _) = run_with_history(stack, "protect", json!({ "bucket": bucket })).await;
    let report = control("GET", &proxy(stack), None);
    set_faults(stack, json!({ "latency_ms": [0, 0], "trace": false, "reset_counts": true }));
    run.assert_succeeded();

    let chain = common::bench::longest_chain(report["trace"].as_array().expect("the proxy's trace"));
    let critical: u32 = common::bench::CRITICAL_PATH.iter().map(|(_, trips, _)| trips).sum();
    assert_eq!(chain.len(), critical as usize, "sequential S3 requests:\n{}", chain.join("\n"));
    let calls = |step: &str| -> Vec<String> {
        run.step(step)["awsCalls"].as_object().map(|c| c.keys().cloned().collect()).unwrap_or_default()
    };
    assert!(
        calls("EnsureDestination").iter().all(|c| c.starts_with("s3:Put") || c == "s3:CreateBucket"),
        "{:?}",
        calls("EnsureDestination")
    );
    assert_eq!(calls("EnableSourceVersioning"), ["s3:PutBucketVersioning"]);
}

/// A Lambda timeout (`Sandbox.Timedout`) and a crashed runtime (`Lambda.Unknown`, as Step
/// Functions reports out-of-memory): both retried, and the run converges (the function did
/// run each time; its steps are idempotent).
#[tokio::test]
async fn a_timed_out_and_a_crashed_invocation_are_retried() {
    let _turn = TURN.lock().await;
    let stack = faulty_stack();
    let bucket = unique("lambda-faults");
    source_bucket(stack, &bucket, SOURCE_REGION, &[("dr", "true")]).await;
    let lambda_faults = format!("{}/__s3dr/lambda-faults", stack.endpoint);
    control(
        "POST",
        &lambda_faults,
        Some(&json!({
            "next": [{ "errorType": "Sandbox.Timedout" }, { "errorType": "Lambda.Unknown", "when": "end" }],
            "match": format!("\"{bucket}\""),
        })),
    );
    let (run, errors) = run_with_history(stack, "protect", json!({ "bucket": bucket })).await;
    let injected = control("GET", &lambda_faults, None);

    run.assert_succeeded();
    assert_eq!(errors, ["Sandbox.Timedout", "Lambda.Unknown"], "{injected}");
    assert_eq!(run.step("VerifyProtection")["protected"], true);
}

/// A multipart copy whose parts S3 refuses is aborted (no half-made upload is left, charged
/// until someone notices) and the backfill fails by name, naming the object; the objects that
/// could be copied are in place.
#[tokio::test]
async fn a_multipart_copy_that_cannot_finish_is_aborted_and_fails_the_backfill() {
    let _turn = TURN.lock().await;
    let stack = faulty_stack();
    let bucket = unique("abort");
    let destination = format!("{bucket}-dr");
    let s3 = source_bucket(stack, &bucket, SOURCE_REGION, &[("dr", "true")]).await;
    s3.put_object().bucket(&bucket).key("big.bin").body(vec![b'y'; 6 * MIB].into()).send().await.unwrap();
    let refuse_parts =
        json!({ "bucket": destination, "method": "PUT", "query": "partNumber", "status": 403, "code": "AccessDenied" });
    set_faults(stack, json!({ "rate": 0.0, "rules": [refuse_parts], "reset_counts": true }));
    let (run, _) = run_with_history(stack, "protect", json!({ "bucket": bucket })).await;
    let report = set_faults(stack, json!({ "rules": [] }));

    run.assert_failed_with("BackfillFailed");
    let cause = run.cause.as_deref().unwrap_or_default();
    assert!(cause.contains("big.bin") && cause.contains("AccessDenied"), "{cause}");
    let refused =
        report["recent"].as_array().unwrap().iter().any(|f| f["fault"].as_str().unwrap_or("").starts_with("rule"));
    assert!(refused, "the rule refused the parts: {report}");
    let dr = stack.s3(DR_REGION).await;
    let uploads = dr.list_multipart_uploads().bucket(&destination).send().await.unwrap();
    assert!(uploads.uploads().is_empty(), "the failed upload was aborted: {uploads:?}");
    let copied = objects(&dr, &destination).await;
    assert_eq!(copied.keys().collect::<Vec<_>>(), ["a.txt", "b/c.txt"], "the others are in place");
}

/// One bucket the sweep cannot read (its policy denies s3-dr, say) is counted and named in the
/// sweep's report; the sweep goes on with the others and succeeds.
#[tokio::test]
async fn a_sweep_counts_an_unreadable_bucket_and_goes_on() {
    let _turn = TURN.lock().await;
    let stack = faulty_stack();
    let unreadable = unique("unreadable");
    let healthy = unique("healthy");
    source_bucket(stack, &unreadable, SOURCE_REGION, &[("dr", "true")]).await;
    source_bucket(stack, &healthy, SOURCE_REGION, &[("dr", "true")]).await;
    stack.run_protect(json!({ "bucket": healthy })).await.assert_succeeded();
    let deny = json!({ "bucket": unreadable, "method": "GET", "status": 403, "code": "AccessDenied" });
    set_faults(stack, json!({ "rate": 0.0, "rules": [deny], "reset_counts": true }));
    let (run, _) = run_with_history(stack, "sweep", json!({ "requestedBy": "tests/faults.rs" })).await;
    set_faults(stack, json!({ "rules": [] }));

    run.assert_succeeded();
    let report = run.step("Sweep");
    assert_eq!(report["failed"], 1, "{report}");
    let failures = report["failures"].to_string();
    assert!(failures.contains(&unreadable) && failures.contains("AccessDenied"), "{failures}");
    assert!(report["protected"].as_u64().unwrap_or_default() >= 1, "the healthy bucket was read: {report}");
    assert!(!report["started"].to_string().contains(&format!("\"{healthy}")), "{report}");
}
