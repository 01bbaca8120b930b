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
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, CompletedMultipartUpload, CompletedPart, ObjectLockLegalHoldStatus,
    ObjectLockMode, ServerSideEncryption, StorageClass,
};
use futures::{StreamExt, TryStreamExt};

use crate::backfill::object::{copy_plan, copyability, CopyEncryption, CopyPlan, NotCopyable, SourceObject};
use crate::backfill::{
    already_copied, copy_source, part_ranges, part_size, tagging_header, unix_now, Listed, Progress,
};
use crate::error::{aws_code, http_status, AwsResultExt, DrError};

/// What S3 says of an SSE-C object read without its key ("The object was stored using a form of
/// Server Side Encryption. The correct parameters must be provided to retrieve the object.").
const SSE_C_MESSAGE: &str = "The correct parameters must be provided to retrieve the object";

/// `request` (CopyObject or CreateMultipartUpload: the builders share these setters, not a
/// trait) with what `plan` says the copy must carry: encryption with the DR key, the website
/// redirect, retention and legal hold.
macro_rules! with_plan {
    ($request:expr, $plan:expr) => {{
        let plan: &CopyPlan = $plan;
        let (encryption, key, bucket_key) = match &plan.encryption {
            CopyEncryption::Kms { algorithm, key, bucket_key } => {
                (Some(ServerSideEncryption::from(algorithm.as_str())), Some(key.clone()), Some(*bucket_key))
            }
            CopyEncryption::Default => (None, None, None),
        };
        $request
            .set_server_side_encryption(encryption)
            .set_ssekms_key_id(key)
            .set_bucket_key_enabled(bucket_key)
            .set_website_redirect_location(plan.website_redirect_location.clone())
            .set_object_lock_mode(plan.object_lock.as_ref().map(|(mode, _)| ObjectLockMode::from(mode.as_str())))
            .set_object_lock_retain_until_date(plan.object_lock.as_ref().map(|(_, until)| DateTime::from_secs(*until)))
            .set_object_lock_legal_hold_status(plan.legal_hold.then_some(ObjectLockLegalHoldStatus::On))
    }};
}

