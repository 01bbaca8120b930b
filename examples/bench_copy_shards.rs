//! `make bench`: the copy backfill split into key ranges (`copyShards` 1, 2 and 4: one Lambda
//! per shard) with every S3 request 50 ms away, as on AWS, where latency rather than the
//! emulator sets a copier's pace. The local stack's fault proxy adds the latency to the
//! Lambda's S3 requests and to the yardsticks' measured the same way: `aws s3 sync` and a plain
//! CopyObject loop, 16 requests in flight each; the emulator's ceiling (the same loop straight to
//! moto, no latency) is measured in the same rounds.
//!
//! Each Lambda keeps S3DR_COPY_CONCURRENCY=4 copies in flight here, so 4 shards have the
//! yardsticks' 16. The keys are spread over 16 first characters, as hashed keys are (the
//! split's model, src/backfill/shards.rs); pages of 100 objects make 2,000 objects 20 pages.
//! s3-dr's time is the whole protect execution (setup steps included); each round seeds fresh
//! sources (s3-dr backfills a destination once), and the order of the copiers turns from round
//! to round so that moto slowing as it fills weighs on each alike. `BENCH_ROUNDS` (default 3).

#[path = "../tests/common/mod.rs"]
mod common;

use aws_sdk_s3::primitives::ByteStream;
use common::bench::*;
use common::*;
use futures::StreamExt;
use serde_json::json;

const OBJECTS: usize = 2000;
const SHARDS: [u64; 3] = [1, 2, 4];
const LATENCY_MS: u64 = 50;

fn keys() -> Vec<String> {
    (0..OBJECTS).map(|i| format!("{:02x}/object-{i:05}", (i * 157) % 256)).collect()
}

async fn seed(stack: &Stack) -> String {
    let s3 = stack.s3(SOURCE_REGION).await;
    let bucket = unique("bench-shards");
    create_bucket(&s3, &bucket, SOURCE_REGION).await;
    futures::stream::iter(keys())
        .for_each_concurrent(IN_FLIGHT, |key| {
            let (s3, bucket) = (s3.clone(), bucket.clone());
            async move {
                let body = ByteStream::from(vec![b'x'; 1024]);
                s3.put_object().bucket(bucket).key(&key).body(body).send().await.expect("seed");
            }
        })
        .await;
    tag_bucket(&s3, &bucket, &[("dr", "true")]).await;
    bucket
}

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3).max(1);
    let env = [("S3DR_BACKFILL", "copy"), ("S3DR_COPY_PAGE_SIZE", "100"), ("S3DR_COPY_CONCURRENCY", "4")];
    let stack = start_stack(&env, &["--s3-fault-proxy"]);
    let proxy = stack.env["S3DR_FAULT_PROXY_URL"].clone();
    control("POST", &format!("{proxy}/__s3dr/faults"), Some(&json!({"latency_ms": [LATENCY_MS, LATENCY_MS]})));
    println!(
        "s3-dr copy backfill split into shards: local stack (moto 5.2.5, debug-build Lambda), {OBJECTS} objects of 1 KiB over 16 first characters, pages of 100, {LATENCY_MS} ms per S3 request, {rounds} rounds"
    );
    println!("reproduce: make bench   (BENCH_ROUNDS={rounds}; alone: cargo run --example bench_copy_shards)\n");
    let awscli = awscli_config();
    let mut s3_dr: Vec<Vec<f64>> = vec![Vec::new(); SHARDS.len()];
    let (mut plain, mut sync, mut ceiling) = (Vec::new(), Vec::new(), Vec::new());
    let copiers = SHARDS.len() + 3;
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..copiers).collect();
        order.rotate_left(round % copiers);
        let mut line = format!("round {}:", round + 1);
        for copier in order {
            let source = seed(&stack).await;
            match copier {
                c if c < SHARDS.len() => {
                    let run = stack.run_protect(json!({ "bucket": source, "copyShards": SHARDS[c] })).await;
                    run.assert_succeeded();
                    let backfill = run.step("CheckBackfill");
                    assert_eq!(backfill["objectsCopied"].as_u64(), Some(OBJECTS as u64), "{backfill}");
                    let split = backfill["shards"].as_array().map_or(1, Vec::len);
                    assert_eq!(split as u64, SHARDS[c], "{backfill}");
                    s3_dr[c].push(run.duration.as_secs_f64());
                    line += &format!(" s3-dr {} shards {:.2} s;", SHARDS[c], run.duration.as_secs_f64());
                }
                c if c == SHARDS.len() => {
                    let seconds = plain_copy_loop(&stack, &source, keys(), &proxy).await;
                    plain.push(seconds);
                    line += &format!(" plain loop {seconds:.2} s;");
                }
                c if c == SHARDS.len() + 1 => {
                    let seconds = aws_s3_sync(&stack, &source, &awscli, &proxy).await;
                    sync.push(seconds);
                    line += &format!(" aws s3 sync {seconds:.2} s;");
                }
                _ => {
                    let seconds = plain_copy_loop(&stack, &source, keys(), &stack.s3_endpoint).await;
                    ceiling.push(seconds);
                    line += &format!(" ceiling {seconds:.2} s;");
                }
            }
        }
        println!("{line}");
    }
    let rate = |seconds: f64| OBJECTS as f64 / seconds;
    println!("\nmedian of {rounds} rounds (range):");
    for (index, shards) in SHARDS.iter().enumerate() {
        let what = format!("s3-dr, {shards} shard{} x 4 in flight", if *shards == 1 { "" } else { "s" });
        println!("  {what:<50}{}", describe(&s3_dr[index], rate));
    }
    println!("  {:<50}{}", format!("aws s3 sync, {IN_FLIGHT} in flight"), describe(&sync, rate));
    println!("  {:<50}{}", format!("plain CopyObject loop, {IN_FLIGHT} in flight"), describe(&plain, rate));
    println!("  {:<50}{}", format!("emulator ceiling: the loop, no latency"), describe(&ceiling, rate));
    println!(
        "\n2 shards vs 1: {:.2}x the objects/s; 4 shards vs 1: {:.2}x (medians). s3-dr makes 2 requests per object (HeadObject, CopyObject), the loop 1",
        median(&s3_dr[0]) / median(&s3_dr[1]),
        median(&s3_dr[0]) / median(&s3_dr[2]),
    );
}
