//! The benchmarks' yardsticks and statistics: medians with their range, `aws s3 sync` (awscli,
//! pinned in .venv) and a plain CopyObject loop (the emulator's ceiling), each with the same
//! requests in flight as s3-dr's copy; and the protect workflow's critical path, with the count of
//! sequential round trips a run made, read from the fault proxy's trace.

use std::process::Command;
use std::time::Instant;

use futures::StreamExt;
use serde_json::Value;

use super::*;

/// Requests in flight for every copier compared (s3-dr's S3DR_COPY_CONCURRENCY default).
pub const IN_FLIGHT: usize = 16;

pub fn describe(seconds: &[f64], rate: impl Fn(f64) -> f64) -> String {
    format!(
        "{:.2} s = {:.0} objects/s (range {:.2} to {:.2} s)",
        median(seconds),
        rate(median(seconds)),
        min(seconds),
        max(seconds)
    )
}

pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[middle]
    } else {
        (sorted[middle - 1] + sorted[middle]) / 2.0
    }
}

pub fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

pub fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(0.0, f64::max)
}

/// An awscli config file giving `aws s3 sync` the same 16 requests in flight as the others
/// (its default is 10).
pub fn awscli_config() -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("s3-dr-bench-awscli-{}.ini", std::process::id()));
    std::fs::write(&path, format!("[default]\ns3 =\n  max_concurrent_requests = {IN_FLIGHT}\n"))
        .expect("write the awscli config");
    path
}

/// `aws s3 sync` from `source` into a fresh bucket in the DR region, its S3 requests sent to
/// `endpoint` (the stack's S3, or its fault proxy); the seconds it took.
pub async fn aws_s3_sync(stack: &Stack, source: &str, config: &std::path::Path, endpoint: &str) -> f64 {
    let dr = stack.s3(DR_REGION).await;
    let synced = unique("bench-sync");
    create_bucket(&dr, &synced, DR_REGION).await;
    let aws = repo_root().join(".venv/bin/aws");
    let started = Instant::now();
    let status = Command::new(&aws)
        .args(["s3", "sync", &format!("s3://{source}"), &format!("s3://{synced}"), "--only-show-errors"])
        // Not --source-region: awscli then builds the source's client without --endpoint-url.
        // One endpoint serves every region on moto.
        .args(["--endpoint-url", endpoint, "--region", DR_REGION])
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

/// Copy `keys` of `source` into a fresh DR-region bucket with plain CopyObject calls sent to
/// `endpoint` (the stack's S3, or its fault proxy); the seconds it took.
pub async fn plain_copy_loop(stack: &Stack, source: &str, keys: Vec<String>, endpoint: &str) -> f64 {
    let plain = unique("bench-plain");
    create_bucket(&stack.s3(DR_REGION).await, &plain, DR_REGION).await;
    let dr = Clients::new(sdk_config(endpoint, DR_REGION, Credentials::new("test", "test", None, None, "bench")).await)
        .s3(DR_REGION);
    let started = Instant::now();
    futures::stream::iter(keys)
        .for_each_concurrent(IN_FLIGHT, |key| {
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

/// The S3 round trips that must follow one another to protect a fresh bucket (each waits for
/// the answer of one before it), step by step, and why.
pub const CRITICAL_PATH: &[(&str, u32, &str)] = &[
    (
        "ValidateSource",
        3,
        "GetBucketLocation (the region answers the rest), GetBucketTagging (untagged: nothing more to read), then every read at once (the source's settings and versioning, the destination's HeadBucket)",
    ),
    ("EnableSourceVersioning", 1, "PutBucketVersioning (the read came with ValidateSource's)"),
    (
        "EnsureDestination",
        6,
        "CreateBucket, then tags, versioning, public access block, encryption and the abort-uploads lifecycle rule: S3 takes one configuration write at a time per bucket (a new bucket is not read)",
    ),
    ("EnableReplication", 2, "GetBucketReplication, PutBucketReplication: read-modify-write by rule id, the read fresh"),
    ("StartBackfill", 2, "the heartbeat: GetBucketTagging, PutBucketTagging (a tag set is written whole)"),
    (
        "CheckBackfill",
        5,
        "ListObjectsV2 of both buckets at once, HeadObject then CopyObject (the objects at once), the marker: GetBucketTagging, PutBucketTagging",
    ),
    ("CloneSettings", 1, "every setting of both buckets read at once (a fresh bucket's settings need no write here)"),
    ("VerifyProtection", 1, "every check read at once"),
];

/// The longest chain of requests each starting after the previous one ended, from the fault
/// proxy's trace (earliest end first gives the most requests that do not overlap, which is that
/// chain): "duration method target" each.
pub fn longest_chain(trace: &[Value]) -> Vec<String> {
    let mut spans: Vec<(f64, f64, String)> = trace
        .iter()
        .map(|r| {
            let (start, end) = (r["start"].as_f64().unwrap_or(0.0), r["end"].as_f64().unwrap_or(0.0));
            let what = format!(
                "{:>5.0} ms  {} {}",
                (end - start) * 1000.0,
                r["method"].as_str().unwrap_or(""),
                r["target"].as_str().unwrap_or("")
            );
            (start, end, what)
        })
        .collect();
    spans.sort_by(|a, b| a.1.total_cmp(&b.1));
    let mut chain = Vec::new();
    let mut last_end = f64::NEG_INFINITY;
    for (start, end, what) in spans {
        if start >= last_end {
            chain.push(what);
            last_end = end;
        }
    }
    chain
}
