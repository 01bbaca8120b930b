//! `make bench`, part 2: the `copy` backfill of 2,000 objects (the test set: mixed sizes, some
//! with metadata and tags, three above the 5 MiB multipart threshold) on the local stack, next
//! to two yardsticks measured in the same rounds between the same kind of buckets (s3-dr makes a
//! HeadObject per object it copies, for what CopyObject does not carry; the yardsticks do not):
//! - `aws s3 sync` (awscli, pinned in .venv), pointed at the same moto, 16 requests in flight;
//! - the emulator's ceiling: a plain CopyObject loop with the same 16 copies in flight.
//!
//! Each round seeds a fresh source (s3-dr backfills a destination once) and times the three
//! one after the other; moto slows as it holds more objects, so the rounds interleave them and
//! the medians are compared. `BENCH_ROUNDS` (default 3) sets the number of rounds.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;
use std::time::Instant;

use common::*;
use futures::StreamExt;
use serde_json::json;

const IN_FLIGHT: usize = 16;

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3).max(1);
    let stack = start_stack(&[("S3DR_BACKFILL", "copy"), ("S3DR_COPY_MULTIPART_THRESHOLD", "5242880")], &[]);
    println!(
        "s3-dr copy backfill benchmark: local stack (moto 5.2.5, debug-build Lambda), {MIXED_OBJECTS} objects, {rounds} rounds"
    );
    println!("reproduce: make bench   (BENCH_ROUNDS={rounds})\n");
    let bytes: usize = mixed_objects().iter().map(|o| o.1).sum();
    println!("source per round: {MIXED_OBJECTS} fresh objects, {:.1} MiB", bytes as f64 / 1048576.0);
    let awscli_config = awscli_config();

    let (mut plain, mut s3_dr, mut sync, mut rerun, mut forced) = (vec![], vec![], vec![], vec![], vec![]);
    for round in 1..=rounds {
        let source = unique("bench-backfill");
        seed_mixed_objects(&stack, &source).await;

        let plain_time = plain_copy_loop(&stack, &source).await;

        // s3-dr: the protect workflow with the copy backfill (the setup steps included).
        tag_bucket(&stack.s3(SOURCE_REGION).await, &source, &[("dr", "true")]).await;
        let run = stack.run_protect(json!({ "bucket": source })).await;
        run.assert_succeeded();
        let backfill = run.step("CheckBackfill");
        assert_eq!(backfill["objectsCopied"].as_u64(), Some(MIXED_OBJECTS as u64), "{backfill}");
        let pages = run.steps.iter().filter(|(name, _)| name == "CheckBackfill").count();
        let again = stack.run_protect(json!({ "bucket": source })).await;
        assert_no_backfill_and_no_write(&again);
        let forced_run = stack.run_protect(json!({ "bucket": source, "backfill": "force" })).await;
        forced_run.assert_succeeded();
        assert_eq!(forced_run.step("CheckBackfill")["objectsCopied"].as_u64(), Some(0));

        let sync_time = aws_s3_sync(&stack, &source, &awscli_config).await;

        println!(
            "round {round}: plain CopyObject loop {plain_time:.2} s; s3-dr protect + copy backfill {:.2} s ({pages} pages; \
             re-run {:.2} s, forced re-run {:.2} s); aws s3 sync {sync_time:.2} s",
            run.duration.as_secs_f64(),
            again.duration.as_secs_f64(),
            forced_run.duration.as_secs_f64(),
        );
        plain.push(plain_time);
        s3_dr.push(run.duration.as_secs_f64());
        rerun.push(again.duration.as_secs_f64());
        forced.push(forced_run.duration.as_secs_f64());
        sync.push(sync_time);
    }

    let rate = |seconds: f64| MIXED_OBJECTS as f64 / seconds;
    println!("\nmedian of {rounds} rounds (range):");
    println!("  {:<44}{}", format!("plain CopyObject loop, {IN_FLIGHT} in flight"), describe(&plain, rate));
    println!("  {:<44}{}", "s3-dr, the whole protect execution", describe(&s3_dr, rate));
    println!("  {:<44}{}", format!("aws s3 sync (awscli 1.46.3), {IN_FLIGHT} in flight"), describe(&sync, rate));
    println!(
        "  {:<44}{:.2} s (range {:.2} to {:.2} s)",
        "s3-dr re-run (marked: no backfill call)",
        median(&rerun),
        min(&rerun),
        max(&rerun)
    );
    println!(
        "  {:<44}{:.2} s (range {:.2} to {:.2} s)",
        format!("s3-dr forced re-run (all {MIXED_OBJECTS} skipped)"),
        median(&forced),
        min(&forced),
        max(&forced)
    );
    println!(
        "\ns3-dr copy backfill: {:.2}x the speed of aws s3 sync, {:.0}% of the plain CopyObject loop (medians)",
        median(&sync) / median(&s3_dr),
        100.0 * median(&plain) / median(&s3_dr)
    );
}

