//! moto 5.2.5 answers four S3 calls differently from AWS; `local/moto_patches.py` corrects
//! them for the local stack. These tests run *unpatched* moto and assert each defect is still
//! there: the day one fails, moto got it right and its patch can be deleted.

mod common;

use aws_sdk_s3::types::{
    DeleteMarkerReplication, DeleteMarkerReplicationStatus, Destination, ReplicationConfiguration, ReplicationRule,
    ReplicationRuleFilter, ReplicationRuleStatus,
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
