//! The protect workflow end to end: the real ASL file executed by moto's Step Functions, its
//! Lambda tasks served by the real `s3-dr-lambda` binary, S3 on moto over HTTP.

mod common;

use aws_sdk_s3::types::{
    BucketVersioningStatus, DeleteMarkerReplicationStatus, ReplicationConfiguration, ReplicationRule,
    ReplicationRuleStatus, SseKmsEncryptedObjectsStatus,
};
use common::*;
use s3_dr::naming;
use s3_dr::steps::Step;
use serde_json::json;

#[tokio::test]
async fn a_fresh_tagged_bucket_is_protected_end_to_end() {
    let stack = stack();
    let source = unique("fresh");
    let s3 = source_bucket(stack, &source, SOURCE_REGION, &[("team", "media"), ("dr", "true")]).await;

    let run = stack.run_protect(json!({ "bucket": source })).await;
    run.assert_succeeded();
    let destination = format!("{source}-dr");
    let names: Vec<&str> = run.steps.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "ValidateSource",
            "EnableSourceVersioning",
            "EnsureDestination",
            "EnableReplication",
            "StartBackfill",
            "CheckBackfill",
            "CloneSettings",
            "VerifyProtection"
        ]
    );
    assert_eq!(run.step("EnableSourceVersioning")["changed"], true);
    assert_eq!(run.step("EnsureDestination")["created"], true);
    assert_eq!(run.step("EnableReplication")["changed"], true);
    assert_eq!(run.step("VerifyProtection")["protected"], true);

    // Source: versioned, with exactly one rule, ours, pointing at the destination.
    assert_eq!(versioning(&s3, &source).await, "Enabled");
    let replication = s3_dr::bucket::replication(&s3, &source).await.unwrap().expect("replication configured");
    assert_eq!(replication.role(), REPLICATION_ROLE);
    let [rule] = replication.rules() else { panic!("{replication:?}") };
    assert_eq!(rule.id(), Some("s3-dr"));
    assert_eq!(rule.status(), &ReplicationRuleStatus::Enabled);
    assert_eq!(
        rule.delete_marker_replication().and_then(|d| d.status()),
        Some(&DeleteMarkerReplicationStatus::Enabled)
    );
    assert!(rule.filter().is_some(), "V2 schema: a Filter element");
    let rule_destination = rule.destination().unwrap();
    assert_eq!(rule_destination.bucket(), format!("arn:aws:s3:::{destination}"));
    assert_eq!(rule_destination.storage_class().map(|c| c.as_str()), Some("STANDARD"));
    // An SSE-S3 bucket still replicates the objects uploaded with SSE-KMS: the rule selects
    // them and re-encrypts them with the DR key (the stack's default, alias/s3-dr).
    let dr_key = dr_key_arn(stack).await;
    assert_eq!(rule_destination.encryption_configuration().and_then(|e| e.replica_kms_key_id()), Some(dr_key.as_str()));
    assert_eq!(
        rule.source_selection_criteria().and_then(|c| c.sse_kms_encrypted_objects()).map(|o| o.status()),
        Some(&SseKmsEncryptedObjectsStatus::Enabled)
    );

    // Destination: in the DR region, versioned, private, encrypted, marked as ours.
    let dr = stack.s3(DR_REGION).await;
    let home = stack.s3(HOME_REGION).await;
    assert_eq!(s3_dr::bucket::region(&home, &destination).await.unwrap().as_deref(), Some(DR_REGION));
    assert_eq!(versioning(&dr, &destination).await, "Enabled");
    let block = s3_dr::bucket::public_access_block(&dr, &destination).await.unwrap().unwrap();
    assert_eq!(
        [
            block.block_public_acls(),
            block.ignore_public_acls(),
            block.block_public_policy(),
            block.restrict_public_buckets()
        ],
        [Some(true); 4]
    );
    let encryption = s3_dr::bucket::default_encryption(&dr, &destination).await.unwrap().unwrap();
    assert_eq!(encryption.algorithm, "AES256");
    // Multipart uploads a killed copy leaves behind are aborted by s3-dr's own lifecycle rule.
    let lifecycle = s3_dr::bucket::lifecycle(&dr, &destination).await.unwrap().unwrap();
    assert_eq!(lifecycle.rules, vec![s3_dr::settings::abort_uploads_rule().unwrap()]);
    // The user's tags travel; the trigger tag does not (it would protect the destination).
    let tags = s3_dr::settings::sorted(s3_dr::bucket::tags(&dr, &destination).await.unwrap());
    let backfilled = format!("copy {}", s3_dr::clock::today());
    assert_eq!(
        tags,
        vec![
            s3_dr::tags::Tag::new("s3-dr:backfill", &backfilled),
            s3_dr::tags::Tag::new("s3-dr:source", &source),
            s3_dr::tags::Tag::new("team", "media")
        ]
    );
}

