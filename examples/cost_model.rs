//! `make bench`, part 6: the cost model, from what the code reports. On the local stack one
//! bucket of OBJECTS objects (default 1,000, 2 kB each) goes through each workflow s3-dr runs on
//! it: protect (with the copy backfill), a protect run on an event (the bucket already
//! protected), the sweep, the weekly verification, and a failover then failback with 10 objects
//! written in DR meanwhile. Measured per execution: the AWS calls each step reports
//! (`awsCalls`), the state transitions (the history's StateEntered events) and the Lambda time
//! (each Task's TaskScheduled to its end). Priced with AWS's published us-east-1 prices
//! (constants below, with their pages) for 10, 1,000 and 100,000 protected buckets.
//!
//! What the emulator cannot say: Lambda time on AWS (a call to S3 takes tens of milliseconds
//! there, about 10 here, and this Lambda is a debug build), so the GB-seconds are this run's,
//! not AWS's; Batch Replication (AWS only) is priced from its published prices, not measured.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;

use aws_sdk_sfn::types::HistoryEventType;
use common::*;
use futures::StreamExt;
use serde_json::{json, Value};

/// https://aws.amazon.com/s3/pricing/ (Requests & data retrievals, S3 Standard): PUT, COPY,
/// POST, LIST requests per 1,000; GET, SELECT and all other requests per 1,000; DELETE free.
const S3_TIER1_PER_1000: f64 = 0.005;
const S3_TIER2_PER_1000: f64 = 0.0004;
/// https://aws.amazon.com/kms/pricing/: requests, per 10,000.
const KMS_PER_10000: f64 = 0.03;
/// https://aws.amazon.com/step-functions/pricing/: Standard workflows, per 1,000 transitions.
const SFN_PER_1000_TRANSITIONS: f64 = 0.025;
/// https://aws.amazon.com/lambda/pricing/: Arm, per GB-second, and per 1M requests.
const LAMBDA_PER_GB_SECOND: f64 = 0.000_013_333_4;
const LAMBDA_PER_MILLION_REQUESTS: f64 = 0.20;
/// The step Lambda's memory (cdk/lib/step-lambda.ts).
const LAMBDA_GB: f64 = 0.5;
/// https://aws.amazon.com/s3/pricing/ (Management & insights, S3 Batch Operations): per job and
/// per million objects processed; Batch Replication also pays replication's own requests.
const BATCH_PER_JOB: f64 = 0.25;
const BATCH_PER_MILLION_OBJECTS: f64 = 1.00;
/// https://aws.amazon.com/s3/pricing/ (Data transfer, to another AWS Region), per GB.
const INTER_REGION_PER_GB: f64 = 0.02;

const DAYS_PER_MONTH: f64 = 30.0;
const VERIFICATIONS_PER_MONTH: f64 = 52.0 / 12.0;

/// One execution's measured use.
#[derive(Default, Clone)]
struct Use {
    calls: BTreeMap<String, u64>,
    transitions: u64,
    invocations: u64,
    lambda_seconds: f64,
}

impl Use {
    fn add(&mut self, other: &Use) {
        for (operation, n) in &other.calls {
            *self.calls.entry(operation.clone()).or_default() += n;
        }
        self.transitions += other.transitions;
        self.invocations += other.invocations;
        self.lambda_seconds += other.lambda_seconds;
    }

    fn calls(&self) -> u64 {
        self.calls.values().sum()
    }

    /// Dollars, by what AWS bills.
    fn dollars(&self) -> f64 {
        let requests: f64 = self.calls.iter().map(|(operation, n)| price_of(operation) * *n as f64).sum();
        requests
            + self.transitions as f64 * SFN_PER_1000_TRANSITIONS / 1000.0
            + self.lambda_seconds * LAMBDA_GB * LAMBDA_PER_GB_SECOND
            + self.invocations as f64 * LAMBDA_PER_MILLION_REQUESTS / 1e6
    }

    fn scaled(&self, factor: f64) -> Scaled {
        Scaled { dollars: self.dollars() * factor, calls: self.calls() as f64 * factor }
    }
}

struct Scaled {
    dollars: f64,
    calls: f64,
}

/// The price of one request, by its `service:Operation` as the Lambda counts it.
fn price_of(operation: &str) -> f64 {
    let (service, name) = operation.split_once(':').unwrap_or(("", operation));
    match service {
        "s3" if name.starts_with("Delete") => 0.0,
        "s3" if ["Put", "Copy", "Post", "List", "Create", "Complete", "Upload"].iter().any(|p| name.starts_with(p)) => {
            S3_TIER1_PER_1000 / 1000.0
        }
        "s3" => S3_TIER2_PER_1000 / 1000.0,
        "kms" => KMS_PER_10000 / 10_000.0,
        // S3 Control (Batch Operations jobs, MRAP routes), Step Functions' and STS' APIs: no
        // per-request price (jobs are priced apart).
        _ => 0.0,
    }
}

