//! `make bench`: on AWS, latency sets the protect workflow's pace, not the emulator. The local
//! stack's fault proxy (local/fault_proxy.py, in front of the Lambda's S3 clients only) adds a
//! fixed latency to every S3 request, 0 ms and 30 ms (the order of a same-region S3 call) in
//! turn, and traces each request's span. One fresh bucket (5 objects) is protected per run.
//!
//! Printed for each latency (median of BENCH_PATH_ROUNDS rounds, default 7; range):
//! - the execution's wall time (Step Functions' start to stop);
//! - the time S3 was busy: the union of the S3 requests' spans (from the proxy's trace);
//! - the rest, which no S3 latency is in: the Step Functions transitions (StateEntered events,
//!   counted), the Lambda invocations, the emulator;
//! - S3 requests, and the sequential round trips the run made: the longest chain of requests
//!   each starting after the one before it ended.
//!
//! Then the critical path (`common::bench::CRITICAL_PATH`): the S3 round trips a fresh bucket's
//! protection cannot avoid doing one after the other, x 30 ms, and the ratio of the time S3 was
//! busy to it (goal: 1.5 at most). tests/faults.rs pins the chain to the critical path.
//! `BENCH_PATH_TRACE=1` also prints the chain of the first run at 30 ms, request by request.

#[path = "../tests/common/mod.rs"]
mod common;

use common::bench::{longest_chain, max, median, min, CRITICAL_PATH};
use common::*;
use serde_json::{json, Value};

const LATENCY_MS: u64 = 30;
const OBJECTS: usize = 5;

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::var("BENCH_PATH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(7).max(1);
    let stack = stack_with_args(&[], &["--s3-fault-proxy"]);
    let proxy = format!("{}/__s3dr/faults", stack.env["S3DR_FAULT_PROXY_URL"]);
    println!("s3-dr protect of one fresh bucket ({OBJECTS} objects) under a fixed S3 latency: local stack, fault proxy, {rounds} rounds");
    println!("reproduce: make bench   (BENCH_PATH_ROUNDS={rounds}; alone: cargo run --example bench_critical_path)\n");
    let latencies = [0, LATENCY_MS];
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(), Vec::new()];
    let s3 = stack.s3(SOURCE_REGION).await;
    for round in 0..rounds {
        for turn in 0..2 {
            // The order of the latencies turns from round to round.
            let index = (round + turn) % 2;
            let bucket = unique("bench-path");
            create_bucket(&s3, &bucket, SOURCE_REGION).await;
            for i in 0..OBJECTS {
                s3.put_object().bucket(&bucket).key(format!("k{i}")).body(vec![b'x'; 512].into()).send().await.unwrap();
            }
            tag_bucket(&s3, &bucket, &[("dr", "true")]).await;
            let ms = latencies[index];
            control(
                "POST",
                &proxy,
                Some(&json!({"rate": 0.0, "latency_ms": [ms, ms], "trace": true, "reset_counts": true})),
            );
            let run = measure(stack, &proxy, &bucket).await;
            println!(
                "round {} at {ms} ms: {:.2} s, {} S3 requests, {} sequential, {} transitions",
                round + 1,
                run.wall,
                run.requests,
                run.sequential,
                run.transitions
            );
            runs[index].push(run);
        }
    }
    control("POST", &proxy, Some(&json!({"latency_ms": [0, 0], "trace": false, "reset_counts": true})));

    let critical: u32 = CRITICAL_PATH.iter().map(|(_, trips, _)| trips).sum();
    let floor = f64::from(critical) * LATENCY_MS as f64 / 1000.0;
    let stat = |index: usize, field: fn(&Run) -> f64| {
        let values: Vec<f64> = runs[index].iter().map(field).collect();
        (median(&values), min(&values), max(&values))
    };
    let show = |(middle, low, high): (f64, f64, f64)| format!("{middle:.2} s ({low:.2} to {high:.2})");
    println!("\nmedian of {rounds} rounds (range):");
    for (index, ms) in latencies.iter().enumerate() {
        println!(
            "  at {ms:>2} ms: wall {}; S3 busy {}; the rest {}; {:.0} S3 requests, {:.0} state transitions",
            show(stat(index, |r| r.wall)),
            show(stat(index, |r| r.busy)),
            show(stat(index, |r| r.wall - r.busy)),
            stat(index, |r| r.requests as f64).0,
            stat(index, |r| r.transitions as f64).0
        );
    }
    println!("\ncritical path: {critical} sequential S3 round trips x {LATENCY_MS} ms = {floor:.2} s");
    for (step, trips, why) in CRITICAL_PATH {
        println!("  {step:<24}{trips}  {why}");
    }
    let (busy, low, high) = stat(1, |r| r.busy);
    println!(
        "\nS3 busy at {LATENCY_MS} ms / critical path x latency: {busy:.2} / {floor:.2} = {:.2} (range {:.2} to {:.2}; goal <= 1.5)",
        busy / floor,
        low / floor,
        high / floor
    );
    let own = stat(0, |r| r.busy).0;
    println!(
        "of which the emulator and the proxy (S3 busy at 0 ms): {own:.2} s; the latency's part, {:.2} s, is {:.2}x the critical path x latency",
        busy - own,
        (busy - own) / floor
    );
    println!(
        "sequential round trips made at {LATENCY_MS} ms (the proxy's trace): {:.0}, the critical path {critical}; each took {:.0} ms on average (the latency, the proxy and moto)",
        stat(1, |r| r.sequential as f64).0,
        1000.0 * busy / stat(1, |r| r.sequential as f64).0
    );
    println!(
        "the rest of the wall time holds no S3 latency: {} at {LATENCY_MS} ms against {} at 0 ms (Step Functions, Lambda, the emulator)",
        show(stat(1, |r| r.wall - r.busy)),
        show(stat(0, |r| r.wall - r.busy)),
    );
    if std::env::var_os("BENCH_PATH_TRACE").is_some() {
        for entry in &runs[1][0].chain {
            println!("  {entry}");
        }
    }
}

struct Run {
    wall: f64,
    /// Seconds in which at least one S3 request was in flight.
    busy: f64,
    requests: usize,
    sequential: usize,
    transitions: usize,
    /// The longest chain's requests, "METHOD target", for BENCH_PATH_TRACE=1.
    chain: Vec<String>,
}

async fn measure(stack: &Stack, proxy: &str, bucket: &str) -> Run {
    let run = stack.run_protect(json!({ "bucket": bucket })).await;
    run.assert_succeeded();
    let transitions = run.history.transitions();
    let trace = control("GET", proxy, None)["trace"].as_array().cloned().unwrap_or_default();
    let chain = longest_chain(&trace);
    Run {
        wall: run.duration.as_secs_f64(),
        busy: busy_seconds(&trace),
        requests: trace.len(),
        sequential: chain.len(),
        transitions,
        chain,
    }
}

/// The union of the requests' spans, in seconds.
fn busy_seconds(trace: &[Value]) -> f64 {
    let mut spans: Vec<(f64, f64)> =
        trace.iter().map(|r| (r["start"].as_f64().unwrap_or(0.0), r["end"].as_f64().unwrap_or(0.0))).collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut busy, mut until) = (0.0, f64::NEG_INFINITY);
    for (start, end) in spans {
        busy += (end - start.max(until)).max(0.0);
        until = until.max(end);
    }
    busy
}