#[tokio::test]
async fn a_second_execution_changes_nothing() {
    let stack = stack();
    let source = unique("twice");
    source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;
    stack.run_protect(json!({ "bucket": source })).await.assert_succeeded();

    let again = stack.run_protect(json!({ "bucket": source })).await;
    // The backfill is not looked at again (the destination is marked), nothing is written.
    assert_no_backfill_and_no_write(&again);
    assert_eq!(again.steps.len(), 7);
    assert_eq!(again.step("EnsureDestination")["changes"], json!([]));
    assert_eq!(again.step("EnableReplication")["reasons"], json!([]));
}

#[tokio::test]
async fn a_foreign_replication_rule_survives_next_to_ours() {
    let stack = stack();
    let source = unique("foreign");
    let s3 = source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;
    enable_versioning(&s3, &source).await;
    let theirs = foreign_rule();
    put_replication(&s3, &source, REPLICATION_ROLE, &theirs).await;

    let run = stack.run_protect(json!({ "bucket": source })).await;
    run.assert_succeeded();
    assert_eq!(run.step("EnableReplication")["otherRules"], 1);

    let replication = s3_dr::bucket::replication(&s3, &source).await.unwrap().unwrap();
    let ids: Vec<_> = replication.rules().iter().map(|r| r.id().unwrap()).collect();
    assert_eq!(ids, ["analytics-copy", "s3-dr"]);
    assert_eq!(replication.rules()[0], theirs, "the foreign rule must be untouched");
    assert_eq!(replication.rules()[1].priority(), Some(8), "ours takes a free priority");

    // And it stays that way: a re-run writes nothing.
    let again = stack.run_protect(json!({ "bucket": source })).await;
    assert_eq!(again.step("EnableReplication")["changed"], false);
}

#[tokio::test]
async fn a_long_source_name_gets_a_valid_stable_destination_name() {
    let stack = stack();
    let prefix = unique("long");
    let source = format!("{prefix}-{}", "x".repeat(61 - prefix.len()));
    assert_eq!(source.len(), 62);
    source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;

    let first = stack.run_protect(json!({ "bucket": source })).await;
    first.assert_succeeded();
    let destination = first.step("EnsureDestination")["bucket"].as_str().unwrap().to_owned();
    assert!(naming::is_valid_bucket_name(&destination), "{destination}");
    assert!(destination.len() <= 63 && destination.ends_with("-dr"), "{destination}");
    assert_ne!(destination, format!("{source}-dr"));

    let second = stack.run_protect(json!({ "bucket": source })).await;
    second.assert_succeeded();
    assert_eq!(second.step("EnsureDestination")["bucket"], destination.as_str(), "same name on every run");
    assert_eq!(second.step("EnsureDestination")["created"], false);
    let dr = stack.s3(DR_REGION).await;
    assert_eq!(versioning(&dr, &destination).await, "Enabled");
}

#[tokio::test]
async fn a_destination_name_owned_by_another_account_fails_before_any_change() {
    if skip_on_strict_s3("one account per access key, and ExpectedBucketOwner is not checked") {
        return;
    }
    let stack = stack();
    let source = unique("taken");
    let s3 = source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;
    let other_account = stack.s3_as_account("111111111111", DR_REGION).await;
    create_bucket(&other_account, &format!("{source}-dr"), DR_REGION).await;

    let run = stack.run_protect(json!({ "bucket": source })).await;
    run.assert_failed_with("BucketNameTaken");
    let cause = run.cause.as_deref().unwrap();
    assert!(cause.contains(&source) && cause.contains("S3DR_DESTINATION_SUFFIX"), "{cause}");
    assert_eq!(run.steps.len(), 0, "ValidateSource refused: no step completed");
    assert_eq!(versioning(&s3, &source).await, "Off", "source versioning must not even be enabled");
    assert!(s3_dr::bucket::replication(&s3, &source).await.unwrap().is_none());
}