fn describe(seconds: &[f64], rate: impl Fn(f64) -> f64) -> String {
    format!(
        "{:.2} s = {:.0} objects/s (range {:.2} to {:.2} s)",
        median(seconds),
        rate(median(seconds)),
        min(seconds),
        max(seconds)
    )
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    }
}

fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(0.0, f64::max)
}

/// An awscli config file giving `aws s3 sync` the same 16 requests in flight as the others
/// (its default is 10).
fn awscli_config() -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("s3-dr-bench-awscli-{}.ini", std::process::id()));
    std::fs::write(&path, format!("[default]\ns3 =\n  max_concurrent_requests = {IN_FLIGHT}\n"))
        .expect("write the awscli config");
    path
}

/// `aws s3 sync` from `source` into a fresh bucket in the DR region; the seconds it took.
async fn aws_s3_sync(stack: &Stack, source: &str, config: &std::path::Path) -> f64 {
    let dr = stack.s3(DR_REGION).await;
    let synced = unique("bench-sync");
    create_bucket(&dr, &synced, DR_REGION).await;
    let aws = repo_root().join(".venv/bin/aws");
    let started = Instant::now();
    let status = Command::new(&aws)
        .args(["s3", "sync", &format!("s3://{source}"), &format!("s3://{synced}"), "--only-show-errors"])
        // Not --source-region: awscli then builds the source's client without --endpoint-url.
        // One endpoint serves every region on moto.
        .args(["--endpoint-url", &stack.endpoint, "--region", DR_REGION])
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", DR_REGION)
        .env("AWS_CONFIG_FILE", config)
        .status()
        .expect("run aws s3 sync (make tools installs awscli in .venv)");
    let seconds = started.elapsed().as_secs_f64();
    assert!(status.success(), "aws s3 sync failed");
    let copies = dr.list_objects_v2().bucket(&synced).max_keys(1000).send().await.expect("list").key_count();
    assert!(copies.unwrap_or(0) > 0, "aws s3 sync copied nothing");
    seconds
}

/// Copy every object of `source` into a fresh DR-region bucket with plain CopyObject calls;
/// the seconds it took.
async fn plain_copy_loop(stack: &Stack, source: &str) -> f64 {
    let dr = stack.s3(DR_REGION).await;
    let plain = unique("bench-plain");
    create_bucket(&dr, &plain, DR_REGION).await;
    let started = Instant::now();
    futures::stream::iter(mixed_objects())
        .for_each_concurrent(IN_FLIGHT, |(key, _, _)| {
            let (dr, plain) = (dr.clone(), plain.clone());
            async move {
                dr.copy_object()
                    .bucket(plain)
                    .key(&key)
                    .copy_source(s3_dr::backfill::copy_source(source, &key))
                    .send()
                    .await
                    .expect("CopyObject");
            }
        })
        .await;
    started.elapsed().as_secs_f64()
}
