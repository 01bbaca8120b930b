//! The workflow on a stack configured away from the defaults: Replication Time Control and
//! another replica storage class; and an SSE-KMS source with the DR key.

mod common;

use aws_sdk_s3::types::SseKmsEncryptedObjectsStatus;
use common::*;
use serde_json::json;

fn configured_stack() -> &'static Stack {
    stack_with(&[("S3DR_RTC", "true"), ("S3DR_STORAGE_CLASS", "standard_ia")])
}

#[tokio::test]
async fn replication_time_control_and_the_storage_class_are_configured_on_the_rule() {
    let stack = configured_stack();
    let source = unique("rtc");
    let s3 = source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;

    stack.run_protect(json!({ "bucket": source })).await.assert_succeeded();
    let replication = s3_dr::bucket::replication(&s3, &source).await.unwrap().unwrap();
    let destination = replication.rules()[0].destination().unwrap();
    assert_eq!(destination.storage_class().map(|c| c.as_str()), Some("STANDARD_IA"));
    let rtc = destination.replication_time().expect("Replication Time Control");
    assert_eq!((rtc.status().as_str(), rtc.time().and_then(|t| t.minutes())), ("Enabled", Some(15)));
    let metrics = destination.metrics().expect("replication metrics");
    assert_eq!((metrics.status().as_str(), metrics.event_threshold().and_then(|t| t.minutes())), ("Enabled", Some(15)));

    let again = stack.run_protect(json!({ "bucket": source })).await;
    assert_eq!(again.step("EnableReplication")["changed"], false);
}

#[tokio::test]
async fn an_sse_kms_source_replicates_with_the_dr_key() {
    let stack = configured_stack();
    let source = unique("kms");
    let s3 = source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;
    let source_key = stack.kms(SOURCE_REGION).await.create_key().send().await.unwrap();
    let source_key_arn = source_key.key_metadata().unwrap().arn().unwrap().to_owned();
    put_kms_default_encryption(&s3, &source, &source_key_arn).await;
    // The default S3DR_DR_KMS_KEY, alias/s3-dr, made in the DR region as the CDK app makes it.
    let dr_key_arn = dr_key_arn(stack).await;

    let run = stack.run_protect(json!({ "bucket": source })).await;
    run.assert_succeeded();
    assert_eq!(run.step("ValidateSource")["replicaKmsKeyArn"], dr_key_arn.as_str());

    let replication = s3_dr::bucket::replication(&s3, &source).await.unwrap().unwrap();
    let rule = &replication.rules()[0];
    let encryption = rule.destination().unwrap().encryption_configuration().unwrap();
    assert_eq!(encryption.replica_kms_key_id(), Some(dr_key_arn.as_str()));
    let kms_objects = rule.source_selection_criteria().unwrap().sse_kms_encrypted_objects().unwrap();
    assert_eq!(kms_objects.status(), &SseKmsEncryptedObjectsStatus::Enabled);

    let destination = format!("{source}-dr");
    let dr = stack.s3(DR_REGION).await;
    let default = s3_dr::bucket::default_encryption(&dr, &destination).await.unwrap().unwrap();
    assert_eq!(default.algorithm, "aws:kms");
    assert_eq!(default.kms_key.as_deref(), Some(dr_key_arn.as_str()));
    assert!(default.bucket_key);

    let again = stack.run_protect(json!({ "bucket": source })).await;
    again.assert_succeeded();
    assert!(again.steps.iter().all(|(_, output)| output["changed"] == false), "{again:#?}");
}