#[tokio::test]
async fn an_untagged_bucket_is_skipped_without_change() {
    let stack = stack();
    let source = unique("untagged");
    let s3 = source_bucket(stack, &source, SOURCE_REGION, &[("dr", "false"), ("team", "x")]).await;

    let run = stack.run_protect(json!({ "bucket": source })).await;
    run.assert_succeeded();
    assert_eq!(run.steps.len(), 1);
    assert_eq!(run.step("ValidateSource")["action"], "skip");
    assert_eq!(run.step("ValidateSource")["tagged"], false);
    assert_eq!(versioning(&s3, &source).await, "Off");
    let dr = stack.s3(DR_REGION).await;
    assert_eq!(
        s3_dr::bucket::presence(&dr, &format!("{source}-dr"), None).await.unwrap(),
        s3_dr::bucket::Presence::Absent
    );
}

#[tokio::test]
async fn a_stale_tagging_event_is_checked_against_the_current_tags() {
    let stack = stack();
    let source = unique("stale");
    let s3 = source_bucket(stack, &source, SOURCE_REGION, &[("team", "x")]).await;

    // The event says dr=true, but the tag is gone by the time the workflow runs.
    let run = stack.run_protect(cloudtrail_put_bucket_tagging(&source, json!({"Key": "dr", "Value": "true"}))).await;
    run.assert_succeeded();
    assert_eq!(run.step("ValidateSource")["action"], "skip");
    assert_eq!(run.step("ValidateSource")["trigger"], "CloudTrail PutBucketTagging");
    assert_eq!(versioning(&s3, &source).await, "Off");
}

#[tokio::test]
async fn a_cloudtrail_event_with_several_tags_protects_the_bucket() {
    let stack = stack();
    let source = unique("event");
    source_bucket(stack, &source, SOURCE_REGION, &[("team", "media"), ("DR", "True")]).await;
    let tags = json!([{"Key": "team", "Value": "media"}, {"Key": "DR", "Value": "True"}]);

    let run = stack.run_protect(cloudtrail_put_bucket_tagging(&source, tags)).await;
    run.assert_succeeded();
    assert_eq!(run.step("VerifyProtection")["protected"], true);
}

#[tokio::test]
async fn a_bucket_in_the_dr_region_fails_with_a_named_error() {
    let stack = stack();
    let source = unique("in-dr");
    let s3 = source_bucket(stack, &source, DR_REGION, &[("dr", "true")]).await;

    let run = stack.run_protect(json!({ "bucket": source })).await;
    run.assert_failed_with("SourceInDrRegion");
    assert!(run.cause.as_deref().unwrap().contains(DR_REGION));
    assert_eq!(versioning(&s3, &source).await, "Off");
}

#[tokio::test]
async fn a_destination_bucket_is_never_protected_in_turn() {
    let stack = stack();
    let source = unique("loop");
    let s3 = source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true"), ("s3-dr:source", "original")]).await;

    let run = stack.run_protect(json!({ "bucket": source })).await;
    run.assert_failed_with("SourceIsDestination");
    assert_eq!(versioning(&s3, &source).await, "Off");
}

#[tokio::test]
async fn malformed_input_fails_with_invalid_input() {
    let stack = stack();
    for input in [
        json!({"bucket": 42}),
        json!({"detail": {"eventSource": "ec2.amazonaws.com"}}),
        json!({"bucket": "no spaces allowed"}),
    ] {
        let run = stack.run_protect(input.clone()).await;
        run.assert_failed_with("InvalidInput");
        assert!(run.cause.as_deref().unwrap().contains("invalid input"), "{input}: {run:?}");
    }
}

