//! `copy` backfill: the Lambda copies the objects itself, one bounded page per invocation, so a
//! bucket of any size is copied in a loop of short invocations that can stop and resume.
//!
//! AWS calls per page: ListObjectsV2 on the source (one page), ListObjectsV2 on the destination
//! over the same key range (to skip what is already there), then per object to copy either one
//! CopyObject, or HeadObject + GetObjectTagging + CreateMultipartUpload + UploadPartCopy per
//! part + CompleteMultipartUpload, with at most `concurrency` objects in flight.

use std::collections::HashMap;

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption, StorageClass};
use futures::{StreamExt, TryStreamExt};

use crate::backfill::{already_copied, copy_source, part_ranges, part_size, tagging_header, Listed, Progress};
use crate::error::{aws_code, AwsResultExt, DrError};

/// Parts of one object copied at once.
const PART_CONCURRENCY: usize = 4;

/// One bucket's copy backfill: where from, where to, and how.
pub struct CopyJob<'a> {
    pub source: &'a aws_sdk_s3::Client,
    pub destination: &'a aws_sdk_s3::Client,
    pub source_bucket: &'a str,
    pub destination_bucket: &'a str,
    pub storage_class: &'a str,
    /// DR-region key for an SSE-KMS source: copies are encrypted with it.
    pub kms_key: Option<&'a str>,
    pub multipart_threshold: u64,
    pub page_size: i32,
    pub concurrency: usize,
    /// `s3-dr plan`: count what would be copied, copy nothing.
    pub dry_run: bool,
    /// False only in a dry run before the destination exists: nothing is there yet.
    pub destination_exists: bool,
}

enum Outcome {
    Copied(u64),
    Skipped,
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
    let Some(last_key) = objects.last().map(|o| o.key.clone()) else {
        progress.done = true;
        progress.summarize();
        return Ok(());
    };
    let existing = match job.destination_exists {
        true => list_destination(job, progress.continue_after.as_deref(), &last_key).await?,
        false => HashMap::new(),
    };

    let outcomes: Vec<(Listed, Result<Outcome, DrError>)> = futures::stream::iter(objects)
        .map(|object| {
            let existing = &existing;
            async move {
                let outcome = if already_copied(&object, existing.get(&object.key)) {
                    Ok(Outcome::Skipped)
                } else if job.dry_run {
                    Ok(Outcome::Copied(object.size))
                } else {
                    copy_object(job, &object).await
                };
                (object, outcome)
            }
        })
        .buffer_unordered(job.concurrency.max(1))
        .collect()
        .await;

    let mut transient = None;
    for (object, outcome) in outcomes {
        match outcome {
            Ok(Outcome::Copied(bytes)) => {
                progress.objects_copied += 1;
                progress.bytes_copied += bytes;
            }
            Ok(Outcome::Skipped) => progress.objects_skipped += 1,
            Err(error) if error.is_transient() => transient = Some(error),
            Err(error) => progress.record_failure(&object.key, &error.to_string()),
        }
    }
    if let Some(error) = transient {
        return Err(error);
    }
    progress.pages += 1;
    progress.changed |= progress.objects_copied > 0;
    progress.continue_after = Some(last_key);
    progress.done = !listing.is_truncated().unwrap_or(false);
    progress.summarize();
    Ok(())
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
    let mut token: Option<String> = None;
    loop {
        let request = job.destination.list_objects_v2().bucket(job.destination_bucket).max_keys(1000);
        let request = match &token {
            Some(token) => request.continuation_token(token),
            None => request.set_start_after(after.map(str::to_owned)),
        };
        let page = request.send().await.aws(job.destination_bucket, "ListObjectsV2")?;
        let mut past_range = false;
        for object in page.contents().iter().filter_map(listed) {
            if object.key.as_str() > last {
                past_range = true;
                break;
            }
            found.insert(object.key.clone(), object);
        }
        token = page.next_continuation_token().map(str::to_owned);
        if past_range || !page.is_truncated().unwrap_or(false) || token.is_none() {
            return Ok(found);
        }
    }
}

