//! VerifyData: is the data in DR? Both buckets' current object versions are listed in key
//! order and merged as the pages arrive ([`crate::verify`]); the result says what the loss of
//! the source region now would lose: objects and bytes missing in DR, objects still in flight,
//! and the recovery point (the age of the oldest source object not in DR; 0 when complete).
//!
//! AWS calls: GetBucketLocation and GetBucketReplication of the source (its s3-dr rule names
//! the destination); ListObjectsV2 of both buckets, a page of 1,000 at a time, both listings
//! running at once with a page read ahead (memory: a few pages, whatever the size);
//! HeadObject of the first missing objects in the source (at most 20: their replication
//! status, FAILED or PENDING); then GetBucketTagging + PutBucketTagging of the destination's
//! `s3-dr:verified` record (which `status` shows) and, with a report bucket configured, one
//! PutObject of the JSON report. A dry run writes neither.
//!
//! Bounded: at most `S3DR_VERIFY_MAX_OBJECTS` objects per bucket per run, and the Lambda's
//! deadline. A run stopped there says `complete: false` and where it stopped; what it did not
//! read is never counted as present.

use std::time::{Duration, SystemTime};

use aws_sdk_s3::types::ReplicationStatus;
use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::bucket;
use crate::error::{AwsResultExt, DrError};
use crate::replication::our_destination;
use crate::steps::StepContext;
use crate::tags::Tag;
use crate::verify::{duration, unix_seconds, Comparison, Entry, Merge, Next, Verified, VERIFIED_TAG};

/// Pages read ahead per listing.
const READ_AHEAD: usize = 1;
/// Time kept after the listings for the status checks and the record.
const DEADLINE_MARGIN: Duration = Duration::from_secs(30);
/// HeadObject calls at once.
const HEAD_CONCURRENCY: usize = 8;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub bucket: String,
    pub destination: String,
    pub destination_region: String,
    /// Unix seconds.
    pub verified_at: i64,
    /// Both listings were read to the end.
    pub complete: bool,
    /// The last source key compared, when not complete: the figures cover the keys up to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_after: Option<String>,
    #[serde(flatten)]
    pub comparison: Comparison,
    pub recovery_point_seconds: u64,
    /// Replication status of the missing examples, as HeadObject gives it.
    pub replication_status: StatusCounts,
    /// Where the JSON report was written (`s3://bucket/key`), if a report bucket is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
    pub summary: String,
    /// Verification changes no setting (it records its result on the destination).
    pub changed: bool,
}

#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusCounts {
    /// S3 tried and failed to replicate these (a key policy, a role's permission, ...).
    pub failed: u64,
    pub pending: u64,
    pub completed: u64,
    /// No status: written before replication was configured, or not replicable (SSE-C, or
    /// the object was replicated from elsewhere); the backfill's job.
    pub none: u64,
}

pub async fn run(context: &StepContext<'_>, input: &Value) -> Result<Output, DrError> {
    let bucket = requested_bucket(input)?;
    let config = context.config;
    let home = context.clients.s3(&context.clients.home_region());
    let region = bucket::region(&home, &bucket)
        .await?
        .ok_or_else(|| DrError::SourceBucketNotFound { bucket: bucket.clone() })?;
    let source = context.clients.s3(&region);
    let replication = bucket::replication(&source, &bucket).await?;
    let destination = our_destination(replication.as_ref())
        .ok_or_else(|| DrError::NotProtected { bucket: bucket.clone(), match_tag: config.match_tag.to_string() })?;
    let dr = context.clients.s3(&config.dr_region);

    let now = SystemTime::now();
    let stop_at = context.deadline.map(|d| d.checked_sub(DEADLINE_MARGIN).unwrap_or(d));
    let listed = compare(&source, &bucket, &dr, &destination, config, unix_seconds(now), stop_at).await?;
    let statuses = replication_statuses(&source, &bucket, &listed.comparison).await?;

    let verified_at = unix_seconds(now);
    let recovery_point_seconds = listed.comparison.recovery_point_seconds(verified_at);
    let verified = Verified {
        at: verified_at,
        recovery_point_seconds,
        missing_in_dr: listed.comparison.missing_in_dr,
        in_flight: listed.comparison.in_flight,
        complete: listed.complete,
    };
    let mut output = Output {
        summary: summary(&listed.comparison, recovery_point_seconds, listed.complete, &statuses),
        bucket: bucket.clone(),
        destination: destination.clone(),
        destination_region: config.dr_region.clone(),
        verified_at,
        complete: listed.complete,
        stopped_after: listed.stopped_after,
        comparison: listed.comparison,
        recovery_point_seconds,
        replication_status: statuses,
        report: None,
        changed: false,
    };
    if context.dry_run {
        return Ok(output);
    }
    let record = verified.tag_value();
    bucket::update_tags(&dr, &destination, |tags| {
        let mut tags: Vec<Tag> = tags.iter().filter(|t| t.key != VERIFIED_TAG).cloned().collect();
        tags.push(Tag::new(VERIFIED_TAG, record.as_str()));
        tags
    })
    .await?;
    if let Some((report_bucket, key)) = report_location(context, &region, &bucket, now) {
        let body = serde_json::to_vec_pretty(&output)
            .map_err(|e| DrError::Internal(format!("serializing the verification report: {e}")))?;
        context
            .clients
            .s3(&region)
            .put_object()
            .bucket(&report_bucket)
            .key(&key)
            .content_type("application/json")
            .body(body.into())
            .send()
            .await
            .aws(&report_bucket, "PutObject")?;
        output.report = Some(format!("s3://{report_bucket}/{key}"));
    }
    Ok(output)
}