/// Any JSON may start an execution. An array, a string, a number, null or a boolean is answered
/// by every workflow with InvalidInput from the Lambda, not a States.Runtime (moto) or
/// States.ResultPathMatchFailure (AWS) from a Catch that cannot add `$.error` to a non-object:
/// the first state wraps the input in an object.
#[tokio::test]
async fn every_workflow_answers_a_non_object_input_with_invalid_input() {
    let stack = stack();
    for workflow in ["protect", "detach", "sweep"] {
        for input in [json!([]), json!(["photos"]), json!("photos"), json!(42), json!(null), json!(true)] {
            let run = stack.run_workflow(workflow, input.clone()).await;
            run.assert_failed_with("InvalidInput");
            assert!(
                run.cause.as_deref().is_some_and(|c| c.contains("expected") || c.contains("JSON object")),
                "{workflow} {input}: {run:?}"
            );
            assert!(run.steps.len() <= 1, "{workflow} {input}: nothing after the first step: {run:?}");
        }
    }
}

#[tokio::test]
async fn a_missing_bucket_fails_with_a_named_error() {
    let run = stack().run_protect(json!({ "bucket": unique("never-created") })).await;
    run.assert_failed_with("SourceBucketNotFound");
}

fn cloudtrail_put_bucket_tagging(bucket: &str, tag: serde_json::Value) -> serde_json::Value {
    json!({
        "version": "0",
        "id": "6f2b6c0e-0d3c-4c2b-9d0a-6a7e2f0c1d55",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.s3",
        "account": ACCOUNT_ID,
        "time": "2026-11-26T04:00:00Z",
        "region": SOURCE_REGION,
        "resources": [],
        "detail": {
            "eventVersion": "1.09",
            "eventSource": "s3.amazonaws.com",
            "eventName": "PutBucketTagging",
            "awsRegion": SOURCE_REGION,
            "requestParameters": {
                "bucketName": bucket,
                "Host": format!("{bucket}.s3.{SOURCE_REGION}.amazonaws.com"),
                "tagging": "",
                "Tagging": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/", "TagSet": {"Tag": tag}}
            },
            "responseElements": null,
            "eventType": "AwsApiCall",
            "recipientAccountId": ACCOUNT_ID
        }
    })
}

#[tokio::test]
async fn a_foreign_replication_role_is_refused_before_any_change() {
    let stack = stack();
    let source = unique("other-role");
    let s3 = source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;
    enable_versioning(&s3, &source).await;
    let theirs = foreign_rule();
    let their_role = "arn:aws:iam::123456789012:role/analytics-replication";
    put_replication(&s3, &source, their_role, &theirs).await;

    let run = stack.run_protect(json!({ "bucket": source })).await;
    run.assert_failed_with("ReplicationConflict");
    assert!(run.cause.as_deref().unwrap().contains(their_role), "{run:?}");
    let replication = s3_dr::bucket::replication(&s3, &source).await.unwrap().unwrap();
    assert_eq!(
        (replication.role(), replication.rules()),
        (their_role, &[theirs][..]),
        "their configuration is untouched"
    );
    let dr = stack.s3(DR_REGION).await;
    let presence = s3_dr::bucket::presence(&dr, &format!("{source}-dr"), None).await.unwrap();
    assert_eq!(presence, s3_dr::bucket::Presence::Absent, "no destination was created");
}

