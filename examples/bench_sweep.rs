//! `make bench`, part 3: the sweep over 1,000 healthy protected buckets (and their 1,000
//! destinations) on the local stack. All healthy, so it only reads and starts nothing. Next to
//! it, the emulator's ceiling for plain HeadBucket calls, measured in the same run.
//!
//! Sizes: BENCH_SWEEP_BUCKETS (default 1000).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::*;
use futures::StreamExt;
use serde_json::json;

const CEILING_REQUESTS: usize = 1000;
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

    let run = stack.run_workflow("sweep", json!({})).await;
    run.assert_succeeded();
    let report = run.step("Sweep");
    assert_eq!(report["protected"].as_u64(), Some(buckets as u64), "{report}");
    assert_eq!(report["repaired"], 0, "all healthy: {report}");
    let calls: u64 = report["awsCalls"].as_object().unwrap().values().filter_map(|n| n.as_u64()).sum();
    let scanned = report["scanned"].as_u64().unwrap_or(0);
    let seconds = run.duration.as_secs_f64();
    println!(
        "sweep: {scanned} buckets ({buckets} protected sources, their destinations) in {seconds:.1} s; {calls} AWS calls = {:.1} per protected bucket, {:.1} per bucket listed; {:.0} requests/s = {:.0}% of the ceiling",
        calls as f64 / buckets as f64,
        calls as f64 / scanned.max(1) as f64,
        calls as f64 / seconds,
        100.0 * calls as f64 / seconds / ceiling
    );
    println!("calls by operation: {}", report["awsCalls"]);
}
