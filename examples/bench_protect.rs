//! `make bench`: the protect workflow on the local stack, measured.
//!
//! 1. The emulator's ceilings: plain HeadBucket calls, 8 in flight (what one moto server on
//!    this machine can answer at all), and executions/s of a workflow of the same shape made
//!    of Pass states (what its ASL interpreter can run with no Lambda and no S3 at all).
//! 2. A tagging burst: N fresh buckets protected at once, each by its own execution of the real
//!    state machine with the real Lambda: wall time, executions/s, latency, AWS calls per step.
//! 3. The same N again (the steady state a drift check pays): calls per step, no writes.
//!
//! Sizes: BENCH_BUCKETS (default 40).

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use futures::future::join_all;
use futures::stream::{self, StreamExt};
use serde_json::json;

const CEILING_REQUESTS: usize = 400;
const CEILING_IN_FLIGHT: usize = 8;
const STEPS: [&str; 8] = [
    "ValidateSource",
    "EnableSourceVersioning",
    "EnsureDestination",
    "EnableReplication",
    "StartBackfill",
    "CheckBackfill",
    "CloneSettings",
    "VerifyProtection",
];

#[tokio::main]
async fn main() {
    let buckets: usize = std::env::var("BENCH_BUCKETS").ok().and_then(|v| v.parse().ok()).unwrap_or(40);
    let stack = stack();
    println!(
        "s3-dr protect benchmark: local stack (moto 5.2.5, 4 Lambda workers of the debug build), {} cores",
        num_cpus()
    );
    println!("reproduce: make bench   (BENCH_BUCKETS={buckets})\n");

    let ceiling = head_bucket_ceiling(stack).await;
    println!(
        "emulator ceiling, HeadBucket x{CEILING_REQUESTS}, {CEILING_IN_FLIGHT} in flight: {ceiling:.0} requests/s"
    );
    let pass_rate = pass_workflow_ceiling(stack, buckets).await;
    println!(
        "emulator ceiling, {buckets} executions of an 8-state Pass workflow at once: {pass_rate:.1} executions/s\n"
    );

    let names: Vec<String> = (0..buckets).map(|i| unique(&format!("bench{i}"))).collect();
    join_all(names.iter().map(|name| source_bucket(stack, name, SOURCE_REGION, &[("dr", "true")]))).await;

    for (label, expect_changes) in [("first protection (tagging burst)", true), ("re-run, already protected", false)] {
        let started = Instant::now();
        let runs = join_all(names.iter().map(|name| stack.run_protect(json!({ "bucket": name })))).await;
        let wall = started.elapsed();
        let mut latencies: Vec<Duration> = Vec::new();
        let mut calls: BTreeMap<&str, u64> = BTreeMap::new();
        let mut writes = 0;
        for run in &runs {
            run.assert_succeeded();
            latencies.push(run.duration);
            // A re-run of a backfilled bucket has no CheckBackfill; a loop has several.
            for (name, output) in &run.steps {
                let step = STEPS.iter().copied().find(|s| s == name).expect("a protect step");
                let step_calls = output["awsCalls"].as_object().cloned().unwrap_or_default();
                *calls.entry(step).or_default() += step_calls.values().filter_map(|n| n.as_u64()).sum::<u64>();
                writes += step_calls
                    .iter()
                    .filter(|(op, _)| {
                        ["Put", "Create", "Copy", "Delete", "Upload", "Complete"]
                            .iter()
                            .any(|w| op.split(':').nth(1).unwrap_or("").starts_with(w))
                    })
                    .map(|(_, n)| n.as_u64().unwrap_or(0))
                    .sum::<u64>();
            }
        }
        latencies.sort();
        let total_calls: u64 = calls.values().sum();
        let rate = buckets as f64 / wall.as_secs_f64();
        println!(
            "{label}: {buckets} executions in {:.2} s = {rate:.1} executions/s ({:.0}% of the Pass-workflow ceiling)",
            wall.as_secs_f64(),
            100.0 * rate / pass_rate
        );
        println!(
            "  execution latency p50 {:.2} s, p95 {:.2} s; AWS calls {:.1} per bucket ({} writes in all); {:.0} AWS requests/s = {:.0}% of the ceiling",
            percentile(&latencies, 50).as_secs_f64(),
            percentile(&latencies, 95).as_secs_f64(),
            total_calls as f64 / buckets as f64,
            writes,
            total_calls as f64 / wall.as_secs_f64(),
            100.0 * total_calls as f64 / wall.as_secs_f64() / ceiling
        );
        for step in STEPS {
            match calls.get(step) {
                Some(n) => println!("  {step:<24} {:>5.1} AWS calls per bucket", *n as f64 / buckets as f64),
                None => println!("  {step:<24}   did not run"),
            }
        }
        assert_eq!(writes > 0, expect_changes, "{label}: writes");
        println!();
    }
}

/// The protect workflow's shape (a Task-less copy: Pass instead of each Task).
async fn pass_workflow_ceiling(stack: &Stack, executions: usize) -> f64 {
    let sfn = stack.sfn().await;
    let mut states = serde_json::Map::new();
    for (index, name) in STEPS.iter().enumerate() {
        let mut state = json!({ "Type": "Pass", "Result": { "changed": false }, "ResultPath": format!("$.{name}") });
        match STEPS.get(index + 1) {
            Some(next) => state["Next"] = json!(next),
            None => state["End"] = json!(true),
        }
        states.insert((*name).to_owned(), state);
    }
    let definition = json!({ "StartAt": STEPS[0], "States": states });
    let machine = sfn
        .create_state_machine()
        .name(unique("bench-pass"))
        .definition(definition.to_string())
        .role_arn("arn:aws:iam::123456789012:role/s3-dr-states")
        .send()
        .await
        .expect("create the Pass workflow");
    let started = Instant::now();
    join_all((0..executions).map(|_| run_execution(&sfn, machine.state_machine_arn(), json!({})))).await;
    executions as f64 / started.elapsed().as_secs_f64()
}

async fn head_bucket_ceiling(stack: &Stack) -> f64 {
    let s3 = stack.s3(SOURCE_REGION).await;
    let bucket = unique("ceiling");
    create_bucket(&s3, &bucket, SOURCE_REGION).await;
    let started = Instant::now();
    stream::iter(0..CEILING_REQUESTS)
        .for_each_concurrent(CEILING_IN_FLIGHT, |_| {
            let (s3, bucket) = (s3.clone(), bucket.clone());
            async move {
                s3.head_bucket().bucket(bucket).send().await.expect("HeadBucket");
            }
        })
        .await;
    CEILING_REQUESTS as f64 / started.elapsed().as_secs_f64()
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[((sorted.len() * p).div_ceil(100)).saturating_sub(1).min(sorted.len() - 1)]
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