/// Parts of one object copied at once.
const PART_CONCURRENCY: usize = 4;
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
    /// DR-region key ARN: SSE-KMS and DSSE-KMS objects are copied with it.
    pub dr_key: &'a str,
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
    let listing = job
        .source
        .list_objects_v2()
        .bucket(job.source_bucket)
        .max_keys(job.page_size)
        .set_start_after(progress.continue_after.clone())
        .send()
        .await
        .aws(job.source_bucket, "ListObjectsV2")?;
    let objects: Vec<Listed> = listing.contents().iter().filter_map(listed).collect();
    let page = &objects[..within_bytes(&objects, job.page_bytes)];
    let Some(last_key) = page.last().map(|o| o.key.clone()) else {
        progress.done = true;
        progress.summarize();
        return Ok(());
    };
    let existing = match job.destination_exists {
        true => list_destination(job, progress.continue_after.as_deref(), &last_key).await?,
        false => HashMap::new(),
    };

    // Objects are started in key order; the deadline stops the starting, never the first.
    let outcomes: Vec<(usize, &Listed, Result<Outcome, DrError>)> = futures::stream::iter(page.iter().enumerate())
        .take_while(|(index, _)| futures::future::ready(*index == 0 || time_left(job.deadline, job.start_margin)))
        .map(|(index, object)| {
            let existing = &existing;
            async move {
                let outcome = if already_copied(object, existing.get(&object.key)) {
                    Ok(Outcome::Skipped)
                } else if job.dry_run {
                    Ok(Outcome::Copied(object.size))
                } else {
                    copy_object(job, object, index == 0).await
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
    progress.done = deferred.is_none() && taken == objects.len() && !listing.is_truncated().unwrap_or(false);
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

/// Whether at least `margin` is left before `deadline`.
fn time_left(deadline: Option<SystemTime>, margin: Duration) -> bool {
    deadline.is_none_or(|d| d.duration_since(SystemTime::now()).is_ok_and(|left| left >= margin))
}

fn listed(object: &aws_sdk_s3::types::Object) -> Option<Listed> {
    Some(Listed {
        key: object.key()?.to_owned(),
        size: object.size().unwrap_or(0).max(0) as u64,
        etag: object.e_tag().unwrap_or_default().to_owned(),
        last_modified: object.last_modified().map_or(0, |t| t.secs()),
    })
}

/// The destination's objects with keys in (after, last]: the range the source page covers.
async fn list_destination(
    job: &CopyJob<'_>,
    after: Option<&str>,
    last: &str,
) -> Result<HashMap<String, Listed>, DrError> {
    let mut found = HashMap::new();
    // The paginator asks for the next page only when one is wanted: none after the range.
    let mut pages = job
        .destination
        .list_objects_v2()
        .bucket(job.destination_bucket)
        .max_keys(1000)
        .set_start_after(after.map(str::to_owned))
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.aws(job.destination_bucket, "ListObjectsV2")?;
        for object in page.contents().iter().filter_map(listed) {
            if object.key.as_str() > last {
                return Ok(found);
            }
            found.insert(object.key.clone(), object);
        }
    }
    Ok(found)
}

/// `first`: the page's first object, which has the whole invocation: if even it does not fit,
/// it never will, and that is a failure (not a deferral).
async fn copy_object(job: &CopyJob<'_>, object: &Listed, first: bool) -> Result<Outcome, DrError> {
    let head = match head_source(job, object).await? {
        Ok(head) => head,
        Err(outcome) => return Ok(outcome),
    };
    let facts = source_object(&head);
    if let Err(why) = copyability(&facts) {
        return Ok(Outcome::NotReplicable(why));
    }
    let plan = copy_plan(&facts, job.dr_key, job.destination_locked, unix_now());
    let result = if object.size >= job.multipart_threshold {
        copy_in_parts(job, object, &head, &plan, first).await
    } else {
        copy_whole(job, object, &plan).await
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

/// CopyObject keeps metadata, content headers, `Expires`, tags and the checksum algorithm (the
/// COPY directives are the default); the plan adds what it does not keep.
async fn copy_whole(job: &CopyJob<'_>, object: &Listed, plan: &CopyPlan) -> Result<Outcome, DrError> {
    let request = job
        .destination
        .copy_object()
        .bucket(job.destination_bucket)
        .key(&object.key)
        .copy_source(copy_source(job.source_bucket, &object.key))
        .copy_source_if_match(&object.etag)
        .storage_class(StorageClass::from(job.storage_class));
    with_plan!(request, plan).send().await.aws(job.destination_bucket, "CopyObject")?;
    Ok(Outcome::Copied(object.size))
}

/// Objects at or above the threshold: CopyObject cannot take them (5 GiB on AWS), so the parts
/// are copied server-side with UploadPartCopy, after carrying over what CopyObject would have.
async fn copy_in_parts(
    job: &CopyJob<'_>,
    object: &Listed,
    head: &HeadObjectOutput,
    plan: &CopyPlan,
    first: bool,
) -> Result<Outcome, DrError> {
    let (source, key) = (job.source_bucket, object.key.as_str());
    let tagging =
        job.source.get_object_tagging().bucket(source).key(key).send().await.aws(source, "GetObjectTagging")?;
    let tags: Vec<(String, String)> =
        tagging.tag_set().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect();
    let mut create = job
        .destination
        .create_multipart_upload()
        .bucket(job.destination_bucket)
        .key(key)
        .set_metadata(head.metadata().cloned())
        .set_content_type(head.content_type().map(str::to_owned))
        .set_content_encoding(head.content_encoding().map(str::to_owned))
        .set_content_disposition(head.content_disposition().map(str::to_owned))
        .set_content_language(head.content_language().map(str::to_owned))
        .set_cache_control(head.cache_control().map(str::to_owned))
        .set_expires(
            head.expires_string()
                .and_then(|t| DateTime::from_str(t, aws_smithy_types::date_time::Format::HttpDate).ok()),
        )
        .set_checksum_algorithm(plan.checksum_algorithm.as_deref().map(ChecksumAlgorithm::from))
        .storage_class(StorageClass::from(job.storage_class));
    if !tags.is_empty() {
        create = create.tagging(tagging_header(&tags));
    }
    let create = with_plan!(create, plan);
    let destination = job.destination_bucket;
    let upload = create.send().await.aws(destination, "CreateMultipartUpload")?;
    let upload_id = upload
        .upload_id()
        .ok_or_else(|| {
            DrError::Internal(format!("CreateMultipartUpload for {destination}/{key} returned no upload id"))
        })?
        .to_owned();

    let result = copy_parts(job, object, &upload_id, first).await;
    if !matches!(result, Ok(Outcome::Copied(_))) {
        // Leave no half-made upload behind (they are charged until aborted; the destination's
        // AbortIncompleteMultipartUpload rule catches what a killed invocation leaves). Best
        // effort: the copy's own error is the one worth reporting.
        let aborted =
            job.destination.abort_multipart_upload().bucket(destination).key(key).upload_id(&upload_id).send().await;
        if let Err(error) = aborted {
            tracing::warn!(key, code = aws_code(&error), "could not abort a failed multipart copy");
        }
    }
    result
}

async fn copy_parts(job: &CopyJob<'_>, object: &Listed, upload_id: &str, first: bool) -> Result<Outcome, DrError> {
    let (destination, key) = (job.destination_bucket, object.key.as_str());
    let source = copy_source(job.source_bucket, key);
    let ranges = part_ranges(object.size, part_size(object.size, job.multipart_threshold));
    let total = ranges.len();
    let parts: Vec<CompletedPart> = futures::stream::iter(ranges.into_iter().enumerate())
        .take_while(|(index, _)| futures::future::ready(*index == 0 || time_left(job.deadline, job.part_margin)))
        .map(|(index, (first, last))| {
            let source = &source;
            async move {
                let part_number = index as i32 + 1;
                let output = job
                    .destination
                    .upload_part_copy()
                    .bucket(destination)
                    .key(key)
                    .upload_id(upload_id)
                    .part_number(part_number)
                    .copy_source(source)
                    .copy_source_range(format!("bytes={first}-{last}"))
                    .copy_source_if_match(&object.etag)
                    .send()
                    .await
                    .aws(destination, "UploadPartCopy")?;
                // With a checksum algorithm on the upload, each part's checksum goes back in
                // CompleteMultipartUpload (CopyPartResult carries it).
                let result = output.copy_part_result();
                Ok::<_, DrError>(
                    CompletedPart::builder()
                        .set_e_tag(result.and_then(|r| r.e_tag()).map(str::to_owned))
                        .set_checksum_crc32(result.and_then(|r| r.checksum_crc32()).map(str::to_owned))
                        .set_checksum_crc32_c(result.and_then(|r| r.checksum_crc32_c()).map(str::to_owned))
                        .set_checksum_crc64_nvme(result.and_then(|r| r.checksum_crc64_nvme()).map(str::to_owned))
                        .set_checksum_sha1(result.and_then(|r| r.checksum_sha1()).map(str::to_owned))
                        .set_checksum_sha256(result.and_then(|r| r.checksum_sha256()).map(str::to_owned))
                        .part_number(part_number)
                        .build(),
                )
            }
        })
        .buffered(PART_CONCURRENCY)
        .try_collect()
        .await?;
    if parts.len() < total && !first {
        // Out of time: the next turn takes it first, with a whole invocation.
        return Ok(Outcome::Deferred);
    }
    if parts.len() < total {
        return Err(DrError::BackfillFailed {
            bucket: job.source_bucket.to_owned(),
            destination: destination.to_owned(),
            detail: format!(
                "{key} ({} bytes) did not fit in one Lambda invocation ({} of {total} parts copied); copy backfills copy an object within one invocation. Run the backfill with strategy batch for this bucket (request \"backfill\": \"batch\")",
                object.size,
                parts.len()
            ),
        });
    }
    job.destination
        .complete_multipart_upload()
        .bucket(destination)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .aws(destination, "CompleteMultipartUpload")?;
    Ok(Outcome::Copied(object.size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(size: u64) -> Listed {
        Listed { key: format!("k{size}"), size, etag: String::new(), last_modified: 0 }
    }

    #[test]
    fn a_page_holds_what_fits_its_byte_budget_and_at_least_one_object() {
        let objects = [object(40), object(40), object(40)];
        assert_eq!(within_bytes(&objects, 100), 2);
        assert_eq!(within_bytes(&objects, 120), 3);
        assert_eq!(within_bytes(&objects, 10), 1, "an object larger than the budget still goes alone");
        assert_eq!(within_bytes(&[], 10), 0);
    }

    #[test]
    fn the_deadline_leaves_a_margin() {
        assert!(time_left(None, START_MARGIN));
        assert!(!time_left(Some(SystemTime::now()), START_MARGIN));
        assert!(!time_left(Some(SystemTime::now() + Duration::from_secs(60)), START_MARGIN));
        assert!(time_left(Some(SystemTime::now() + Duration::from_secs(600)), START_MARGIN));
    }

    #[test]
    fn failed_copies_of_archived_or_sse_c_objects_are_reported_not_failed() {
        let failed = |code: &str, message: &str| DrError::AwsRequestFailed {
            bucket: "photos-dr".into(),
            operation: "CopyObject",
            code: code.into(),
            message: message.into(),
        };
        for code in crate::error::ARCHIVED_OBJECT_CODES {
            let archived =
                DrError::ObjectArchived { bucket: "photos".into(), operation: "CopyObject", code: (*code).into() };
            assert!(matches!(not_copied(archived), Ok(Outcome::NotReplicable(NotCopyable::Archived(_)))));
        }
        let sse_c = failed(
            "InvalidRequest",
            "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
        );
        assert!(matches!(not_copied(sse_c), Ok(Outcome::NotReplicable(NotCopyable::CustomerKey))));
        assert!(matches!(not_copied(failed("PreconditionFailed", "")), Ok(Outcome::Skipped)));
        assert!(not_copied(failed("InvalidRequest", "Priority")).is_err());
        // Another encryption problem is a failure to fix, not an object to skip.
        assert!(not_copied(failed("InvalidRequest", "The encryption method specified is not supported")).is_err());
        let denied = DrError::AccessDenied { bucket: "b".into(), operation: "CopyObject", message: String::new() };
        assert_eq!(not_copied(denied.clone()).unwrap_err(), denied);
    }
}