#[tokio::test]
async fn an_existing_bucket_with_data_is_not_taken_over_as_destination() {
    let stack = stack();
    let source = unique("occupied");
    let s3 = source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;
    let dr = stack.s3(DR_REGION).await;
    let destination = format!("{source}-dr");
    create_bucket(&dr, &destination, DR_REGION).await;
    dr.put_object().bucket(&destination).key("someone-elses.csv").body(b"1,2".to_vec().into()).send().await.unwrap();

    let run = stack.run_protect(json!({ "bucket": source })).await;
    run.assert_failed_with("DestinationConflict");
    assert!(run.cause.as_deref().unwrap().contains("s3-dr:source="), "{run:?}");
    assert_eq!(versioning(&s3, &source).await, "Off", "refused before any change");
    assert_eq!(versioning(&dr, &destination).await, "Off");
    assert!(s3_dr::bucket::tags(&dr, &destination).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_empty_untagged_destination_is_adopted() {
    let stack = stack();
    let source = unique("adopt");
    source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;
    let dr = stack.s3(DR_REGION).await;
    let destination = format!("{source}-dr");
    create_bucket(&dr, &destination, DR_REGION).await;

    let run = stack.run_protect(json!({ "bucket": source })).await;
    run.assert_succeeded();
    assert_eq!(run.step("ValidateSource")["destination"]["exists"], true);
    assert_eq!(run.step("EnsureDestination")["created"], false);
    // Since 2023 S3 makes new buckets with Block Public Access on and SSE-S3 (LocalStack does;
    // moto does not), and then there is nothing to add for them.
    let defaults: &[&str] = if strict_s3() { &[] } else { &["publicAccessBlock", "encryption"] };
    assert_eq!(
        run.step("EnsureDestination")["changes"],
        json!([&["tags", "versioning"][..], defaults, &["lifecycle"]].concat())
    );
    let tags = s3_dr::bucket::tags(&dr, &destination).await.unwrap();
    assert!(tags.contains(&s3_dr::tags::Tag::new("s3-dr:source", &source)), "adopted: {tags:?}");
}

async fn put_replication(s3: &aws_sdk_s3::Client, bucket: &str, role: &str, rule: &ReplicationRule) {
    ensure_rule_destination(s3, rule).await;
    s3.put_bucket_replication()
        .bucket(bucket)
        .replication_configuration(ReplicationConfiguration::builder().role(role).rules(rule.clone()).build().unwrap())
        .send()
        .await
        .unwrap();
}

async fn enable_versioning(s3: &aws_sdk_s3::Client, bucket: &str) {
    set_versioning(s3, bucket, BucketVersioningStatus::Enabled).await;
}

/// us-east-1 as the DR region. CreateBucket there answers 200 for a bucket you own already
/// ("For legacy compatibility, if you re-create an existing bucket that you already own in the
/// North Virginia Region, Amazon S3 returns 200 OK", CreateBucket API reference), which moto
/// models. A bucket that appeared between ValidateSource and EnsureDestination, with someone's
/// data, must be refused there as BucketAlreadyOwnedByYou is elsewhere, not marked as ours.
#[tokio::test]
async fn in_us_east_1_a_200_from_create_bucket_is_vetted_like_an_existing_bucket() {
    let stack = stack();
    let kms = stack.kms("us-east-1").await;
    let key = kms.create_key().send().await.unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_owned();
    let alias = format!("alias/{}", unique("dr-east-1"));
    kms.create_alias().alias_name(&alias).target_key_id(key_id).send().await.unwrap();
    let lambda = InProcess::new(
        stack,
        &[("S3DR_DR_REGION", "us-east-1"), ("S3DR_DR_KMS_KEY", &alias), ("S3DR_BACKFILL", "copy")],
    )
    .await;
    let step = |step: Step, state: serde_json::Value| lambda.step("us-east-1", step, state);
    let east = stack.s3("us-east-1").await;

    // Someone else's data lands in the destination name after ValidateSource looked.
    let taken = unique("east-taken");
    source_bucket(stack, &taken, SOURCE_REGION, &[("dr", "true")]).await;
    let state = step(Step::ValidateSource, json!({ "bucket": taken })).await.unwrap();
    assert_eq!(state["ValidateSource"]["destination"]["exists"], false);
    let destination = format!("{taken}-dr");
    create_bucket(&east, &destination, "us-east-1").await;
    east.put_object().bucket(&destination).key("theirs.csv").body(b"1".to_vec().into()).send().await.unwrap();
    let error = step(Step::EnsureDestination, state).await.unwrap_err();
    assert_eq!(error.error_type(), "DestinationConflict", "{error}");
    assert!(s3_dr::bucket::tags(&east, &destination).await.unwrap().is_empty(), "not marked as ours");

    // A fresh name: created (200), found empty and untagged, marked as ours.
    let fresh = unique("east-fresh");
    source_bucket(stack, &fresh, SOURCE_REGION, &[("dr", "true")]).await;
    let state = step(Step::ValidateSource, json!({ "bucket": fresh })).await.unwrap();
    let state = step(Step::EnsureDestination, state).await.unwrap();
    assert_eq!(state["EnsureDestination"]["created"], true, "{state}");
    let tags = s3_dr::bucket::tags(&east, &format!("{fresh}-dr")).await.unwrap();
    assert!(tags.contains(&s3_dr::tags::Tag::new("s3-dr:source", &fresh)), "{tags:?}");
}
