//! Verification from S3 Inventory reports, on the local stack. Nothing delivers inventories
//! locally, so the tests write reports where S3 would, in its documented format
//! (`s3_dr::inventory::fixture`): manifest.json and gzip'd CSV data files in each region's
//! report bucket. The step configures the inventories itself (a bucket too large to list), picks
//! the latest complete report, compares, and refuses a report it cannot trust by name.

mod common;

use aws_sdk_s3::types::{InventoryFrequency, InventoryIncludedObjectVersions};
use common::*;
use s3_dr::inventory::fixture::{iso, report, Object, Report, SCHEMA};
use s3_dr::steps::Step;
use serde_json::{json, Value};

const HOUR: i64 = 3600;

/// The report buckets of both regions, named `<prefix>-<region>`, and the template the
/// Lambda is given.
struct ReportBuckets {
    template: String,
    source: String,
    dr: String,
}

async fn report_buckets(stack: &Stack, prefix: &str) -> ReportBuckets {
    let name = unique(prefix);
    let buckets = ReportBuckets {
        template: format!("{name}-{{region}}"),
        source: format!("{name}-{SOURCE_REGION}"),
        dr: format!("{name}-{DR_REGION}"),
    };
    create_bucket(&stack.s3(SOURCE_REGION).await, &buckets.source, SOURCE_REGION).await;
    create_bucket(&stack.s3(DR_REGION).await, &buckets.dr, DR_REGION).await;
    buckets
}

/// Delivers `report` as S3 would: data files first, then the manifest, its checksum last.
async fn deliver(s3: &aws_sdk_s3::Client, report_bucket: &str, report: &Report) {
    for (key, bytes) in &report.files {
        s3.put_object().bucket(report_bucket).key(key).body(bytes.clone().into()).send().await.unwrap();
    }
    s3.put_object()
        .bucket(report_bucket)
        .key(&report.manifest_key)
        .body(report.manifest.clone().into())
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket(report_bucket)
        .key(report.checksum_key())
        .body(report.checksum().into())
        .send()
        .await
        .unwrap();
}

async fn protected(stack: &Stack, prefix: &str) -> (String, String) {
    let source = unique(prefix);
    source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;
    stack.run_protect(json!({ "bucket": source })).await.assert_succeeded();
    let destination = format!("{source}-dr");
    (source, destination)
}

fn object(key: String, size: u64, modified: i64, status: &'static str) -> Object {
    Object { key, size, last_modified: iso(modified), replication_status: status }
}

async fn verify(lambda: &InProcess, source: &str, method: &str) -> Result<Value, s3_dr::DrError> {
    let state = lambda.step("vi", Step::VerifyData, json!({ "bucket": source, "method": method })).await?;
    Ok(state["VerifyData"].clone())
}

async fn recorded(stack: &Stack, destination: &str) -> Option<s3_dr::verify::Verified> {
    let dr = stack.s3(DR_REGION).await;
    s3_dr::verify::recorded(&s3_dr::bucket::tags(&dr, destination).await.unwrap())
}

