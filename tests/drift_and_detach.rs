//! Protection kept true over time, through the real workflows: recorded CloudTrail events (as
//! EventBridge delivers them) for a deleted rule, suspended versioning and a removed tag; the
//! detach workflow; and two protect executions racing on one bucket.

mod common;

use aws_sdk_s3::types::BucketVersioningStatus;
use common::*;
use s3_dr::tags::Tag;
use serde_json::{json, Value};

async fn protected_bucket(stack: &Stack, prefix: &str) -> (String, aws_sdk_s3::Client) {
    let source = unique(prefix);
    let s3 = source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true"), ("team", "media")]).await;
    stack.run_protect(json!({ "bucket": source })).await.assert_succeeded();
    (source, s3)
}

fn our_rules(configuration: Option<&aws_sdk_s3::types::ReplicationConfiguration>) -> usize {
    configuration.map_or(0, |c| c.rules().iter().filter(|r| r.id() == Some("s3-dr")).count())
}

#[tokio::test]
async fn a_deleted_replication_configuration_is_put_back_by_its_event_and_what_was_written_meanwhile_is_copied() {
    let stack = stack();
    let (source, s3) = protected_bucket(stack, "drift-rule").await;
    s3.delete_bucket_replication().bucket(&source).send().await.unwrap();
    // Written while nothing replicated: on AWS these never reach the DR bucket by themselves.
    for key in ["meanwhile/1.txt", "meanwhile/2.txt"] {
        s3.put_object().bucket(&source).key(key).body(key.as_bytes().to_vec().into()).send().await.unwrap();
    }

    let run = stack.run_protect(cloudtrail_event("DeleteBucketReplication", &source)).await;
    run.assert_succeeded();
    assert_eq!(run.step("ValidateSource")["trigger"], "CloudTrail DeleteBucketReplication");
    assert_eq!(run.step("EnableReplication")["changed"], true);
    assert!(run.step("EnableReplication")["gap"].as_str().unwrap().contains("missing"), "{:?}", run.steps);
    assert_eq!(our_rules(s3_dr::bucket::replication(&s3, &source).await.unwrap().as_ref()), 1);
    // The destination was backfilled already, and still this run catches up.
    assert_eq!(run.step("StartBackfill")["scope"], "catchUp");
    let backfill = run.step("CheckBackfill");
    assert_eq!(
        (backfill["objectsCopied"].as_u64(), backfill["objectsSkipped"].as_u64()),
        (Some(2), Some(2)),
        "{backfill}"
    );
    let dr = stack.s3(DR_REGION).await;
    for key in ["meanwhile/1.txt", "meanwhile/2.txt"] {
        dr.head_object()
            .bucket(format!("{source}-dr"))
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key}: {e:?}"));
    }
    // Repaired: the next run has nothing to catch up.
    assert_no_backfill_and_no_write(&stack.run_protect(json!({ "bucket": source })).await);
}

#[tokio::test]
async fn s3_drs_own_calls_coming_back_as_events_start_nothing() {
    let stack = stack();
    // A tagged bucket not protected yet: a real event would protect it. The recorded
    // PutBucketReplication was made by the step Lambda's role (the local stack's
    // S3DR_STEP_ROLE_ARN): s3-dr's own echo, which would race the run that made it.
    let source = unique("echo");
    let s3 = source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;
    let run = stack.run_protect(cloudtrail_event("PutBucketReplication-by-s3-dr", &source)).await;
    run.assert_succeeded();
    let validated = run.step("ValidateSource");
    assert_eq!(validated["action"], "skip", "{validated}");
    assert!(validated["reason"].as_str().unwrap().contains("made by s3-dr itself"), "{validated}");
    assert_eq!(validated["awsCalls"], json!({}), "decided from the event alone: {validated}");
    assert_eq!(run.steps.len(), 1);
    assert_eq!(versioning(&s3, &source).await, "Off");
    // The same call made by a person is acted on.
    let by_person = stack.run_protect(cloudtrail_event("PutBucketReplication", &source)).await;
    by_person.assert_succeeded();
    assert_eq!(by_person.step("ValidateSource")["action"], "protect");
}

