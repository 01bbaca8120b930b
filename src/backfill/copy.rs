//! `copy` backfill: the Lambda copies the objects itself, one bounded page per invocation, so a
//! bucket of any size is copied in a loop of short invocations that can stop and resume.
//!
//! A page is at most `page_size` objects and `page_bytes` bytes (at least one object), and it
//! stops taking new objects when the invocation's deadline comes near; the next page starts
//! after the last object taken.
//!
//! AWS calls per page: ListObjectsV2 on the source (one page), ListObjectsV2 on the destination
//! over the same key range (to skip what is already there), then per object to copy HeadObject
//! (what the copy must carry, and whether S3 can copy it at all) and either one CopyObject, or
//! GetObjectTagging + CreateMultipartUpload + UploadPartCopy per part + CompleteMultipartUpload,
//! with at most `concurrency` objects in flight.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, ObjectLockLegalHoldStatus};
use futures::StreamExt;

use crate::backfill::object::{copy_plan, copyability, NotCopyable, SourceObject};
use crate::backfill::{already_copied, unix_now, Listed, Progress};
use crate::clock::time_left;
use crate::error::{http_status, AwsResultExt, DrError};

/// What S3 says of an SSE-C object read without its key ("The object was stored using a form of
/// Server Side Encryption. The correct parameters must be provided to retrieve the object.").
const SSE_C_MESSAGE: &str = "The correct parameters must be provided to retrieve the object";

/// No new object is started with less time than this left in the invocation: a CopyObject of
/// up to 5 GiB must finish inside it.
pub const START_MARGIN: Duration = Duration::from_secs(120);
/// No new part of a multipart copy is started with less time than this left.
pub const PART_MARGIN: Duration = Duration::from_secs(60);

/// One bucket's copy backfill: where from, where to, and how.
pub struct CopyJob<'a> {
    pub source: &'a aws_sdk_s3::Client,
    pub destination: &'a aws_sdk_s3::Client,
    pub source_bucket: &'a str,
    pub destination_bucket: &'a str,
    pub storage_class: &'a str,
    /// SSE-KMS and DSSE-KMS objects are copied with this key (the DR key, for a backfill);
    /// None: every object takes the destination bucket's default encryption (failback).
    pub kms_key: Option<&'a str>,
    /// Which objects the page copies.
    pub rule: CopyRule,
    /// The destination has Object Lock: retention and legal holds are copied.
    pub destination_locked: bool,
    pub multipart_threshold: u64,
    pub page_size: i32,
    pub page_bytes: u64,
    pub concurrency: usize,
    /// The invocation's deadline (None: no limit, as in `s3-dr plan`), and the time a new
    /// object ([`START_MARGIN`]) or part ([`PART_MARGIN`]) needs left before it.
    pub deadline: Option<SystemTime>,
    pub start_margin: Duration,
    pub part_margin: Duration,
    /// `s3-dr plan`: count what would be copied, copy nothing.
    pub dry_run: bool,
    /// False only in a dry run before the destination exists: nothing is there yet.
    pub destination_exists: bool,
}

impl<'a> CopyJob<'a> {
    /// A copy between two buckets with this step's settings: the configured storage class,
    /// multipart threshold, page and concurrency, the invocation's deadline, dry run or not;
    /// every object with the destination's default encryption, no Object Lock, the destination
    /// there. Callers change what differs.
    pub fn configured(
        context: &'a crate::steps::StepContext<'a>,
        (source, source_bucket): (&'a aws_sdk_s3::Client, &'a str),
        (destination, destination_bucket): (&'a aws_sdk_s3::Client, &'a str),
        rule: CopyRule,
    ) -> CopyJob<'a> {
        let config = context.config;
        CopyJob {
            source,
            destination,
            source_bucket,
            destination_bucket,
            storage_class: &config.storage_class,
            kms_key: None,
            rule,
            destination_locked: false,
            multipart_threshold: config.copy_multipart_threshold,
            page_size: config.copy_page_size,
            page_bytes: config.copy_page_bytes,
            concurrency: config.copy_concurrency,
            deadline: context.deadline,
            start_margin: START_MARGIN,
            part_margin: PART_MARGIN,
            dry_run: context.dry_run,
            destination_exists: true,
        }
    }

    /// A protect run's backfill of `plan`'s bucket into its DR destination, with the DR key
    /// (CheckBackfill, and each CopyShard).
    pub fn backfill(
        context: &'a crate::steps::StepContext<'a>,
        plan: &'a crate::plan::SourcePlan,
        destination: &'a crate::plan::DestinationPlan,
        source: &'a aws_sdk_s3::Client,
        dr: &'a aws_sdk_s3::Client,
    ) -> Result<CopyJob<'a>, DrError> {
        let dr_key = plan.replica_kms_key_arn.as_deref().ok_or_else(|| {
            DrError::InvalidInput(format!("the copy backfill: ValidateSource resolved no DR key for {}", plan.bucket))
        })?;
        Ok(CopyJob {
            kms_key: Some(dr_key),
            destination_locked: plan.object_lock,
            destination_exists: destination.exists || !context.dry_run,
            ..CopyJob::configured(context, (source, &plan.bucket), (dr, &destination.bucket), CopyRule::Backfill)
        })
    }
}

