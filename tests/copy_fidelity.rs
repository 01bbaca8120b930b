//! What a `copy` backfill keeps, and what it cannot copy, through the real workflow on moto:
//! Object Lock retention and legal holds, website redirects, `Expires`, the checksum algorithm
//! of a multipart copy, DSSE-KMS; and archived objects, which S3 cannot copy, reported by name
//! with the run succeeding (and `status` saying so).

mod common;

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, GlacierJobParameters, ObjectLockLegalHoldStatus, ObjectLockMode, RestoreRequest,
    ServerSideEncryption, StorageClass, Tier,
};
use common::*;
use s3_dr::backfill::state::BackfillTags;
use serde_json::json;

const LAMBDA_ENV: &[(&str, &str)] = &[("S3DR_BACKFILL", "copy"), ("S3DR_COPY_MULTIPART_THRESHOLD", "5242880")];
const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn objects_s3_cannot_copy_are_reported_by_name_and_the_run_succeeds_with_a_warning() {
    let stack = stack_with(LAMBDA_ENV);
    let source = unique("archived");
    let destination = format!("{source}-dr");
    let s3 = source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;
    for (key, class) in [
        ("cold/glacier.bin", StorageClass::Glacier),
        ("cold/deep.bin", StorageClass::DeepArchive),
        ("cold/restored.bin", StorageClass::Glacier),
    ] {
        s3.put_object()
            .bucket(&source)
            .key(key)
            .storage_class(class)
            .body(key.as_bytes().to_vec().into())
            .send()
            .await
            .unwrap();
    }
    // A restored archived object can be copied (while the restored copy lasts).
    s3.restore_object()
        .bucket(&source)
        .key("cold/restored.bin")
        .restore_request(
            RestoreRequest::builder()
                .days(1)
                .glacier_job_parameters(GlacierJobParameters::builder().tier(Tier::Standard).build().unwrap())
                .build(),
        )
        .send()
        .await
        .unwrap();

    let run = stack.run_protect(json!({ "bucket": source })).await;
    run.assert_succeeded();
    let backfill = run.step("CheckBackfill");
    assert_eq!(backfill["objectsNotReplicable"], 2, "{backfill}");
    assert_eq!(
        (backfill["objectsCopied"].as_u64(), backfill["objectsFailed"].as_u64()),
        (Some(3), Some(0)),
        "{backfill}"
    );
    let listed: Vec<&str> = backfill["notReplicable"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(listed.contains(&"cold/glacier.bin: archived (GLACIER), not restored"), "{listed:?}");
    assert!(listed.contains(&"cold/deep.bin: archived (DEEP_ARCHIVE), not restored"), "{listed:?}");
    // The result says what the DR copy holds, with a warning that names the objects.
    let verified = run.step("VerifyProtection");
    assert_eq!(verified["backfill"]["objectsNotReplicable"], 2, "{verified}");
    let warning = verified["warnings"][0].as_str().unwrap();
    assert!(warning.contains("2 objects") && warning.contains("cold/"), "{warning}");
    let dr = stack.s3(DR_REGION).await;
    dr.head_object().bucket(&destination).key("cold/restored.bin").send().await.unwrap();
    assert!(dr.head_object().bucket(&destination).key("cold/deep.bin").send().await.is_err());

    // The destination remembers it, and `status` says "protected, 2 objects not replicable".
    let tags = BackfillTags::read(&s3_dr::bucket::tags(&dr, &destination).await.unwrap());
    assert_eq!(tags.not_replicable.as_ref().map(|n| n.count), Some(2), "{tags:?}");
    let status = s3_dr::status::inspect(&stack.clients().await, &protect_config("STANDARD"), &source).await.unwrap();
    assert!(status.protected, "{status:?}");
    assert!(status.summary().starts_with("protected, 2 objects not replicable (e.g. cold/"), "{}", status.summary());
    let output = Command::new(cli_binary()).args(["status", &source]).envs(&stack.env).output().unwrap();
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{table}{}", String::from_utf8_lossy(&output.stderr));
    assert!(table.contains("yes, 2 objects not replicable"), "{table}");

    // A re-run does not look again, and the count stays.
    assert_no_backfill_and_no_write(&stack.run_protect(json!({ "bucket": source })).await);
    let tags = BackfillTags::read(&s3_dr::bucket::tags(&dr, &destination).await.unwrap());
    assert_eq!(tags.not_replicable.map(|n| n.count), Some(2));
}

#[tokio::test]
async fn a_copy_keeps_retention_legal_hold_redirect_expires_checksum_and_dsse_kms() {
    let stack = stack_with(LAMBDA_ENV);
    let source = unique("fidelity");
    let destination = format!("{source}-dr");
    let s3 = stack.s3(SOURCE_REGION).await;
    create_locked_bucket(&s3, &source, SOURCE_REGION).await;
    let source_key = stack.kms(SOURCE_REGION).await.create_key().send().await.unwrap();
    let source_key = source_key.key_metadata().unwrap().arn().unwrap().to_owned();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let until = DateTime::from_secs(now + 365 * 86_400);
    let expires = DateTime::from_secs(1_924_992_000); // 2031-01-01
                                                      // A small object (CopyObject) with SSE-KMS and a 6 MiB one (multipart: 5 MiB parts on this
                                                      // stack) with DSSE-KMS.
    for (key, size, encryption) in
        [("small.txt", 10, ServerSideEncryption::AwsKms), ("big.bin", 6 * MIB + 7, ServerSideEncryption::AwsKmsDsse)]
    {
        s3.put_object()
            .bucket(&source)
            .key(key)
            .body(ByteStream::from(vec![7u8; size]))
            .object_lock_mode(ObjectLockMode::Governance)
            .object_lock_retain_until_date(until)
            .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
            .website_redirect_location("/moved-here")
            .expires(expires)
            .checksum_algorithm(ChecksumAlgorithm::Sha256)
            .server_side_encryption(encryption)
            .ssekms_key_id(&source_key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
    }
    tag_bucket(&s3, &source, &[("dr", "true")]).await;

    let run = stack.run_protect(json!({ "bucket": source })).await;
    run.assert_succeeded();
    assert_eq!(run.step("CheckBackfill")["objectsCopied"], 2, "{:?}", run.step("CheckBackfill"));
    let dr = stack.s3(DR_REGION).await;
    let dr_key = dr_key_arn(stack).await;
    for (key, encryption) in
        [("small.txt", ServerSideEncryption::AwsKms), ("big.bin", ServerSideEncryption::AwsKmsDsse)]
    {
        let copy =
            dr.head_object().bucket(&destination).key(key).checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
        // moto drops the Object Lock headers of CreateMultipartUpload (AWS applies them; see
        // tests/emulator_defects.rs): on the multipart path tests/copy_mocks.rs pins the request.
        if key == "small.txt" {
            assert_eq!(copy.object_lock_mode(), Some(&ObjectLockMode::Governance), "{key}");
            assert_eq!(copy.object_lock_retain_until_date().map(|d| d.secs()), Some(until.secs()), "{key}");
            assert_eq!(copy.object_lock_legal_hold_status(), Some(&ObjectLockLegalHoldStatus::On), "{key}");
        }
        assert_eq!(copy.website_redirect_location(), Some("/moved-here"), "{key}");
        assert_eq!(copy.expires_string(), Some("Wed, 01 Jan 2031 00:00:00 GMT"), "{key}");
        assert!(copy.checksum_sha256().is_some(), "{key}: the checksum algorithm travels: {copy:?}");
        assert_eq!(copy.server_side_encryption(), Some(&encryption), "{key}: the kind of encryption stays");
        // moto returns the key id of SSE-KMS objects only, not of DSSE-KMS ones (AWS does both):
        // tests/copy_mocks.rs pins that the DSSE-KMS copy asks for the DR key.
        if encryption == ServerSideEncryption::AwsKms {
            assert_eq!(copy.ssekms_key_id(), Some(dr_key.as_str()), "{key}: with the DR key");
        }
    }
    let big = dr.head_object().bucket(&destination).key("big.bin").send().await.unwrap();
    assert!(big.e_tag().unwrap().ends_with("-2\""), "copied in two parts: {:?}", big.e_tag());
}