#[tokio::test]
async fn suspended_versioning_on_the_destination_is_repaired_through_its_source() {
    let stack = stack();
    let (source, _) = protected_bucket(stack, "drift-dest").await;
    let destination = format!("{source}-dr");
    let dr = stack.s3(DR_REGION).await;
    set_versioning(&dr, &destination, BucketVersioningStatus::Suspended).await;

    // The event is about the destination; the decision is its source's.
    let run = stack.run_protect(cloudtrail_event("PutBucketVersioning-suspended", &destination)).await;
    run.assert_succeeded();
    assert_eq!(run.step("ValidateSource")["bucket"], source.as_str());
    assert_eq!(run.step("EnsureDestination")["changes"], json!(["versioning"]));
    assert_eq!(versioning(&dr, &destination).await, "Enabled");
}

/// The DR region's forwarder sends a destination's `DeleteBucket*` events home: the question
/// goes to the source (by the destination's tag, or by its name once it is gone) and protect
/// repairs what was removed.
#[tokio::test]
async fn a_destination_that_lost_its_policy_or_was_deleted_is_repaired_through_its_source() {
    let stack = stack();
    let (source, _) = protected_bucket(stack, "dest-gone").await;
    let destination = format!("{source}-dr");
    let dr = stack.s3(DR_REGION).await;

    dr.delete_bucket_encryption().bucket(&destination).send().await.unwrap();
    let run = stack.run_protect(cloudtrail_event("DeleteBucketPolicy-destination", &source)).await;
    run.assert_succeeded();
    assert_eq!(run.step("ValidateSource")["bucket"], source.as_str());
    assert!(run.step("EnsureDestination")["changes"].to_string().contains("encryption"), "{:?}", run.steps);

    // Gone (emptied by its owner first, as S3 requires): its name leads back; it is made again.
    let versions = dr.list_object_versions().bucket(&destination).send().await.unwrap();
    let ids = versions.versions().iter().map(|v| (v.key(), v.version_id()));
    for (key, version) in ids.chain(versions.delete_markers().iter().map(|m| (m.key(), m.version_id()))) {
        dr.delete_object()
            .bucket(&destination)
            .set_key(key.map(str::to_owned))
            .set_version_id(version.map(str::to_owned))
            .send()
            .await
            .unwrap();
    }
    dr.delete_bucket().bucket(&destination).send().await.unwrap();
    let run = stack.run_protect(cloudtrail_event("DeleteBucket-destination", &source)).await;
    run.assert_succeeded();
    assert_eq!(run.step("ValidateSource")["bucket"], source.as_str());
    assert_eq!(versioning(&dr, &destination).await, "Enabled");
}

/// Tags set by CreateBucket or by the S3 Control TagResource/UntagResource (the only way once
/// ABAC is on for the bucket) protect and detach as PutBucketTagging does.
#[tokio::test]
async fn tags_set_by_create_bucket_or_s3_control_protect_and_detach() {
    let stack = stack();
    for event in ["CreateBucket-with-tags", "TagResource"] {
        let source = unique("abac");
        source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;
        let run = stack.run_protect(cloudtrail_event(event, &source)).await;
        run.assert_succeeded();
        assert_eq!(run.step("ValidateSource")["action"], "protect", "{event}: {:?}", run.steps);
        assert!(run.steps.iter().any(|(name, _)| name == "VerifyProtection"), "{event}: {:?}", run.steps);
    }
    let (source, s3) = protected_bucket(stack, "abac-untag").await;
    tag_bucket(&s3, &source, &[("team", "media")]).await;
    let run = stack.run_protect(cloudtrail_event("UntagResource", &source)).await;
    run.assert_succeeded();
    assert_eq!(run.step("ValidateSource")["action"], "detach");
}