/// `{"bucket": "<name>"}`, as the verify workflow, the sweep and the CLI pass it.
fn requested_bucket(input: &Value) -> Result<String, DrError> {
    let bucket = input.get("bucket").and_then(Value::as_str).ok_or_else(|| {
        DrError::InvalidInput(format!(
            "VerifyData expects {{\"bucket\": \"<source bucket>\"}}, got {}",
            crate::error::abbreviated(&input.to_string(), 200)
        ))
    })?;
    if let Some(rule) = crate::naming::why_not_a_bucket_name(bucket) {
        return Err(DrError::InvalidInput(format!(
            "{:?} is not a bucket name: {rule}",
            crate::error::abbreviated(bucket, 100)
        )));
    }
    Ok(bucket.to_owned())
}

/// Where the reports go in the report bucket (the step role may write only there).
pub const REPORT_PREFIX: &str = "s3-dr/verify-reports";

/// The report bucket of the source's region (the batch reports' bucket), and the key:
/// `s3-dr/verify-reports/<bucket>/<YYYYMMDDTHHMMSSZ>.json`.
fn report_location(context: &StepContext<'_>, region: &str, bucket: &str, now: SystemTime) -> Option<(String, String)> {
    let config = context.config;
    let template = config.batch_report_bucket.as_deref()?;
    let report_bucket = template.replace("{region}", region).replace("{account}", context.account_id.as_deref()?);
    Some((report_bucket, format!("{REPORT_PREFIX}/{bucket}/{}.json", crate::clock::second_stamp(now))))
}

struct Listed {
    comparison: Comparison,
    complete: bool,
    stopped_after: Option<String>,
}

/// Both listings, merged page by page, within the object bound and the deadline.
async fn compare(
    source: &aws_sdk_s3::Client,
    source_bucket: &str,
    dr: &aws_sdk_s3::Client,
    destination: &str,
    config: &crate::config::Config,
    now: i64,
    stop_at: Option<SystemTime>,
) -> Result<Listed, DrError> {
    let mut merge = Merge::new(now, config.verify_threshold_seconds);
    let mut source_pages = listing(source.clone(), source_bucket.to_owned());
    let mut dr_pages = listing(dr.clone(), destination.to_owned());
    let (mut source_read, mut dr_read) = (0u64, 0u64);
    loop {
        let over_bound = source_read >= config.verify_max_objects || dr_read >= config.verify_max_objects;
        let out_of_time = stop_at.is_some_and(|at| SystemTime::now() >= at);
        let side = merge.next();
        if side == Next::Done {
            return Ok(Listed { comparison: merge.finish(), complete: true, stopped_after: None });
        }
        if over_bound || out_of_time {
            let (comparison, stopped_after) = merge.finish_early();
            return Ok(Listed { comparison, complete: false, stopped_after });
        }
        let (pages, read) = match side {
            Next::Source => (&mut source_pages, &mut source_read),
            _ => (&mut dr_pages, &mut dr_read),
        };
        let page = pages.recv().await.unwrap_or_else(|| {
            Err(DrError::Internal(format!(
                "the listing of {source_bucket} or {destination} ended without its last page"
            )))
        })?;
        *read += page.entries.len() as u64;
        if side == Next::Source {
            merge.add_source(page.entries, page.last);
        } else {
            merge.add_dr(page.entries, page.last);
        }
    }
}