async fn copy_object(job: &CopyJob<'_>, object: &Listed) -> Result<Outcome, DrError> {
    let result = if object.size >= job.multipart_threshold {
        copy_in_parts(job, object).await
    } else {
        copy_whole(job, object).await
    };
    match result {
        // The source was overwritten or deleted since the listing: the new version is the
        // replication rule's to copy (the rule exists before the backfill starts).
        Err(DrError::AwsRequestFailed { code, .. }) if code == "PreconditionFailed" || code == "NoSuchKey" => {
            Ok(Outcome::Skipped)
        }
        other => other,
    }
}

/// CopyObject keeps metadata, content type and tags (the COPY directives are the default).
async fn copy_whole(job: &CopyJob<'_>, object: &Listed) -> Result<Outcome, DrError> {
    let mut request = job
        .destination
        .copy_object()
        .bucket(job.destination_bucket)
        .key(&object.key)
        .copy_source(copy_source(job.source_bucket, &object.key))
        .copy_source_if_match(&object.etag)
        .storage_class(StorageClass::from(job.storage_class));
    if let Some(key) = job.kms_key {
        request =
            request.server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(key).bucket_key_enabled(true);
    }
    request.send().await.aws(job.destination_bucket, "CopyObject")?;
    Ok(Outcome::Copied(object.size))
}

/// Objects at or above the threshold: CopyObject cannot take them (5 GiB on AWS), so the parts
/// are copied server-side with UploadPartCopy, after carrying over what CopyObject would have.
async fn copy_in_parts(job: &CopyJob<'_>, object: &Listed) -> Result<Outcome, DrError> {
    let (source, key) = (job.source_bucket, object.key.as_str());
    let (head, tagging) = tokio::try_join!(
        async {
            job.source
                .head_object()
                .bucket(source)
                .key(key)
                .if_match(&object.etag)
                .send()
                .await
                .aws(source, "HeadObject")
        },
        async { job.source.get_object_tagging().bucket(source).key(key).send().await.aws(source, "GetObjectTagging") },
    )?;
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
        .storage_class(StorageClass::from(job.storage_class));
    if !tags.is_empty() {
        create = create.tagging(tagging_header(&tags));
    }
    if let Some(kms_key) = job.kms_key {
        create =
            create.server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(kms_key).bucket_key_enabled(true);
    }
    let destination = job.destination_bucket;
    let upload = create.send().await.aws(destination, "CreateMultipartUpload")?;
    let upload_id = upload
        .upload_id()
        .ok_or_else(|| {
            DrError::Internal(format!("CreateMultipartUpload for {destination}/{key} returned no upload id"))
        })?
        .to_owned();

    let result = copy_parts(job, object, &upload_id).await;
    if result.is_err() {
        // Leave no half-made upload behind (they are charged until aborted). Best effort: the
        // copy's own error is the one worth reporting.
        let aborted =
            job.destination.abort_multipart_upload().bucket(destination).key(key).upload_id(&upload_id).send().await;
        if let Err(error) = aborted {
            tracing::warn!(key, code = aws_code(&error), "could not abort a failed multipart copy");
        }
    }
    result
}

async fn copy_parts(job: &CopyJob<'_>, object: &Listed, upload_id: &str) -> Result<Outcome, DrError> {
    let (destination, key) = (job.destination_bucket, object.key.as_str());
    let source = copy_source(job.source_bucket, key);
    let ranges = part_ranges(object.size, part_size(object.size, job.multipart_threshold));
    let parts: Vec<CompletedPart> = futures::stream::iter(ranges.into_iter().enumerate())
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
                let etag = output.copy_part_result().and_then(|r| r.e_tag()).map(str::to_owned);
                Ok::<_, DrError>(CompletedPart::builder().set_e_tag(etag).part_number(part_number).build())
            }
        })
        .buffered(PART_CONCURRENCY)
        .try_collect()
        .await?;
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