#[tokio::test]
async fn suspended_versioning_on_the_source_is_repaired_and_enabling_it_is_ignored() {
    let stack = stack();
    let (source, s3) = protected_bucket(stack, "drift-src").await;
    set_versioning(&s3, &source, BucketVersioningStatus::Suspended).await;
    let run = stack.run_protect(cloudtrail_event("PutBucketVersioning-suspended", &source)).await;
    run.assert_succeeded();
    assert_eq!(run.step("EnableSourceVersioning")["changed"], true);
    assert_eq!(versioning(&s3, &source).await, "Enabled");

    let ignored = stack.run_protect(cloudtrail_event("PutBucketVersioning-enabled", &source)).await;
    ignored.assert_succeeded();
    assert_eq!(ignored.steps.len(), 1, "only ValidateSource ran: {:?}", ignored.steps);
    assert_eq!(ignored.step("ValidateSource")["action"], "skip");
}

#[tokio::test]
async fn events_s3_dr_does_not_act_on_are_ignored_without_error() {
    let stack = stack();
    let (source, _) = protected_bucket(stack, "ignored").await;
    let unmanaged = unique("unmanaged");
    source_bucket(stack, &unmanaged, SOURCE_REGION, &[("team", "media")]).await;
    for (event, bucket) in [
        ("PutBucketAcl", source.as_str()),
        ("TagResource-access-point", source.as_str()),
        ("DeleteBucketReplication-denied", source.as_str()),
        ("DeleteBucketReplication", unmanaged.as_str()),
        ("PutBucketTagging-untagged", unmanaged.as_str()),
        ("PutBucketVersioning-suspended", unmanaged.as_str()),
    ] {
        let run = stack.run_protect(cloudtrail_event(event, bucket)).await;
        run.assert_succeeded();
        let validated = run.step("ValidateSource");
        assert_eq!(validated["action"], "skip", "{event} on {bucket}: {validated}");
        assert!(validated["reason"].as_str().is_some_and(|r| !r.is_empty()), "{event}: {validated}");
        assert_eq!(run.steps.len(), 1, "{event} on {bucket} changed something: {:?}", run.steps);
    }
}

#[tokio::test]
async fn removing_the_tag_detaches_keeping_data_foreign_rules_and_versioning() {
    let stack = stack();
    let (source, s3) = protected_bucket(stack, "untag").await;
    let destination = format!("{source}-dr");
    let dr = stack.s3(DR_REGION).await;
    add_replication_rule(&s3, &source, &foreign_rule()).await;
    dr.put_object().bucket(&destination).key("replica.txt").body(b"r".to_vec().into()).send().await.unwrap();
    tag_bucket(&s3, &source, &[("team", "media")]).await;

    // The tagging event goes to the protect workflow, which hands over to detach.
    let run = stack.run_protect(cloudtrail_event("PutBucketTagging-untagged", &source)).await;
    run.assert_succeeded();
    assert_eq!(run.step("ValidateSource")["action"], "detach");
    let started = &run.step("StartDetach")["execution"]["started"];
    let detach_arn = started.as_str().unwrap_or_else(|| panic!("no detach execution: {:?}", run.steps));
    let detach = wait_execution(&stack.sfn().await, detach_arn).await;
    detach.assert_succeeded();
    assert_eq!(detach.step("DetachReplication")["result"], "removed rule");
    assert_eq!(detach.step("MarkDestinationDetached")["result"], "marked");

    // Our rule is gone, theirs is there byte for byte; versioning stays on.
    let replication = s3_dr::bucket::replication(&s3, &source).await.unwrap().expect("the foreign rule keeps it");
    assert_eq!(replication.rules(), [foreign_rule()]);
    assert_eq!(versioning(&s3, &source).await, "Enabled");
    assert_eq!(versioning(&dr, &destination).await, "Enabled");
    // The destination is marked, and keeps its tags.
    let tags = s3_dr::bucket::tags(&dr, &destination).await.unwrap();
    assert!(tags.contains(&Tag::new("s3-dr:status", "detached")), "{tags:?}");
    assert!(tags.contains(&Tag::new("s3-dr:source", &source)), "{tags:?}");
    assert!(tags.iter().any(|t| t.key == "s3-dr:detached-at" && t.value.len() == 10), "{tags:?}");
    // Every object is still in both buckets.
    for (client, bucket, keys) in
        [(&s3, &source, vec!["a.txt", "b/c.txt"]), (&dr, &destination, vec!["a.txt", "b/c.txt", "replica.txt"])]
    {
        let listed = client.list_objects_v2().bucket(bucket).send().await.unwrap();
        let found: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
        assert_eq!(found, keys, "{bucket}");
    }

    // Idempotent: run again, nothing changes (and the first date stays).
    let again = stack.run_workflow("detach", json!({ "bucket": source })).await;
    again.assert_succeeded();
    for (name, output) in &again.steps {
        assert_eq!(output["changed"], false, "{name}: {output}");
    }
    // DeleteBucketTagging on a bucket already detached: nothing of ours left on the source.
    let deleted = stack.run_protect(cloudtrail_event("DeleteBucketTagging", &source)).await;
    deleted.assert_succeeded();
    assert_eq!(deleted.step("ValidateSource")["action"], "skip");
}