/// Which listed objects a page copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyRule {
    /// Every object the destination lacks or holds another version of (`already_copied`).
    Backfill,
    /// Failback: objects written in DR during the failover that the destination, the source
    /// bucket, does not hold a write as new of (`failback::brings_home`).
    BringHome(crate::failback::Window),
}

/// What the destination must still hold for a copy to be written: the object the page listed
/// there (`If-Match` its ETag), or nothing (`If-None-Match: *`). S3 answers 412 otherwise, and
/// the object is skipped: a write made meanwhile is newer than the copy would be
/// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html; CopyObject
/// and CompleteMultipartUpload take both).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteCondition {
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
}

impl CopyRule {
    /// The condition of a copy's write. A backfill writes into a destination only s3-dr and S3
    /// replication write: none. Failback writes into the application's bucket: the state listed.
    pub fn condition(self, existing: Option<&Listed>) -> WriteCondition {
        match (self, existing) {
            (CopyRule::Backfill, _) => WriteCondition::default(),
            (CopyRule::BringHome(_), Some(found)) => {
                WriteCondition { if_match: Some(found.etag.clone()), if_none_match: None }
            }
            (CopyRule::BringHome(_), None) => WriteCondition { if_match: None, if_none_match: Some("*".to_owned()) },
        }
    }

    fn skips(self, object: &Listed, existing: Option<&Listed>) -> bool {
        match self {
            CopyRule::Backfill => already_copied(object, existing),
            CopyRule::BringHome(window) => {
                let home = existing.map(|e| (e.last_modified, e.size));
                !crate::failback::brings_home((object.last_modified, object.size), home, window)
            }
        }
    }
}

#[derive(Debug)]
enum Outcome {
    Copied(u64),
    Skipped,
    NotReplicable(NotCopyable),
    /// Started too late in the invocation to finish (a multipart copy out of time): left, not
    /// counted, for the next turn to take first.
    Deferred,
}

