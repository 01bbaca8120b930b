//! The `copy` backfill against answers only AWS gives (aws-smithy-mocks): an SSE-C object
//! (HeadObject 400), an object in an Intelligent-Tiering archive tier, an object CopyObject
//! finds archived (403 ObjectNotInActiveTierError), and the requests that carry what
//! CopyObject does not keep by itself. moto neither keeps SSE-C objects apart, nor has
//! archive tiers, nor returns the key id of a DSSE-KMS object.

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput;
use aws_sdk_s3::operation::copy_object::CopyObjectOutput;
use aws_sdk_s3::operation::create_multipart_upload::CreateMultipartUploadOutput;
use aws_sdk_s3::operation::get_object_tagging::GetObjectTaggingOutput;
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_sdk_s3::operation::upload_part_copy::UploadPartCopyOutput;
use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::types::{
    ArchiveStatus, ChecksumAlgorithm, CopyPartResult, Object, ObjectLockLegalHoldStatus, ObjectLockMode,
    ServerSideEncryption, StorageClass,
};
use aws_sdk_s3::Client;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use s3_dr::backfill::copy::{copy_page, CopyJob, CopyRule, PART_MARGIN, START_MARGIN};
use s3_dr::backfill::{Progress, Strategy};

const DR_KEY: &str = "arn:aws:kms:us-east-2:123456789012:key/dr";
const MIB: i64 = 1024 * 1024;
/// 2031-01-01: a retention that still runs.
const UNTIL: i64 = 1_924_992_000;

fn error_body(code: &str) -> Option<String> {
    Some(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>m</Message><RequestId>R</RequestId></Error>"#
    ))
}

fn listed(key: &str, size: i64) -> Object {
    Object::builder().key(key).size(size).e_tag(format!("\"{key}\"")).build()
}

