//! `make bench`: what S3's failures cost the protect workflow. The local stack's fault proxy
//! (local/fault_proxy.py, in front of the Lambda's S3 clients only) injects 503 SlowDown before
//! a request applies, 500 InternalError after it applied and dropped connections, at 0, 10, 20
//! and 35% of S3 requests. Each round protects BENCH_FAULT_BUCKETS fresh buckets of 25 objects
//! at once and takes the wall time until the last execution ended; the rates take turns within
//! each round (same stack, same clock, same concurrency), and each rate's median over
//! BENCH_FAULT_ROUNDS rounds is printed with the spread.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::*;
use futures::stream::{self, StreamExt};
use serde_json::json;

const RATES: [f64; 4] = [0.0, 0.10, 0.20, 0.35];
const OBJECTS: usize = 25;

#[tokio::main]
async fn main() {
    let buckets: usize = std::env::var("BENCH_FAULT_BUCKETS").ok().and_then(|v| v.parse().ok()).unwrap_or(6);
    let rounds: usize = std::env::var("BENCH_FAULT_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let stack = stack_with_args(&[], &["--s3-fault-proxy"]);
    let proxy = format!("{}/__s3dr/faults", stack.env["S3DR_FAULT_PROXY_URL"]);
    println!("s3-dr under S3 faults: {buckets} buckets x {OBJECTS} objects protected at once, {rounds} rounds");
    println!("reproduce: make bench   (BENCH_FAULT_BUCKETS={buckets} BENCH_FAULT_ROUNDS={rounds})\n");

    let s3 = stack.s3(SOURCE_REGION).await;
    let mut walls: Vec<Vec<f64>> = vec![Vec::new(); RATES.len()];
    let mut injected: Vec<u64> = vec![0; RATES.len()];
    let mut requests: Vec<u64> = vec![0; RATES.len()];
    for round in 0..rounds {
        for (index, rate) in RATES.iter().enumerate() {
            let names: Vec<String> = (0..buckets).map(|_| unique("bench-faults")).collect();
            for name in &names {
                create_bucket(&s3, name, SOURCE_REGION).await;
                stream::iter(0..OBJECTS)
                    .for_each_concurrent(8, |i| {
                        let s3 = &s3;
                        async move {
                            s3.put_object()
                                .bucket(name)
                                .key(format!("{i:03}"))
                                .body(vec![b'x'; 1024].into())
                                .send()
                                .await
                                .unwrap();
                        }
                    })
                    .await;
                tag_bucket(&s3, name, &[("dr", "true")]).await;
            }
            let seed = (round * 100 + index) as u64;
            control("POST", &proxy, Some(&json!({ "rate": rate, "seed": seed, "reset_counts": true })));
            let started = Instant::now();
            let runs: Vec<Execution> = stream::iter(&names)
                .map(|name| stack.run_protect(json!({ "bucket": name })))
                .buffer_unordered(buckets)
                .collect()
                .await;
            walls[index].push(started.elapsed().as_secs_f64());
            control("POST", &proxy, Some(&json!({ "rate": 0.0 })));
            let report = control("GET", &proxy, None)["counts"].clone();
            for run in &runs {
                run.assert_succeeded();
            }
            injected[index] +=
                ["slowdown", "internal_after", "drop"].iter().filter_map(|k| report[k].as_u64()).sum::<u64>();
            requests[index] += report["requests"].as_u64().unwrap_or_default();
        }
    }

    println!("{:>6}  {:>12}  {:>16}  {:>14}  {:>9}", "faults", "median wall", "min..max", "S3 requests", "injected");
    for (index, rate) in RATES.iter().enumerate() {
        let mut sorted = walls[index].clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        println!(
            "{:>5.0}%  {:>10.1} s  {:>6.1}..{:<6.1} s  {:>14}  {:>9}",
            rate * 100.0,
            median,
            sorted[0],
            sorted[sorted.len() - 1],
            requests[index] / rounds as u64,
            injected[index] / rounds as u64,
        );
    }
    println!("\nevery execution SUCCEEDED at every rate (asserted); S3 requests and injected faults are per round");
}