/// Run a workflow and measure it: the steps' reported calls, the transitions, the Lambda time.
async fn measured(stack: &Stack, workflow: &str, input: Value) -> (Execution, Use) {
    let run = stack.run_workflow(workflow, input).await;
    let mut usage = Use { transitions: run.history.transitions() as u64, ..Use::default() };
    let events = &run.history.0;
    let by_id: BTreeMap<i64, &aws_sdk_sfn::types::HistoryEvent> = events.iter().map(|e| (e.id(), e)).collect();
    for event in events {
        match event.r#type() {
            HistoryEventType::TaskSucceeded | HistoryEventType::TaskFailed | HistoryEventType::TaskTimedOut => {
                // The task's end, its start (previous event), its scheduling (the one before).
                let scheduled = by_id
                    .get(&event.previous_event_id())
                    .and_then(|started| by_id.get(&started.previous_event_id()))
                    .map_or(event.timestamp().as_secs_f64(), |s| s.timestamp().as_secs_f64());
                usage.lambda_seconds += (event.timestamp().as_secs_f64() - scheduled).max(0.0);
                usage.invocations += 1;
            }
            _ => {}
        }
    }
    // A sweep's shards' calls are in its Sweep step's total too: counted there once.
    for (_, output) in run.steps.iter().filter(|(name, _)| name != "SweepShard") {
        let calls = output.get("awsCallsTotal").or_else(|| output.get("awsCalls"));
        for (operation, n) in calls.and_then(Value::as_object).into_iter().flatten() {
            *usage.calls.entry(operation.clone()).or_default() += n.as_u64().unwrap_or(0);
        }
    }
    (run, usage)
}

