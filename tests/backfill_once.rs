//! A protected bucket never starts a second backfill: not a second Batch Replication job ($0.25
//! and a manifest scan of the whole bucket each), not a second copy pass. The stack is
//! configured for `batch`, as on AWS; moto has no S3 Control, so any call to it would fail the
//! run: a re-run that succeeds made none.

mod common;

use common::*;
use serde_json::json;

const BATCH_ENV: &[(&str, &str)] = &[
    ("S3DR_BACKFILL", "batch"),
    ("S3DR_BATCH_ROLE_ARN", "arn:aws:iam::123456789012:role/s3-dr-batch"),
    ("S3DR_BATCH_REPORT_BUCKET", "s3-dr-reports-{region}"),
];

#[tokio::test]
async fn a_re_run_on_a_backfilled_bucket_makes_no_job_and_no_write_whatever_the_strategy() {
    let stack = stack_with(BATCH_ENV);
    let source = unique("once");
    source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;
    // The first protection copies (the request overrides the configured strategy).
    let first = stack.run_protect(json!({ "bucket": source, "backfill": "copy" })).await;
    first.assert_succeeded();
    assert_eq!(first.step("CheckBackfill")["objectsCopied"], 2);

    // Then the configured batch strategy: the marker says it is done. No ListJobs, no CreateJob.
    let again = stack.run_protect(json!({ "bucket": source })).await;
    assert_no_backfill_and_no_write(&again);
    assert_eq!(again.step("StartBackfill")["strategy"], "batch");
    assert!(again.step("StartBackfill")["notNeeded"].as_str().unwrap().contains("backfilled already"));
    // Nor with copy asked for explicitly.
    assert_no_backfill_and_no_write(&stack.run_protect(json!({ "bucket": source, "backfill": "copy" })).await);
}
