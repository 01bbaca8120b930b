//! `make bench`, part 3: the sweep over 1,000 healthy protected buckets (and their 1,000
//! destinations) on the local stack, with 1 shard and with 4 (the same buckets, alternately, the
//! median of 3 each). All healthy, so it only reads and starts nothing. Next to it, the
//! emulator's ceiling for plain HeadBucket calls, measured in the same run.
//!
//! Sizes: BENCH_SWEEP_BUCKETS (default 1000).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::*;
use futures::StreamExt;
use serde_json::{json, Value};

const CEILING_REQUESTS: usize = 1000;
/// The sharded sweep's shards, next to one shard.
const SHARDS: u32 = 4;
const REPEATS: usize = 3;
const IN_FLIGHT: usize = 16;

#[tokio::main]
async fn main() {
    let buckets: usize = std::env::var("BENCH_SWEEP_BUCKETS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    // Without the weekly verification, as before it existed: the sweep only reads.
    let stack = start_stack(&[("S3DR_VERIFY_STATE_MACHINE_ARN", "")], &[]);
    println!("s3-dr sweep benchmark: local stack (moto 5.2.5, debug-build Lambda), {buckets} protected buckets");
    println!("reproduce: make bench   (BENCH_SWEEP_BUCKETS={buckets})\n");

    let started = Instant::now();
    let names: Vec<String> = (0..buckets).map(|i| unique(&format!("sweep{i}"))).collect();
    futures::stream::iter(names.iter())
        .for_each_concurrent(IN_FLIGHT, |name| {
            let stack = &stack;
            async move { make_protected_bucket(stack, name, "STANDARD", &[("dr", "true")]).await }
        })
        .await;
    println!("setup: {buckets} protected buckets made directly in {:.1} s", started.elapsed().as_secs_f64());

    let s3 = stack.s3(SOURCE_REGION).await;
    let probe = &names[0];
    let started = Instant::now();
    futures::stream::iter(0..CEILING_REQUESTS)
        .for_each_concurrent(IN_FLIGHT, |_| {
            let s3 = s3.clone();
            async move {
                s3.head_bucket().bucket(probe).send().await.expect("HeadBucket");
            }
        })
        .await;
    let ceiling = CEILING_REQUESTS as f64 / started.elapsed().as_secs_f64();
    println!("emulator ceiling, HeadBucket x{CEILING_REQUESTS}, {IN_FLIGHT} in flight: {ceiling:.0} requests/s");

    // The same buckets swept with 1 shard and with SHARDS, alternately, REPEATS times each:
    // the median wall time of each (Step Functions' start to stop).
    let mut seconds: Vec<(u32, Vec<f64>)> = vec![(1, Vec::new()), (SHARDS, Vec::new())];
    let mut last = Value::Null;
    for _ in 0..REPEATS {
        for (shards, times) in seconds.iter_mut() {
            let run = stack.run_workflow("sweep", json!({ "shards": *shards, "requestedBy": "bench" })).await;
            run.assert_succeeded();
            let report = run.step("Sweep").clone();
            assert_eq!(report["protected"].as_u64(), Some(buckets as u64), "{report}");
            assert_eq!(report["repaired"], 0, "all healthy: {report}");
            times.push(run.duration.as_secs_f64());
            last = report;
        }
    }
    let scanned = last["scanned"].as_u64().unwrap_or(0);
    let calls: u64 = last["awsCallsTotal"].as_object().unwrap().values().filter_map(|n| n.as_u64()).sum();
    for (shards, times) in &mut seconds {
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        println!(
            "sweep, {shards} shard(s): {scanned} buckets ({buckets} protected sources, their destinations) in {median:.1} s (median of {REPEATS}; all: {}) = {:.0} buckets/s",
            times.iter().map(|t| format!("{t:.1}")).collect::<Vec<_>>().join(", "),
            scanned as f64 / median
        );
    }
    let median = |shards: u32| seconds.iter().find(|(s, _)| *s == shards).map_or(0.0, |(_, t)| t[t.len() / 2]);
    let sharded = median(SHARDS);
    println!(
        "{SHARDS} shards: {calls} AWS calls = {:.1} per protected bucket, {:.1} per bucket listed; {:.0} requests/s = {:.0}% of the emulator's ceiling (which bounds both)",
        calls as f64 / buckets as f64,
        calls as f64 / scanned.max(1) as f64,
        calls as f64 / sharded,
        100.0 * calls as f64 / sharded / ceiling
    );
    println!("calls by operation ({SHARDS} shards): {}", last["awsCallsTotal"]);
}