#[tokio::main]
async fn main() {
    let objects: usize = std::env::var("COST_OBJECTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let stack = start_stack(&[("S3DR_VERIFY_THRESHOLD_SECONDS", "0")], &[]);
    println!("s3-dr cost model: local stack (moto 5.2.5, debug-build Lambda), one bucket of {objects} objects of 2 kB");
    println!("reproduce: cargo run --example cost_model   (COST_OBJECTS={objects}; part of make bench)\n");

    let bucket = unique("cost");
    let s3 = stack.s3(SOURCE_REGION).await;
    create_bucket(&s3, &bucket, SOURCE_REGION).await;
    tag_bucket(&s3, &bucket, &[("dr", "true")]).await;
    let body = vec![b'x'; 2048];
    futures::stream::iter(0..objects)
        .for_each_concurrent(16, |i| {
            let (s3, bucket, body) = (&s3, &bucket, body.clone());
            async move {
                s3.put_object().bucket(bucket).key(format!("o/{i:07}")).body(body.into()).send().await.expect("put");
            }
        })
        .await;

    let (run, protect) = measured(&stack, "protect", json!({ "bucket": bucket })).await;
    run.assert_succeeded();
    let (run, event) = measured(&stack, "protect", json!({ "bucket": bucket })).await;
    run.assert_succeeded();
    let (run, sweep) = measured(&stack, "sweep", json!({ "requestedBy": "cost model" })).await;
    run.assert_succeeded();
    let protected = run.step("Sweep")["protected"].as_u64().unwrap_or(1).max(1) as f64;
    let run_sweep_scanned = run.step("Sweep")["scanned"].as_u64().unwrap_or(0);
    println!("sweep: {}", run.step("Sweep")["summary"]);
    let (run, verify) = measured(&stack, "verify", json!({ "bucket": bucket })).await;
    run.assert_succeeded();
    let (run, failover) = measured(&stack, "failover", json!({ "bucket": bucket })).await;
    run.assert_succeeded();
    let dr = stack.s3(DR_REGION).await;
    for i in 0..10 {
        let key = format!("written-in-dr/{i}");
        dr.put_object().bucket(format!("{bucket}-dr")).key(key).body(vec![b'y'; 2048].into()).send().await.unwrap();
    }
    let (run, failback) = measured(&stack, "failback", json!({ "bucket": bucket })).await;
    run.assert_succeeded();

    let per_object = |usage: &Use, setup: &Use| {
        // The backfill's share: protect's use less a protect run that copies nothing.
        let mut copy = usage.clone();
        for (operation, n) in &setup.calls {
            if let Some(mine) = copy.calls.get_mut(operation) {
                *mine = mine.saturating_sub(*n);
            }
        }
        copy.transitions = copy.transitions.saturating_sub(setup.transitions);
        copy.invocations = copy.invocations.saturating_sub(setup.invocations);
        copy.lambda_seconds = (copy.lambda_seconds - setup.lambda_seconds).max(0.0);
        copy
    };
    let backfill = per_object(&protect, &event);
    let million = 1e6 / objects as f64;
    let mut round_trip = failover.clone();
    round_trip.add(&failback);

    println!("measured per execution (AWS calls; state transitions; Lambda invocations, seconds):");
    for (label, usage) in [
        ("protect, first (with the copy backfill)", &protect),
        ("protect on an event (already protected)", &event),
        ("sweep (whole account)", &sweep),
        ("verify (listing both buckets)", &verify),
        ("failover", &failover),
        ("failback (10 objects written in DR)", &failback),
    ] {
        println!(
            "  {label:<42} {:>6} calls; {:>4} transitions; {:>3} invocations, {:>6.2} s   {:?}",
            usage.calls(),
            usage.transitions,
            usage.invocations,
            usage.lambda_seconds,
            usage.calls
        );
    }

    // The sweep: a fixed part per run (ListBuckets, the Map's transitions, its invocations) and
    // a part per bucket read (the report buckets of the stack are unmanaged: 2 calls each).
    let scanned = run_sweep_scanned;
    let unmanaged = scanned.saturating_sub(2 * protected as u64);
    let mut sweep_fixed = Use {
        transitions: sweep.transitions,
        invocations: sweep.invocations,
        lambda_seconds: sweep.lambda_seconds,
        ..Use::default()
    };
    let mut sweep_per_bucket = Use::default();
    for (operation, n) in &sweep.calls {
        if operation == "s3:ListBuckets" {
            sweep_fixed.calls.insert(operation.clone(), *n);
        } else {
            let unmanaged_share = match operation.as_str() {
                "s3:GetBucketTagging" | "s3:GetBucketReplication" => unmanaged,
                _ => 0,
            };
            let per_bucket = n.saturating_sub(unmanaged_share) as f64 / protected;
            sweep_per_bucket.calls.insert(operation.clone(), per_bucket.round() as u64);
        }
    }
    let per_bucket_month =
        sweep_per_bucket.scaled(DAYS_PER_MONTH).dollars + verify.scaled(VERIFICATIONS_PER_MONTH).dollars;
    let fixed_month = sweep_fixed.scaled(DAYS_PER_MONTH).dollars;
    println!("\nthe sweep: {} calls per protected bucket ({:?}); per run {} ListBuckets, {} transitions, {} invocations, {:.2} s of Lambda", sweep_per_bucket.calls(), sweep_per_bucket.calls, sweep_fixed.calls(), sweep_fixed.transitions, sweep_fixed.invocations, sweep_fixed.lambda_seconds);
    println!("per protected bucket per month ({objects} objects): ${per_bucket_month:.6} (sweep daily ${:.6}, verify weekly ${:.6}: 2 LIST per 1,000 objects a side, so it grows with the bucket); plus ${fixed_month:.4} a month for the sweep's own runs", sweep_per_bucket.scaled(DAYS_PER_MONTH).dollars, verify.scaled(VERIFICATIONS_PER_MONTH).dollars);
    println!("an event (a tag change on a protected bucket): ${:.6} each", event.dollars());
    let copy = backfill.scaled(million);
    println!(
        "per million objects backfilled: copy ${:.2} ({:.0} calls: a HeadObject and a CopyObject each, the listings) plus ${INTER_REGION_PER_GB}/GB moved; batch (AWS only, not measured) ${:.2} (${BATCH_PER_JOB} a job + ${BATCH_PER_MILLION_OBJECTS} a million objects) plus replication's PUTs (${:.2}) and the same transfer",
        copy.dollars,
        copy.calls,
        BATCH_PER_JOB + BATCH_PER_MILLION_OBJECTS,
        S3_TIER1_PER_1000 * 1000.0
    );
    println!("per failover and failback (10 objects written in DR): ${:.6}", round_trip.dollars());
    let monthly = |buckets: f64| fixed_month + per_bucket_month * buckets;
    println!("\n| protected buckets | per month, steady state (sweep + verify, {objects} objects each) | first protection (copy backfill) |");
    println!("|---|---|---|");
    for buckets in [10.0, 1_000.0, 100_000.0] {
        println!("| {buckets:.0} | ${:.2} | ${:.2} |", monthly(buckets), protect.dollars() * buckets);
    }
}
