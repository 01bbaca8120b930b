//! The DR key is needed for every bucket, not only SSE-KMS ones: any bucket may hold objects
//! uploaded with their own SSE-KMS header, which S3 replicates only with a replica key. Without a
//! usable key in the DR region, protection is refused before anything changes.

mod common;

use common::*;
use serde_json::json;

const MISSING_ALIAS: &str = "alias/s3-dr-not-there";

#[tokio::test]
async fn without_a_dr_key_any_bucket_is_refused_before_any_change() {
    let stack = stack_with(&[("S3DR_DR_KMS_KEY", MISSING_ALIAS)]);
    // An SSE-S3 bucket (S3's default encryption) needs it as much as an SSE-KMS one.
    let plain = unique("nokey-sse-s3");
    let s3 = source_bucket(stack, &plain, SOURCE_REGION, &[("dr", "true")]).await;
    let kms = unique("nokey-sse-kms");
    source_bucket(stack, &kms, SOURCE_REGION, &[("dr", "true")]).await;
    put_kms_default_encryption(&s3, &kms, "arn:aws:kms:us-west-2:123456789012:key/source-key").await;
    // An alias of that name in the source region does not count: KMS keys are regional.
    let source_kms = stack.kms(SOURCE_REGION).await;
    let key = source_kms.create_key().send().await.unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_owned();
    source_kms.create_alias().alias_name(MISSING_ALIAS).target_key_id(key_id).send().await.unwrap();

    for bucket in [&plain, &kms] {
        let run = stack.run_protect(json!({ "bucket": bucket })).await;
        run.assert_failed_with("KmsKeyMissing");
        let cause = run.cause.as_deref().unwrap();
        assert!(
            cause.contains(MISSING_ALIAS) && cause.contains(DR_REGION) && cause.contains("S3DR_DR_KMS_KEY"),
            "{cause}"
        );
        assert_eq!(versioning(&s3, bucket).await, "Off", "refused before any change");
    }
}