#[tokio::test]
async fn objects_s3_cannot_copy_are_reported_and_what_copy_object_does_not_keep_is_asked_for() {
    let listing = mock!(Client::list_objects_v2).then_output(|| {
        ListObjectsV2Output::builder()
            .contents(listed("archived-late.bin", 10))
            .contents(listed("big.bin", 6 * MIB))
            .contents(listed("redirect.bin", 10))
            .contents(listed("sse-c.bin", 10))
            .contents(listed("tiered.bin", 10))
            .is_truncated(false)
            .build()
    });
    // HeadObject: an SSE-C object answers 400 without its key (HeadObject API reference).
    let head_sse_c = mock!(Client::head_object)
        .match_requests(|r| r.key() == Some("sse-c.bin"))
        .sequence()
        .http_status(400, None)
        .build();
    let head_tiered = mock!(Client::head_object).match_requests(|r| r.key() == Some("tiered.bin")).then_output(|| {
        HeadObjectOutput::builder()
            .storage_class(StorageClass::IntelligentTiering)
            .archive_status(ArchiveStatus::DeepArchiveAccess)
            .build()
    });
    let head_plain = mock!(Client::head_object)
        .match_requests(|r| r.key() == Some("archived-late.bin"))
        .then_output(|| HeadObjectOutput::builder().build());
    let head_redirect = mock!(Client::head_object)
        .match_requests(|r| {
            r.key() == Some("redirect.bin") && r.checksum_mode().is_some() && r.if_match() == Some("\"redirect.bin\"")
        })
        .then_output(|| {
            HeadObjectOutput::builder()
                .website_redirect_location("/moved-here")
                .server_side_encryption(ServerSideEncryption::AwsKmsDsse)
                .ssekms_key_id("arn:aws:kms:us-west-2:123456789012:key/source")
                .bucket_key_enabled(true)
                .object_lock_mode(ObjectLockMode::Governance)
                .object_lock_retain_until_date(DateTime::from_secs(UNTIL))
                .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
                .build()
        });
    let head_big = mock!(Client::head_object).match_requests(|r| r.key() == Some("big.bin")).then_output(|| {
        HeadObjectOutput::builder()
            .content_type("application/x-tar")
            .expires_string("Wed, 01 Jan 2031 00:00:00 GMT")
            .website_redirect_location("/big")
            .checksum_sha256("c2hhMjU2")
            .server_side_encryption(ServerSideEncryption::AwsKmsDsse)
            .object_lock_mode(ObjectLockMode::Compliance)
            .object_lock_retain_until_date(DateTime::from_secs(UNTIL))
            .build()
    });
    let tagging = mock!(Client::get_object_tagging)
        .then_output(|| GetObjectTaggingOutput::builder().set_tag_set(Some(vec![])).build().unwrap());
    let source = mock_client!(
        aws_sdk_s3,
        RuleMode::MatchAny,
        [&listing, &head_sse_c, &head_tiered, &head_plain, &head_redirect, &head_big, &tagging],
        |b| b.retry_config(RetryConfig::disabled())
    );

    let empty =
        mock!(Client::list_objects_v2).then_output(|| ListObjectsV2Output::builder().is_truncated(false).build());
    // The listing said nothing of a tier; CopyObject finds the object archived: 403, which is
    // not a permission problem.
    let copy_archived = mock!(Client::copy_object)
        .match_requests(|r| r.key() == Some("archived-late.bin"))
        .sequence()
        .http_status(403, error_body("ObjectNotInActiveTierError"))
        .build();
    // What CopyObject does not carry by itself is in the request: the website redirect, the
    // retention and legal hold, DSSE-KMS with the DR key.
    let copy_redirect = mock!(Client::copy_object)
        .match_requests(|r| {
            r.key() == Some("redirect.bin")
                && r.website_redirect_location() == Some("/moved-here")
                && r.server_side_encryption() == Some(&ServerSideEncryption::AwsKmsDsse)
                && r.ssekms_key_id() == Some(DR_KEY)
                && r.bucket_key_enabled() == Some(true)
                && r.object_lock_mode() == Some(&ObjectLockMode::Governance)
                && r.object_lock_retain_until_date().map(|d| d.secs()) == Some(UNTIL)
                && r.object_lock_legal_hold_status() == Some(&ObjectLockLegalHoldStatus::On)
                && r.copy_source_if_match() == Some("\"redirect.bin\"")
        })
        .then_output(|| CopyObjectOutput::builder().build());
    // The multipart path carries the content headers, Expires, the redirect and the checksum
    // algorithm on CreateMultipartUpload, and each part's checksum back on Complete.
    let create = mock!(Client::create_multipart_upload)
        .match_requests(|r| {
            r.key() == Some("big.bin")
                && r.content_type() == Some("application/x-tar")
                && r.expires().map(|d| d.secs()) == Some(UNTIL)
                && r.website_redirect_location() == Some("/big")
                && r.checksum_algorithm() == Some(&ChecksumAlgorithm::Sha256)
                && r.server_side_encryption() == Some(&ServerSideEncryption::AwsKmsDsse)
                && r.ssekms_key_id() == Some(DR_KEY)
                && r.object_lock_mode() == Some(&ObjectLockMode::Compliance)
                && r.object_lock_retain_until_date().map(|d| d.secs()) == Some(UNTIL)
                && r.object_lock_legal_hold_status().is_none()
        })
        .then_output(|| CreateMultipartUploadOutput::builder().upload_id("u1").build());
    let part = mock!(Client::upload_part_copy).then_output(|| {
        UploadPartCopyOutput::builder()
            .copy_part_result(CopyPartResult::builder().e_tag("\"p\"").checksum_sha256("cGFydA==").build())
            .build()
    });
    let complete = mock!(Client::complete_multipart_upload)
        .match_requests(|r| {
            let parts = r.multipart_upload().map(|u| u.parts()).unwrap_or_default();
            parts.len() == 2 && parts.iter().all(|p| p.checksum_sha256() == Some("cGFydA=="))
        })
        .then_output(|| CompleteMultipartUploadOutput::builder().build());
    let destination = mock_client!(
        aws_sdk_s3,
        RuleMode::MatchAny,
        [&empty, &copy_archived, &copy_redirect, &create, &part, &complete],
        |b| b.retry_config(RetryConfig::disabled())
    );

    let job = CopyJob {
        source: &source,
        destination: &destination,
        source_bucket: "photos",
        destination_bucket: "photos-dr",
        storage_class: "STANDARD",
        kms_key: Some(DR_KEY),
        rule: CopyRule::Backfill,
        destination_locked: true,
        multipart_threshold: 5 * MIB as u64,
        page_size: 1000,
        page_bytes: 50 << 30,
        concurrency: 1,
        deadline: None,
        start_margin: START_MARGIN,
        part_margin: PART_MARGIN,
        dry_run: false,
        destination_exists: true,
    };
    let mut progress = Progress { strategy: Some(Strategy::Copy), ..Progress::default() };
    copy_page(&job, &mut progress).await.unwrap();

    assert_eq!((progress.objects_copied, progress.objects_failed), (2, 0), "{progress:?}");
    assert_eq!(progress.objects_not_replicable, 3, "{progress:?}");
    assert_eq!(
        progress.not_replicable,
        vec![
            "archived-late.bin: archived (S3 answered ObjectNotInActiveTierError), not restored",
            "sse-c.bin: SSE-C: encrypted with a customer key S3 does not keep",
            "tiered.bin: archived (INTELLIGENT_TIERING DEEP_ARCHIVE_ACCESS), not restored",
        ]
    );
    assert!(progress.done);
    // The archived and SSE-C objects cost a HEAD, never a copy attempt.
    assert_eq!((copy_redirect.num_calls(), copy_archived.num_calls(), create.num_calls()), (1, 1, 1));
    assert_eq!((part.num_calls(), complete.num_calls()), (2, 1));
}

