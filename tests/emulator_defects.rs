//! moto 5.2.5 answers some S3 calls differently from AWS; `local/moto_patches.py` corrects
//! six of them for the local stack, and three are left as they are (the tests that would need
//! them pin AWS's behaviour with aws-smithy-mocks instead). These tests run *unpatched* moto and
//! assert each defect is still there: the day one fails, moto got it right and its patch (or
//! the mock standing in) can go.

mod common;

use aws_sdk_s3::primitives::DateTime;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, DeleteMarkerReplication, DeleteMarkerReplicationStatus, Destination,
    ObjectLockLegalHoldStatus, ObjectLockMode, ReplicationConfiguration, ReplicationRule, ReplicationRuleFilter,
    ReplicationRuleStatus, ServerSideEncryption,
};
use common::*;
use std::sync::OnceLock;

fn plain_moto() -> &'static Stack {
    static PLAIN: OnceLock<Stack> = OnceLock::new();
    PLAIN.get_or_init(|| start_stack(&[], &["--no-patches"]))
}

#[tokio::test]
async fn moto_still_answers_get_bucket_versioning_with_the_wrong_xml_root() {
    let stack = plain_moto();
    let s3 = stack.s3(SOURCE_REGION).await;
    let bucket = unique("defect-versioning");
    create_bucket(&s3, &bucket, SOURCE_REGION).await;
    let error = s3.get_bucket_versioning().bucket(&bucket).send().await.expect_err(
        "moto now answers GetBucketVersioning as AWS does: delete _get_bucket_versioning from local/moto_patches.py",
    );
    let text = format!("{:?}", error);
    assert!(text.contains("GetBucketVersioningResponse"), "a different failure than the known defect: {text}");
}

#[tokio::test]
async fn moto_still_loses_an_inventorys_included_versions_and_names_its_absence_wrongly() {
    let stack = plain_moto();
    let s3 = stack.s3(SOURCE_REGION).await;
    let bucket = unique("defect-inventory");
    create_bucket(&s3, &bucket, SOURCE_REGION).await;
    let absent =
        s3.get_bucket_inventory_configuration().bucket(&bucket).id("s3-dr").send().await.expect_err("none yet");
    assert_eq!(
        s3_dr::error::aws_code(&absent),
        Some("NoSuchInventoryConfig"),
        "moto now answers an absent inventory configuration as AWS does (NoSuchConfiguration): delete that part of _get_bucket_inventory_configuration from local/moto_patches.py"
    );
    let wanted = s3_dr::inventory::reports::wanted("reports", None).unwrap();
    s3.put_bucket_inventory_configuration()
        .bucket(&bucket)
        .id("s3-dr")
        .inventory_configuration(wanted)
        .send()
        .await
        .unwrap();
    let stored = s3.get_bucket_inventory_configuration().bucket(&bucket).id("s3-dr").send().await.unwrap();
    assert_eq!(
        stored.inventory_configuration().unwrap().included_object_versions().as_str(),
        "All",
        "moto now returns the IncludedObjectVersions that was put (Current): delete _get_bucket_inventory_configuration and _put_bucket_inventory_configuration from local/moto_patches.py"
    );
}

#[tokio::test]
async fn moto_still_answers_head_bucket_200_for_another_accounts_bucket() {
    let stack = plain_moto();
    let theirs = stack.s3_as_account("222222222222", DR_REGION).await;
    let bucket = unique("defect-head");
    create_bucket(&theirs, &bucket, DR_REGION).await;
    let ours = stack.s3(DR_REGION).await;
    let answer = ours.head_bucket().bucket(&bucket).expected_bucket_owner(ACCOUNT_ID).send().await;
    assert!(
        answer.is_ok(),
        "moto now refuses HeadBucket on another account's bucket as AWS does (403): delete _head_bucket from local/moto_patches.py ({answer:?})"
    );
}

#[tokio::test]
async fn moto_still_loses_replication_fields_on_get() {
    let stack = plain_moto();
    let s3 = stack.s3(SOURCE_REGION).await;
    let bucket = unique("defect-replication");
    create_bucket(&s3, &bucket, SOURCE_REGION).await;
    s3.put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap(); // the put works on moto; only the get is broken
    let rule = ReplicationRule::builder()
        .id("r")
        .priority(1)
        .status(ReplicationRuleStatus::Enabled)
        .filter(ReplicationRuleFilter::builder().build())
        .delete_marker_replication(
            DeleteMarkerReplication::builder().status(DeleteMarkerReplicationStatus::Enabled).build(),
        )
        .destination(Destination::builder().bucket("arn:aws:s3:::elsewhere").build().unwrap())
        .build()
        .unwrap();
    s3.put_bucket_replication()
        .bucket(&bucket)
        .replication_configuration(
            ReplicationConfiguration::builder().role(REPLICATION_ROLE).rules(rule).build().unwrap(),
        )
        .send()
        .await
        .unwrap();
    let got = s3.get_bucket_replication().bucket(&bucket).send().await.unwrap();
    let status = got.replication_configuration().unwrap().rules()[0]
        .delete_marker_replication()
        .and_then(|d| d.status())
        .cloned();
    assert_eq!(
        status,
        Some(DeleteMarkerReplicationStatus::Disabled),
        "moto now returns DeleteMarkerReplication as it was put: delete _get_bucket_replication from local/moto_patches.py"
    );
}

