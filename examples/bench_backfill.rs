//! `make bench`, part 2: the `copy` backfill of 2,000 objects (the test set: mixed sizes, some
//! with metadata and tags, three above the 5 MiB multipart threshold) on the local stack, next
//! to two yardsticks measured in the same run between the same kind of buckets (s3-dr makes a
//! HeadObject per object it copies, for what CopyObject does not carry; the yardsticks do not):
//! - `aws s3 sync` (awscli, pinned in .venv), pointed at the same moto;
//! - the emulator's ceiling: a plain CopyObject loop with the same 16 copies in flight.

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
    let stack = start_stack(&[("S3DR_BACKFILL", "copy"), ("S3DR_COPY_MULTIPART_THRESHOLD", "5242880")], &[]);
    println!("s3-dr copy backfill benchmark: local stack (moto 5.2.5, debug-build Lambda), {} objects", MIXED_OBJECTS);
    println!("reproduce: make bench\n");

    let source = unique("bench-backfill");
    seed_mixed_objects(&stack, &source).await;
    let bytes: usize = mixed_objects().iter().map(|o| o.1).sum();
    println!("source: {MIXED_OBJECTS} objects, {:.1} MiB", bytes as f64 / 1048576.0);

    // The ceiling: CopyObject, nothing else, IN_FLIGHT at a time, measured first.
    let (before_time, before) = plain_copy_loop(&stack, &source).await;
    println!("emulator ceiling, plain CopyObject x{MIXED_OBJECTS}, {IN_FLIGHT} in flight, measured first: {before_time:.2} s = {before:.0} objects/s");

    // s3-dr: the protect workflow with the copy backfill (the setup steps included).
    tag_bucket(&stack.s3(SOURCE_REGION).await, &source, &[("dr", "true")]).await;
    let run = stack.run_protect(json!({ "bucket": source })).await;
    run.assert_succeeded();
    let backfill = run.step("CheckBackfill");
    assert_eq!(backfill["objectsCopied"].as_u64(), Some(MIXED_OBJECTS as u64), "{backfill}");
    let s3_dr_rate = MIXED_OBJECTS as f64 / run.duration.as_secs_f64();
    let pages = run.steps.iter().filter(|(name, _)| name == "CheckBackfill").count();
    println!(
        "s3-dr protect + copy backfill: {:.2} s for the whole execution ({pages} pages) = {s3_dr_rate:.0} objects/s",
        run.duration.as_secs_f64()
    );
    let again = stack.run_protect(json!({ "bucket": source })).await;
    assert_no_backfill_and_no_write(&again);
    println!(
        "  re-run (the destination is marked as backfilled: no backfill call): {:.2} s",
        again.duration.as_secs_f64()
    );
    let forced = stack.run_protect(json!({ "bucket": source, "backfill": "force" })).await;
    forced.assert_succeeded();
    println!(
        "  forced re-run (\"backfill\": \"force\"; all {} skipped, nothing copied): {:.2} s",
        forced.step("CheckBackfill")["objectsSkipped"],
        forced.duration.as_secs_f64()
    );

    // aws s3 sync, same source, into a fresh bucket in the DR region.
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
        .status()
        .expect("run aws s3 sync (make tools installs awscli in .venv)");
    let sync_time = started.elapsed().as_secs_f64();
    assert!(status.success(), "aws s3 sync failed");
    let copies = dr.list_objects_v2().bucket(&synced).max_keys(1000).send().await.expect("list").key_count();
    assert!(copies.unwrap_or(0) > 0, "aws s3 sync copied nothing");
    let sync_rate = MIXED_OBJECTS as f64 / sync_time;
    println!("aws s3 sync (awscli 1.46.3, its default 10 threads): {sync_time:.2} s = {sync_rate:.0} objects/s");

    // The ceiling again, last: moto slows as it holds more objects, so the loop runs before and
    // after the other two and both numbers are shown.
    let (after_time, after) = plain_copy_loop(&stack, &source).await;
    println!("emulator ceiling, plain CopyObject x{MIXED_OBJECTS}, {IN_FLIGHT} in flight, measured last: {after_time:.2} s = {after:.0} objects/s\n");
    let ceiling = before.max(after);
    println!(
        "s3-dr copy backfill: {:.2}x the speed of aws s3 sync, {:.0}% of the faster CopyObject loop",
        s3_dr_rate / sync_rate,
        100.0 * s3_dr_rate / ceiling
    );
}

/// Copy every object of `source` into a fresh DR-region bucket with plain CopyObject calls.
async fn plain_copy_loop(stack: &Stack, source: &str) -> (f64, f64) {
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
    let seconds = started.elapsed().as_secs_f64();
    (seconds, MIXED_OBJECTS as f64 / seconds)
}