/// An object that failed is tried again by the run that resumes: the cursor a later run resumes
/// after stays before the page of the first failure, while the later pages go on.
#[tokio::test]
async fn a_later_run_resumes_before_the_first_failed_object() {
    let page = |keys: &'static [&'static str]| {
        mock!(Client::list_objects_v2).match_requests(move |r| r.start_after().unwrap_or("") < keys[0]).then_output(
            move || {
                let mut out = ListObjectsV2Output::builder().is_truncated(keys[0] == "a");
                for key in keys {
                    out = out.contents(listed(key, 10));
                }
                out.max_keys(2).build()
            },
        )
    };
    let first = page(&["a", "b"]);
    let second = page(&["c", "d"]);
    let head = mock!(Client::head_object).then_output(|| HeadObjectOutput::builder().build());
    let source = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&first, &second, &head], |b| b
        .retry_config(RetryConfig::disabled()));
    let empty =
        mock!(Client::list_objects_v2).then_output(|| ListObjectsV2Output::builder().is_truncated(false).build());
    let denied = mock!(Client::copy_object)
        .match_requests(|r| r.key() == Some("b"))
        .sequence()
        .http_status(403, error_body("AccessDenied"))
        .build();
    let copied = mock!(Client::copy_object).then_output(|| CopyObjectOutput::builder().build());
    let destination = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&empty, &denied, &copied], |b| b
        .retry_config(RetryConfig::disabled()));
    let job = job(&source, &destination, None, START_MARGIN);
    let mut progress = Progress { strategy: Some(Strategy::Copy), ..Progress::default() };
    copy_page(&job, &mut progress).await.unwrap();
    assert_eq!((progress.objects_copied, progress.objects_failed), (1, 1), "{progress:?}");
    assert_eq!((progress.continue_after.as_deref(), progress.resume_cursor().as_str()), (Some("b"), ""));
    copy_page(&job, &mut progress).await.unwrap();
    assert!(progress.done);
    assert_eq!(
        (progress.continue_after.as_deref(), progress.resume_cursor().as_str()),
        (Some("d"), ""),
        "{progress:?}"
    );
}

/// A multipart copy that runs out of invocation time is left for the next turn, which takes it
/// first (it is not a failure, unless even as the first object of a turn it does not fit).
#[tokio::test]
async fn a_multipart_copy_out_of_time_is_left_for_the_next_turn_unless_it_never_fits() {
    let listing = mock!(Client::list_objects_v2).then_output(|| {
        ListObjectsV2Output::builder()
            .contents(listed("a-small", 10))
            .contents(listed("b-big", 6 * MIB))
            .is_truncated(false)
            .build()
    });
    let big_alone = mock!(Client::list_objects_v2)
        .then_output(|| ListObjectsV2Output::builder().contents(listed("b-big", 6 * MIB)).is_truncated(false).build());
    let head = mock!(Client::head_object).then_output(|| HeadObjectOutput::builder().build());
    let tagging = mock!(Client::get_object_tagging)
        .then_output(|| GetObjectTaggingOutput::builder().set_tag_set(Some(vec![])).build().unwrap());
    let dst_listing =
        mock!(Client::list_objects_v2).then_output(|| ListObjectsV2Output::builder().is_truncated(false).build());
    let copy = mock!(Client::copy_object).then_output(|| CopyObjectOutput::builder().build());
    let create = mock!(Client::create_multipart_upload)
        .then_output(|| CreateMultipartUploadOutput::builder().upload_id("u").build());
    let part = mock!(Client::upload_part_copy).then_output(|| {
        UploadPartCopyOutput::builder().copy_part_result(CopyPartResult::builder().e_tag("\"p\"").build()).build()
    });
    let abort = mock!(Client::abort_multipart_upload)
        .then_output(|| aws_sdk_s3::operation::abort_multipart_upload::AbortMultipartUploadOutput::builder().build());
    let destination = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&dst_listing, &copy, &create, &part, &abort]);
    // Time for objects, but never for a second part: the 6 MiB object (two 5 MiB parts) cannot
    // finish in this turn.
    let deadline = Some(std::time::SystemTime::now() + std::time::Duration::from_secs(1800));
    let never = std::time::Duration::from_secs(3600);

    let source = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&listing, &head, &tagging]);
    let mut progress = Progress { strategy: Some(Strategy::Copy), ..Progress::default() };
    let mut second = job(&source, &destination, deadline, std::time::Duration::ZERO);
    second.part_margin = never;
    copy_page(&second, &mut progress).await.unwrap();
    assert_eq!((progress.objects_copied, progress.objects_failed, progress.done), (1, 0, false), "{progress:?}");
    assert_eq!(progress.continue_after.as_deref(), Some("a-small"), "the next turn starts with the big object");
    assert_eq!(abort.num_calls(), 1, "no half-made upload is left behind");

    // First in its turn and still out of time: it never fits a copy invocation.
    let source = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&big_alone, &head, &tagging]);
    let mut alone = job(&source, &destination, deadline, std::time::Duration::ZERO);
    alone.part_margin = never;
    let mut progress = Progress { strategy: Some(Strategy::Copy), ..Progress::default() };
    copy_page(&alone, &mut progress).await.unwrap();
    assert_eq!(progress.objects_failed, 1);
    assert!(
        progress.failures[0].contains("did not fit in one Lambda invocation") && progress.failures[0].contains("batch"),
        "{:?}",
        progress.failures
    );
}