/// Copy one page of current object versions and advance `progress`. On a transient fault the
/// whole page fails (the workflow retries it; objects already copied are then skipped).
pub async fn copy_page(job: &CopyJob<'_>, progress: &mut Progress) -> Result<(), DrError> {
    // Both listings at once: the destination's from the same cursor, its first page (1,000
    // keys) covering the source's page but where the destination holds more keys in the range.
    let source_listing = job
        .source
        .list_objects_v2()
        .bucket(job.source_bucket)
        .max_keys(job.page_size)
        .set_start_after(progress.continue_after.clone())
        .send();
    let destination_listing = async {
        match job.destination_exists {
            true => destination_page(job, progress.continue_after.clone()).await.map(Some),
            false => Ok(None),
        }
    };
    let (listing, destination_first) = tokio::join!(source_listing, destination_listing);
    let listing = listing.aws(job.source_bucket, "ListObjectsV2")?;
    let destination_first = destination_first?;
    let mut objects: Vec<Listed> = listing.contents().iter().filter_map(listed).collect();
    // A shard's range ends before `until`: the next shard copies from there.
    let range_ends = match progress.until.as_deref() {
        Some(until) => {
            let before = objects.len();
            objects.retain(|o| o.key.as_str() < until);
            objects.len() < before
        }
        None => false,
    };
    let page = &objects[..within_bytes(&objects, job.page_bytes)];
    let Some(last_key) = page.last().map(|o| o.key.clone()) else {
        progress.done = true;
        progress.summarize();
        return Ok(());
    };
    let existing = match destination_first {
        Some(first) => list_destination(job, first, &last_key).await?,
        None => HashMap::new(),
    };

    // Objects are started in key order; the deadline stops the starting, never the first.
    let outcomes: Vec<(usize, &Listed, Result<Outcome, DrError>)> = futures::stream::iter(page.iter().enumerate())
        .take_while(|(index, _)| futures::future::ready(*index == 0 || time_left(job.deadline, job.start_margin)))
        .map(|(index, object)| {
            let existing = &existing;
            async move {
                let outcome = if job.rule.skips(object, existing.get(&object.key)) {
                    Ok(Outcome::Skipped)
                } else if job.dry_run {
                    Ok(Outcome::Copied(object.size))
                } else {
                    copy_object(job, object, existing.get(&object.key), index == 0).await
                };
                (index, object, outcome)
            }
        })
        .buffer_unordered(job.concurrency.max(1))
        .collect()
        .await;
    // The page ends before the first object left for later, if one was.
    let deferred = outcomes.iter().filter(|(_, _, o)| matches!(o, Ok(Outcome::Deferred))).map(|(i, _, _)| *i).min();
    let taken = deferred.unwrap_or(outcomes.len());

    let mut transient = None;
    let mut copied = 0;
    let cursor_before = progress.continue_after.clone();
    let not_replicable_before = progress.objects_not_replicable;
    // What happened at or after a deferred object is left to the next turn, which lists it again:
    // counted once, there.
    for (_, object, outcome) in outcomes.into_iter().filter(|(index, _, _)| *index < taken) {
        match outcome {
            Ok(Outcome::Copied(bytes)) => {
                copied += 1;
                progress.bytes_copied += bytes;
            }
            Ok(Outcome::Skipped) => progress.objects_skipped += 1,
            Ok(Outcome::NotReplicable(why)) => {
                tracing::warn!(key = %object.key, why = why.describe(), "object cannot be copied");
                progress.record_not_replicable(&object.key, &why);
            }
            Ok(Outcome::Deferred) => {}
            Err(error) if error.is_transient() => transient = Some(error),
            Err(error) => {
                // A later run resumes before this page, so the failed object is tried again.
                if progress.retry_from.is_none() {
                    progress.retry_from = Some(cursor_before.clone().unwrap_or_default());
                    progress.retry_not_replicable = Some(not_replicable_before);
                }
                progress.record_failure(&object.key, &error.to_string())
            }
        }
    }
    if let Some(error) = transient {
        return Err(error);
    }
    progress.objects_copied += copied;
    progress.pages += 1;
    progress.changed |= copied > 0;
    progress.continue_after = match taken.checked_sub(1) {
        Some(last) => page.get(last).map(|o| o.key.clone()),
        None => cursor_before,
    };
    progress.done =
        deferred.is_none() && taken == objects.len() && (range_ends || !listing.is_truncated().unwrap_or(false));
    progress.summarize();
    Ok(())
}

/// How many of `objects`, from the first, fit in `budget` bytes (at least one).
fn within_bytes(objects: &[Listed], budget: u64) -> usize {
    let mut total = 0u64;
    let fitting = objects
        .iter()
        .take_while(|o| {
            total = total.saturating_add(o.size);
            total <= budget
        })
        .count();
    fitting.max(1).min(objects.len())
}

fn listed(object: &aws_sdk_s3::types::Object) -> Option<Listed> {
    Some(Listed {
        key: object.key()?.to_owned(),
        size: object.size().unwrap_or(0).max(0) as u64,
        etag: object.e_tag().unwrap_or_default().to_owned(),
        last_modified: object.last_modified().map_or(0, |t| t.secs()),
    })
}

/// One page of the destination's listing after `after` (1,000 keys: S3's most).
async fn destination_page(
    job: &CopyJob<'_>,
    after: Option<String>,
) -> Result<aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output, DrError> {
    job.destination
        .list_objects_v2()
        .bucket(job.destination_bucket)
        .max_keys(1000)
        .set_start_after(after)
        .send()
        .await
        .aws(job.destination_bucket, "ListObjectsV2")
}

/// The destination's objects with keys in (after, last]: the range the source page covers,
/// from the page listed with the source's (`first`, after the same cursor) and, if the range
/// goes on past it, the pages after it.
async fn list_destination(
    job: &CopyJob<'_>,
    first: aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output,
    last: &str,
) -> Result<HashMap<String, Listed>, DrError> {
    let mut found = HashMap::new();
    let mut page = first;
    loop {
        let mut page_last = None;
        for object in page.contents().iter().filter_map(listed) {
            if object.key.as_str() > last {
                return Ok(found);
            }
            page_last = Some(object.key.clone());
            found.insert(object.key.clone(), object);
        }
        match (page.is_truncated().unwrap_or(false), page_last) {
            (true, Some(after)) => page = destination_page(job, Some(after)).await?,
            _ => return Ok(found),
        }
    }
}

