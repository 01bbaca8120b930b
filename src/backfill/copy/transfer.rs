//! The writes of one object's copy: one CopyObject, or a multipart copy (CreateMultipartUpload,
//! UploadPartCopy per part, CompleteMultipartUpload) that is aborted if it does not complete.

use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ObjectLockLegalHoldStatus, ObjectLockMode,
    ServerSideEncryption, StorageClass,
};
use futures::{StreamExt, TryStreamExt};

use super::{CopyJob, Outcome, WriteCondition};
use crate::backfill::object::{CopyEncryption, CopyPlan};
use crate::backfill::{copy_source, part_ranges, part_size, tagging_header, Listed};
use crate::clock::time_left;
use crate::error::{aws_code, AwsResultExt, DrError};

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
/// CopyObject keeps metadata, content headers, `Expires`, tags and the checksum algorithm (the
/// COPY directives are the default); the plan adds what it does not keep.
pub(super) async fn copy_whole(
    job: &CopyJob<'_>,
    object: &Listed,
    plan: &CopyPlan,
    condition: &WriteCondition,
) -> Result<Outcome, DrError> {
    let request = job
        .destination
        .copy_object()
        .bucket(job.destination_bucket)
        .key(&object.key)
        .copy_source(copy_source(job.source_bucket, &object.key))
        .copy_source_if_match(&object.etag)
        .set_if_match(condition.if_match.clone())
        .set_if_none_match(condition.if_none_match.clone())
        .storage_class(StorageClass::from(job.storage_class));
    with_plan!(request, plan).send().await.aws(job.destination_bucket, "CopyObject")?;
    Ok(Outcome::Copied(object.size))
}

/// Objects at or above the threshold: CopyObject cannot take them (5 GiB on AWS), so the parts
/// are copied server-side with UploadPartCopy, after carrying over what CopyObject would have.
pub(super) async fn copy_in_parts(
    job: &CopyJob<'_>,
    object: &Listed,
    head: &HeadObjectOutput,
    plan: &CopyPlan,
    condition: &WriteCondition,
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

    let result = copy_parts(job, object, &upload_id, condition, first).await;
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

async fn copy_parts(
    job: &CopyJob<'_>,
    object: &Listed,
    upload_id: &str,
    condition: &WriteCondition,
    first: bool,
) -> Result<Outcome, DrError> {
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
        .set_if_match(condition.if_match.clone())
        .set_if_none_match(condition.if_none_match.clone())
        .send()
        .await
        .aws(destination, "CompleteMultipartUpload")?;
    Ok(Outcome::Copied(object.size))
}