#[tokio::test]
async fn moto_still_lists_buckets_without_regions_or_pages() {
    let stack = plain_moto();
    let s3 = stack.s3(SOURCE_REGION).await;
    for i in 0..3 {
        create_bucket(&s3, &unique(&format!("listing{i}")), SOURCE_REGION).await;
    }
    let page = s3.list_buckets().max_buckets(2).send().await.unwrap();
    assert_eq!(page.buckets().len(), 2);
    // AWS: a ContinuationToken for the rest, and each bucket's region. moto: neither.
    assert_eq!(page.continuation_token(), None, "moto now pages ListBuckets: drop the all_buckets patch");
    assert!(
        page.buckets().iter().all(|b| b.bucket_region().is_none()),
        "moto now returns BucketRegion: drop the all_buckets patch"
    );
}

/// Patched (`_key_response_put`): moto asks a CopyObject that carries Object Lock headers for
/// Content-MD5, as if it uploaded a body.
#[tokio::test]
async fn moto_still_asks_a_copy_with_object_lock_headers_for_content_md5() {
    let stack = plain_moto();
    let s3 = stack.s3(SOURCE_REGION).await;
    let bucket = unique("defect-lock-copy");
    create_locked_bucket(&s3, &bucket, SOURCE_REGION).await;
    s3.put_object().bucket(&bucket).key("a").body(b"a".to_vec().into()).send().await.unwrap();
    let answer = s3
        .copy_object()
        .bucket(&bucket)
        .key("b")
        .copy_source(format!("{bucket}/a"))
        .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
        .send()
        .await;
    let error = answer
        .expect_err("moto now copies with Object Lock headers: drop _key_response_put from local/moto_patches.py");
    assert!(format!("{error:?}").contains("MissingUploadObjectWithObjectLockHeaders"), "{error:?}");
}

/// Not patched: moto drops the Object Lock headers of CreateMultipartUpload (AWS applies them
/// to the object CompleteMultipartUpload makes). tests/copy_fidelity.rs asserts retention on
/// the CopyObject path only; tests/copy_mocks.rs pins the multipart request.
#[tokio::test]
async fn moto_still_drops_object_lock_headers_of_a_multipart_upload() {
    let stack = plain_moto();
    let s3 = stack.s3(SOURCE_REGION).await;
    let bucket = unique("defect-lock-mpu");
    create_locked_bucket(&s3, &bucket, SOURCE_REGION).await;
    let upload = s3
        .create_multipart_upload()
        .bucket(&bucket)
        .key("k")
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(DateTime::from_secs(1_924_992_000))
        .send()
        .await
        .unwrap();
    let id = upload.upload_id().unwrap();
    let part = s3
        .upload_part()
        .bucket(&bucket)
        .key("k")
        .upload_id(id)
        .part_number(1)
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap();
    let completed = CompletedMultipartUpload::builder()
        .parts(CompletedPart::builder().part_number(1).set_e_tag(part.e_tag().map(str::to_owned)).build())
        .build();
    s3.complete_multipart_upload()
        .bucket(&bucket)
        .key("k")
        .upload_id(id)
        .multipart_upload(completed)
        .send()
        .await
        .unwrap();
    let head = s3.head_object().bucket(&bucket).key("k").send().await.unwrap();
    assert_eq!(
        head.object_lock_mode(),
        None,
        "moto now keeps Object Lock on multipart uploads: assert it in tests/copy_fidelity.rs"
    );
}

/// Not patched: moto returns the KMS key id of SSE-KMS objects, not of DSSE-KMS ones (AWS
/// returns it for both). tests/copy_fidelity.rs checks the key of the SSE-KMS copy only;
/// tests/copy_mocks.rs pins that a DSSE-KMS copy asks for the DR key.
#[tokio::test]
async fn moto_still_omits_the_key_id_of_dsse_kms_objects() {
    let stack = plain_moto();
    let s3 = stack.s3(SOURCE_REGION).await;
    let bucket = unique("defect-dsse");
    create_bucket(&s3, &bucket, SOURCE_REGION).await;
    let key = "arn:aws:kms:us-west-2:123456789012:key/k";
    s3.put_object()
        .bucket(&bucket)
        .key("d")
        .server_side_encryption(ServerSideEncryption::AwsKmsDsse)
        .ssekms_key_id(key)
        .body(b"d".to_vec().into())
        .send()
        .await
        .unwrap();
    let head = s3.head_object().bucket(&bucket).key("d").send().await.unwrap();
    assert_eq!(head.server_side_encryption(), Some(&ServerSideEncryption::AwsKmsDsse));
    assert_eq!(
        head.ssekms_key_id(),
        None,
        "moto now returns the key id of DSSE-KMS objects: assert it in tests/copy_fidelity.rs"
    );
}

#[tokio::test]
async fn moto_still_ignores_the_conditions_of_a_copy_on_its_destination() {
    let stack = plain_moto();
    let s3 = stack.s3(SOURCE_REGION).await;
    let bucket = unique("defect-copy-condition");
    create_bucket(&s3, &bucket, SOURCE_REGION).await;
    for key in ["from", "to"] {
        s3.put_object().bucket(&bucket).key(key).body(key.as_bytes().to_vec().into()).send().await.unwrap();
    }
    // AWS: 412 Precondition Failed, "to" exists
    // (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html).
    let copied = s3
        .copy_object()
        .bucket(&bucket)
        .key("to")
        .copy_source(format!("{bucket}/from"))
        .if_none_match("*")
        .send()
        .await;
    assert!(
        copied.is_ok(),
        "moto now checks CopyObject's If-None-Match on the destination: failback's conditional copies (tests/copy_mocks.rs) can be tested on the local stack"
    );
}