#[tokio::test]
async fn detaching_the_only_rule_deletes_the_configuration_and_retagging_protects_again() {
    let stack = stack();
    let (source, s3) = protected_bucket(stack, "only-rule").await;
    s3.delete_bucket_tagging().bucket(&source).send().await.unwrap();
    let run = stack.run_protect(cloudtrail_event("DeleteBucketTagging", &source)).await;
    let detach_arn = run.step("StartDetach")["execution"]["started"].as_str().unwrap().to_owned();
    let detach = wait_execution(&stack.sfn().await, &detach_arn).await;
    detach.assert_succeeded();
    assert_eq!(detach.step("DetachReplication")["result"], "deleted configuration");
    assert!(s3_dr::bucket::replication(&s3, &source).await.unwrap().is_none());

    // Tagged again: protected again, and the destination loses its detached mark.
    tag_bucket(&s3, &source, &[("dr", "true")]).await;
    stack.run_protect(cloudtrail_event("PutBucketTagging", &source)).await.assert_succeeded();
    assert_eq!(our_rules(s3_dr::bucket::replication(&s3, &source).await.unwrap().as_ref()), 1);
    let tags = s3_dr::bucket::tags(&stack.s3(DR_REGION).await, &format!("{source}-dr")).await.unwrap();
    assert!(!tags.iter().any(|t| t.key == "s3-dr:status"), "{tags:?}");
}

#[tokio::test]
async fn two_protect_executions_at_once_end_with_one_rule() {
    let stack = stack();
    let source = unique("race");
    let s3 = source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;
    let (first, second) = tokio::join!(
        stack.run_protect(json!({ "bucket": source })),
        stack.run_protect(cloudtrail_event("PutBucketTagging", &source)),
    );
    // Both converge (a retry may be needed: S3 configuration writes are last-writer-wins).
    for run in [&first, &second] {
        run.assert_succeeded();
    }
    // And they did run at once: each started before the other stopped.
    assert!(
        first.span.0 < second.span.1 && second.span.0 < first.span.1,
        "the executions did not overlap: {:?} and {:?}",
        first.span,
        second.span
    );
    let replication = s3_dr::bucket::replication(&s3, &source).await.unwrap().unwrap();
    assert_eq!(replication.rules().len(), 1);
    assert_eq!(our_rules(Some(&replication)), 1);
    let status: Value = serde_json::to_value(
        s3_dr::status::inspect(&stack.clients().await, &protect_config("STANDARD"), &source).await.unwrap(),
    )
    .unwrap();
    assert_eq!(status["protected"], true, "{status}");
}