#[tokio::test]
async fn a_bucket_too_large_to_list_gets_inventories_and_is_then_compared_from_their_reports() {
    let stack = stack();
    let (source, destination) = protected(stack, "vi-large").await;
    let reports = report_buckets(stack, "vi-rep").await;
    let (s3, dr) = (stack.s3(SOURCE_REGION).await, stack.s3(DR_REGION).await);
    let bounded =
        InProcess::new(stack, &[("S3DR_BATCH_REPORT_BUCKET", &reports.template), ("S3DR_VERIFY_MAX_OBJECTS", "1")])
            .await;

    // Past the listing's bound: partial, and the inventories are configured on both buckets.
    let first = verify(&bounded, &source, "auto").await.unwrap();
    assert_eq!((first["method"].as_str(), first["complete"].as_bool()), (Some("list"), Some(false)), "{first}");
    assert_eq!(first["inventoryConfigured"], json!([source, destination]), "{first}");
    for (client, bucket, report_bucket) in [(&s3, &source, &reports.source), (&dr, &destination, &reports.dr)] {
        let config = client.get_bucket_inventory_configuration().bucket(bucket).id("s3-dr").send().await.unwrap();
        let config = config.inventory_configuration().unwrap();
        let target = config.destination().unwrap().s3_bucket_destination().unwrap();
        assert_eq!(target.bucket(), format!("arn:aws:s3:::{report_bucket}"));
        assert_eq!((target.prefix(), target.account_id()), (Some("s3-dr/inventory"), Some(ACCOUNT_ID)));
        assert_eq!(config.schedule().unwrap().frequency(), &InventoryFrequency::Daily);
        assert_eq!(config.included_object_versions(), &InventoryIncludedObjectVersions::Current);
        let fields: Vec<&str> = config.optional_fields().iter().map(|f| f.as_str()).collect();
        assert_eq!(fields, ["Size", "LastModifiedDate", "ReplicationStatus"]);
    }
    // Idempotent: configured already, nothing written; no report yet, so it lists again.
    let second = verify(&bounded, &source, "auto").await.unwrap();
    assert_eq!((second["method"].as_str(), second.get("inventoryConfigured")), (Some("list"), None), "{second}");

    // The reports S3 delivers: 1,000 objects, 10 of them missing in DR (FAILED), one with
    // another size, 5 written a minute before the scan (in flight), one only in DR.
    let now = s3_dr::verify::unix_seconds(std::time::SystemTime::now());
    let taken = now - HOUR;
    let old = taken - 48 * HOUR;
    let source_rows = (0..1000u64).map(|i| {
        let status = if i % 100 == 7 { "FAILED" } else { "COMPLETED" };
        object(format!("data/{i:05} x"), i, old + i as i64, status)
    });
    let fresh = (0..5).map(|i| object(format!("fresh/{i}"), 1, taken - 60, "PENDING"));
    let dr_rows = (0..1000u64).filter(|i| i % 100 != 7).map(|i| {
        let size = if i == 500 { 1 } else { i };
        object(format!("data/{i:05} x"), size, old + i as i64, "REPLICA")
    });
    let extra = std::iter::once(object("gone".into(), 9, old, "REPLICA"));
    deliver(&s3, &reports.source, &report(&source, taken, SCHEMA, source_rows.chain(fresh), 300)).await;
    deliver(&dr, &reports.dr, &report(&destination, taken + 120, SCHEMA, dr_rows.chain(extra), 400)).await;
    // An older report (must not be used) and a delivery in progress (data, no manifest yet).
    deliver(&s3, &reports.source, &report(&source, taken - 24 * HOUR, SCHEMA, [object("old".into(), 1, old, "")], 10))
        .await;
    let in_progress = report(&source, taken + HOUR - 60, SCHEMA, [object("newer".into(), 1, old, "")], 10);
    s3.put_object()
        .bucket(&reports.source)
        .key(&in_progress.files[0].0)
        .body(in_progress.files[0].1.clone().into())
        .send()
        .await
        .unwrap();

    let result = verify(&bounded, &source, "auto").await.unwrap();
    assert_eq!((result["method"].as_str(), result["complete"].as_bool()), (Some("inventory"), Some(true)), "{result}");
    assert_eq!((result["sourceObjects"].as_u64(), result["drObjects"].as_u64()), (Some(1005), Some(991)), "{result}");
    assert_eq!((result["missingInDr"].as_u64(), result["sizeDiffers"].as_u64()), (Some(11), Some(1)), "{result}");
    let missing_bytes: u64 = (0..1000u64).filter(|i| i % 100 == 7).sum::<u64>() + 500;
    assert_eq!(result["missingBytes"].as_u64(), Some(missing_bytes));
    assert_eq!((result["inFlight"].as_u64(), result["extraInDr"].as_u64()), (Some(5), Some(1)));
    assert_eq!(
        (result["replicationStatus"]["failed"].as_u64(), result["replicationStatus"]["completed"].as_u64()),
        (Some(10), Some(1))
    );
    // Measured at DR's scan: the oldest object not in DR is data/00007, written at old + 7.
    assert_eq!(result["asOf"].as_i64(), Some(taken + 120));
    assert_eq!(result["recoveryPointSeconds"].as_i64(), Some(taken + 120 - (old + 7)));
    assert_eq!(result["inventory"]["sourceTakenAt"].as_i64(), Some(taken), "the latest complete report: {result}");
    let example = result["examples"].as_array().unwrap().iter().find(|e| e["key"] == "data/00007 x");
    assert!(example.is_some(), "keys are decoded for the report: {result}");
    assert!(result["summary"].as_str().unwrap().contains("11 of 1005 objects missing in DR"), "{result}");
    let record = recorded(stack, &destination).await.unwrap();
    assert_eq!((record.missing_in_dr, record.complete), (11, true));

    // The operator's command reads the same reports.
    let verify = std::process::Command::new(cli_binary())
        .args(["verify", &source, "--method", "inventory", "--output", "json"])
        .envs(&stack.env)
        .env("S3DR_BATCH_REPORT_BUCKET", &reports.template)
        .output()
        .unwrap();
    assert!(!verify.status.success(), "objects are missing: exit non-zero");
    let printed: Value = serde_json::from_slice(&verify.stdout).unwrap();
    assert_eq!(
        (printed[0]["method"].as_str(), printed[0]["missingInDr"].as_u64()),
        (Some("inventory"), Some(11)),
        "{printed}"
    );
}