/// `first`: the page's first object, which has the whole invocation: if even it does not fit,
/// it never will, and that is a failure (not a deferral).
async fn copy_object(
    job: &CopyJob<'_>,
    object: &Listed,
    existing: Option<&Listed>,
    first: bool,
) -> Result<Outcome, DrError> {
    let head = match head_source(job, object).await? {
        Ok(head) => head,
        Err(outcome) => return Ok(outcome),
    };
    let facts = source_object(&head);
    if let Err(why) = copyability(&facts) {
        return Ok(Outcome::NotReplicable(why));
    }
    let plan = copy_plan(&facts, job.kms_key, job.destination_locked, unix_now());
    let condition = job.rule.condition(existing);
    let result = if object.size >= job.multipart_threshold {
        transfer::copy_in_parts(job, object, &head, &plan, &condition, first).await
    } else {
        transfer::copy_whole(job, object, &plan, &condition).await
    };
    match result {
        Err(error) => Ok(not_copied(error)?),
        copied => copied,
    }
}

/// What a failed copy means: an archived or SSE-C object S3 cannot copy (the listing and HEAD
/// could not tell, e.g. a tier change meanwhile), a source overwritten or deleted since the
/// listing (the new version is the replication rule's to copy: the rule exists before the
/// backfill starts), or a real failure.
fn not_copied(error: DrError) -> Result<Outcome, DrError> {
    match error {
        DrError::ObjectArchived { code, .. } => {
            Ok(Outcome::NotReplicable(NotCopyable::Archived(format!("S3 answered {code}"))))
        }
        // CopyObject of an SSE-C source without its key (the copy-source SSE-C headers). Only
        // S3's own wording for that case: another InvalidRequest about encryption (a DR key
        // S3 refuses, say) is a failure to fix, not an object to skip.
        DrError::AwsRequestFailed { code, message, .. }
            if code == "InvalidRequest" && message.contains(SSE_C_MESSAGE) =>
        {
            Ok(Outcome::NotReplicable(NotCopyable::CustomerKey))
        }
        DrError::AwsRequestFailed { code, .. } if code == "PreconditionFailed" || code == "NoSuchKey" => {
            Ok(Outcome::Skipped)
        }
        other => Err(other),
    }
}

/// HeadObject of the version listed (`If-Match`), with its checksum. Ok(Err(outcome)) when the
/// answer settles the object already: gone or overwritten (404, 412: skipped), or SSE-C (400:
/// "If you encrypt an object by using server-side encryption with customer-provided encryption
/// keys (SSE-C) ... you must use [the SSE-C] headers", or HeadObject answers 400 Bad Request,
/// https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html).
async fn head_source(job: &CopyJob<'_>, object: &Listed) -> Result<Result<HeadObjectOutput, Outcome>, DrError> {
    let answer = job
        .source
        .head_object()
        .bucket(job.source_bucket)
        .key(&object.key)
        .if_match(&object.etag)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await;
    match answer {
        Ok(head) => Ok(Ok(head)),
        Err(error) => match http_status(&error) {
            Some(404 | 412) => Ok(Err(Outcome::Skipped)),
            Some(400) => Ok(Err(Outcome::NotReplicable(NotCopyable::CustomerKey))),
            _ => Err(error).aws(job.source_bucket, "HeadObject"),
        },
    }
}

/// The copy decisions' view of a HeadObject answer.
pub fn source_object(head: &HeadObjectOutput) -> SourceObject {
    let checksum_algorithm = [
        (head.checksum_crc32(), ChecksumAlgorithm::Crc32),
        (head.checksum_crc32_c(), ChecksumAlgorithm::Crc32C),
        (head.checksum_crc64_nvme(), ChecksumAlgorithm::Crc64Nvme),
        (head.checksum_sha1(), ChecksumAlgorithm::Sha1),
        (head.checksum_sha256(), ChecksumAlgorithm::Sha256),
    ]
    .into_iter()
    .find_map(|(value, algorithm)| value.map(|_| algorithm.as_str().to_owned()));
    SourceObject {
        storage_class: head.storage_class().map(|c| c.as_str().to_owned()),
        restore: head.restore().map(str::to_owned),
        archive_status: head.archive_status().map(|s| s.as_str().to_owned()),
        server_side_encryption: head.server_side_encryption().map(|s| s.as_str().to_owned()),
        bucket_key_enabled: head.bucket_key_enabled().unwrap_or(false),
        sse_customer_algorithm: head.sse_customer_algorithm().map(str::to_owned),
        website_redirect_location: head.website_redirect_location().map(str::to_owned),
        checksum_algorithm,
        object_lock_mode: head.object_lock_mode().map(|m| m.as_str().to_owned()),
        object_lock_retain_until: head.object_lock_retain_until_date().map(DateTime::secs),
        object_lock_legal_hold: head.object_lock_legal_hold_status() == Some(&ObjectLockLegalHoldStatus::On),
    }
}

mod transfer;

#[cfg(test)]
mod tests;