fn job<'a>(
    source: &'a Client,
    destination: &'a Client,
    deadline: Option<std::time::SystemTime>,
    start_margin: std::time::Duration,
) -> CopyJob<'a> {
    CopyJob {
        source,
        destination,
        source_bucket: "photos",
        destination_bucket: "photos-dr",
        storage_class: "STANDARD",
        kms_key: Some(DR_KEY),
        rule: CopyRule::Backfill,
        destination_locked: false,
        multipart_threshold: 5 * MIB as u64,
        page_size: 2,
        page_bytes: 50 << 30,
        concurrency: 1,
        deadline,
        start_margin,
        part_margin: PART_MARGIN,
        dry_run: false,
        destination_exists: true,
    }
}

/// Failback writes into the application's bucket: each copy is conditional on what the page
/// listed there (If-Match its ETag, If-None-Match `*` for a key it lacked), and S3's 412 (a
/// write made meanwhile) skips it. moto does not check these conditions on CopyObject.
#[tokio::test]
async fn a_copy_home_is_written_only_over_what_the_page_listed_at_home() {
    const FAILOVER: i64 = 1_795_000_000;
    let at = |key: &str, size: i64, etag: &str, modified: i64| {
        Object::builder().key(key).size(size).e_tag(etag).last_modified(DateTime::from_secs(modified)).build()
    };
    let dr_listing = mock!(Client::list_objects_v2).then_output(move || {
        ListObjectsV2Output::builder()
            .contents(at("a", 3, "\"dr-a\"", FAILOVER + 10))
            .contents(at("b", 3, "\"dr-b\"", FAILOVER + 10))
            .is_truncated(false)
            .build()
    });
    let head = mock!(Client::head_object).then_output(|| HeadObjectOutput::builder().build());
    let home_listing = mock!(Client::list_objects_v2).then_output(move || {
        ListObjectsV2Output::builder().contents(at("a", 5, "\"home-a\"", FAILOVER - 86_400)).is_truncated(false).build()
    });
    // "a" was written at home after the listing: S3 refuses the copy over it.
    let over_a = mock!(Client::copy_object)
        .match_requests(|r| r.key() == Some("a") && r.if_match() == Some("\"home-a\"") && r.if_none_match().is_none())
        .sequence()
        .http_status(412, error_body("PreconditionFailed"))
        .build();
    let new_b = mock!(Client::copy_object)
        .match_requests(|r| r.key() == Some("b") && r.if_none_match() == Some("*") && r.if_match().is_none())
        .then_output(|| CopyObjectOutput::builder().build());
    let dr = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&dr_listing, &head]);
    let home = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&home_listing, &over_a, &new_b], |b| b
        .retry_config(RetryConfig::disabled()));
    let window = s3_dr::failback::Window::new(Some(FAILOVER), None).unwrap();
    let bring_home = CopyJob {
        source_bucket: "photos-dr",
        destination_bucket: "photos",
        kms_key: None,
        rule: CopyRule::BringHome(window),
        page_size: 10,
        ..job(&dr, &home, None, START_MARGIN)
    };
    let mut progress = Progress { strategy: Some(Strategy::Copy), ..Progress::default() };
    copy_page(&bring_home, &mut progress).await.unwrap();
    assert_eq!((progress.objects_copied, progress.objects_skipped, progress.objects_failed), (1, 1, 0));
    assert_eq!((over_a.num_calls(), new_b.num_calls()), (1, 1));
    assert!(progress.done);
}