struct Page {
    entries: Vec<Entry>,
    last: bool,
}

/// A bucket's ListObjectsV2 pages, read by a task of their own one page ahead; it ends when
/// the receiver is dropped.
fn listing(s3: aws_sdk_s3::Client, bucket: String) -> mpsc::Receiver<Result<Page, DrError>> {
    let (sender, receiver) = mpsc::channel(READ_AHEAD);
    tokio::spawn(async move {
        let mut pages = s3.list_objects_v2().bucket(&bucket).into_paginator().send();
        let mut next = pages.next().await;
        let mut sent = false;
        while let Some(page) = next {
            sent = true;
            let page = page.aws(&bucket, "ListObjectsV2");
            let failed = page.is_err();
            next = if failed { None } else { pages.next().await };
            let page = page.map(|output| Page {
                entries: output.contents().iter().filter_map(entry).collect(),
                last: next.is_none(),
            });
            if sender.send(page).await.is_err() || failed {
                return;
            }
        }
        if !sent {
            // No page at all (S3 answers an empty bucket with one empty page): say it ended.
            let _ = sender.send(Ok(Page { entries: Vec::new(), last: true })).await;
        }
    });
    receiver
}

fn entry(object: &aws_sdk_s3::types::Object) -> Option<Entry> {
    Some(Entry {
        key: object.key()?.to_owned(),
        size: object.size().unwrap_or(0).max(0) as u64,
        last_modified: object.last_modified().map_or(0, |t| t.secs()),
    })
}

/// HeadObject of the missing examples: why replication did not carry them.
pub async fn replication_statuses(
    source: &aws_sdk_s3::Client,
    bucket: &str,
    comparison: &Comparison,
) -> Result<StatusCounts, DrError> {
    let heads: Vec<Result<Option<ReplicationStatus>, DrError>> = futures::stream::iter(&comparison.examples)
        .map(|example| async move {
            match source.head_object().bucket(bucket).key(&example.key).send().await.aws(bucket, "HeadObject") {
                Ok(head) => Ok(head.replication_status().cloned()),
                // Deleted since the listing, or unreadable: no status to report.
                Err(error) if !error.is_transient() => Ok(None),
                Err(error) => Err(error),
            }
        })
        .buffer_unordered(HEAD_CONCURRENCY)
        .collect()
        .await;
    let mut counts = StatusCounts::default();
    for status in heads {
        match status? {
            Some(ReplicationStatus::Failed) => counts.failed += 1,
            Some(ReplicationStatus::Pending) => counts.pending += 1,
            Some(ReplicationStatus::Completed | ReplicationStatus::Complete) => counts.completed += 1,
            _ => counts.none += 1,
        }
    }
    Ok(counts)
}

fn summary(comparison: &Comparison, recovery_point: u64, complete: bool, statuses: &StatusCounts) -> String {
    let scope = if complete { "" } else { " (partial: the run stopped before the end of the bucket)" };
    if comparison.missing_in_dr == 0 && comparison.in_flight == 0 {
        return format!("complete: all {} objects are in DR{scope}", comparison.source_objects);
    }
    let failed = if statuses.failed > 0 { format!(", {} marked FAILED", statuses.failed) } else { String::new() };
    format!(
        "{} of {} objects missing in DR ({} bytes{failed}), {} in flight; recovery point {}{scope}",
        comparison.missing_in_dr,
        comparison.source_objects,
        comparison.missing_bytes,
        comparison.in_flight,
        duration(recovery_point)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_request_names_one_bucket() {
        assert_eq!(requested_bucket(&json!({"bucket": "photos"})).ok(), Some("photos".to_owned()));
        for bad in [json!({}), json!({"bucket": 3}), json!({"bucket": "a"}), json!({"bucket": "x/y"})] {
            assert_eq!(requested_bucket(&bad).map_err(|e| e.error_type()), Err("InvalidInput"), "{bad}");
        }
    }
}
