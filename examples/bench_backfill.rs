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

use common::bench::*;
use common::*;
use serde_json::json;

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

        let keys = mixed_objects().into_iter().map(|o| o.0).collect();
        let plain_time = plain_copy_loop(&stack, &source, keys, &stack.s3_endpoint).await;

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

        let sync_time = aws_s3_sync(&stack, &source, &awscli_config, &stack.s3_endpoint).await;

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