#[tokio::test]
async fn reports_that_cannot_be_trusted_are_named_errors_and_record_nothing() {
    let stack = stack();
    let (source, destination) = protected(stack, "vi-bad").await;
    let reports = report_buckets(stack, "vi-bad-rep").await;
    let (s3, dr) = (stack.s3(SOURCE_REGION).await, stack.s3(DR_REGION).await);
    let lambda = InProcess::new(stack, &[("S3DR_BATCH_REPORT_BUCKET", &reports.template)]).await;

    // No report yet.
    let error = verify(&lambda, &source, "inventory").await.unwrap_err();
    assert_eq!(error.error_type(), "InventoryMissing", "{error}");
    assert!(error.to_string().contains(&format!("s3://{}/s3-dr/inventory/{source}/s3-dr/", reports.source)), "{error}");

    let taken = s3_dr::verify::unix_seconds(std::time::SystemTime::now()) - 2 * HOUR;
    let rows = || (0..50).map(|i| object(format!("k{i}"), 1, taken - 48 * HOUR, "COMPLETED"));
    deliver(&dr, &reports.dr, &report(&destination, taken, SCHEMA, rows(), 20)).await;

    // A schema without a field the comparison needs.
    let no_status = ["Bucket", "Key", "Size", "LastModifiedDate"];
    deliver(&s3, &reports.source, &report(&source, taken, &no_status, rows(), 20)).await;
    let error = verify(&lambda, &source, "inventory").await.unwrap_err();
    assert_eq!(error.error_type(), "InventoryInvalid", "{error}");
    assert!(error.to_string().contains("no ReplicationStatus field"), "{error}");

    // A newer report with a data file cut short.
    let mut cut = report(&source, taken + 60, SCHEMA, rows(), 20);
    let bytes = &cut.files[1].1;
    cut.files[1].1 = bytes[..bytes.len() - 30].to_vec();
    deliver(&s3, &reports.source, &cut).await;
    let error = verify(&lambda, &source, "auto").await.unwrap_err();
    assert_eq!(error.error_type(), "InventoryInvalid", "{error}");
    assert!(error.to_string().contains(&cut.files[1].0), "names the file: {error}");

    // A newer manifest whose manifest.checksum (written last) is not its MD5: cut or replaced.
    let replaced = report(&source, taken + 120, SCHEMA, rows(), 20);
    deliver(&s3, &reports.source, &replaced).await;
    s3.put_object()
        .bucket(&reports.source)
        .key(replaced.checksum_key())
        .body(b"0123456789abcdef0123456789abcdef\n".to_vec().into())
        .send()
        .await
        .unwrap();
    let error = verify(&lambda, &source, "auto").await.unwrap_err();
    assert_eq!(error.error_type(), "InventoryInvalid", "{error}");
    assert!(error.to_string().contains("manifest.checksum says"), "{error}");

    assert_eq!(recorded(stack, &destination).await, None, "nothing recorded from a bad report");
}

/// A million rows a side through GetObject, with a budget that forces several partitions:
/// the figures are exact. (`make bench` prints the time and peak memory of the same.)
#[tokio::test]
async fn a_million_row_inventory_streams_in_partitions_with_exact_figures() {
    let stack = stack();
    let (source, destination) = protected(stack, "vi-million").await;
    let reports = report_buckets(stack, "vi-mil-rep").await;
    let (s3, dr) = (stack.s3(SOURCE_REGION).await, stack.s3(DR_REGION).await);
    let taken = s3_dr::verify::unix_seconds(std::time::SystemTime::now()) - HOUR;
    const ROWS: u64 = 1_000_000;
    let rows = move |skip: bool| {
        (0..ROWS).filter(move |i| !skip || i % 1000 != 0).map(move |i| {
            object(format!("p/{i}"), i % 4096, taken - 48 * HOUR, if skip { "REPLICA" } else { "COMPLETED" })
        })
    };
    let (source_report, dr_report) = tokio::join!(
        tokio::task::spawn_blocking({
            let source = source.clone();
            move || report(&source, taken, SCHEMA, rows(false), 250_000)
        }),
        tokio::task::spawn_blocking({
            let destination = destination.clone();
            move || report(&destination, taken, SCHEMA, rows(true), 250_000)
        }),
    );
    deliver(&s3, &reports.source, &source_report.unwrap()).await;
    deliver(&dr, &reports.dr, &dr_report.unwrap()).await;
    s3_dr::inventory::reports::ensure(&s3, &source, s3_dr::inventory::reports::wanted(&reports.source, None).unwrap())
        .await
        .unwrap();

    let lambda = InProcess::new(
        stack,
        &[("S3DR_BATCH_REPORT_BUCKET", &reports.template), ("S3DR_VERIFY_INVENTORY_ROWS", "600000")],
    )
    .await;
    let result = verify(&lambda, &source, "auto").await.unwrap();
    assert_eq!((result["method"].as_str(), result["complete"].as_bool()), (Some("inventory"), Some(true)), "{result}");
    assert_eq!(result["inventory"]["partitions"].as_u64(), Some(2), "{result}");
    assert_eq!((result["sourceObjects"].as_u64(), result["drObjects"].as_u64()), (Some(ROWS), Some(ROWS - 1000)));
    let missing_bytes: u64 = (0..ROWS).filter(|i| i % 1000 == 0).map(|i| i % 4096).sum();
    assert_eq!((result["missingInDr"].as_u64(), result["missingBytes"].as_u64()), (Some(1000), Some(missing_bytes)));
    assert_eq!(result["extraInDr"].as_u64(), Some(0));
}
