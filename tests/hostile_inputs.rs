//! A corpus of hostile inputs through the real protect state machine (moto runs the ASL file,
//! the real Lambda binary runs the steps): wrong types at every level, missing fields,
//! oversized values, deep nesting, unicode and NUL in names, foreign event shapes and sources,
//! and CloudTrail records of calls that failed. Each input gets exactly the answer listed for
//! it, a named error or a no-op, and no bucket in the account changes: every bucket's region,
//! versioning, tags, replication, policy and object versions are the same after the corpus as
//! before it. The parsers behind it are property-tested in tests/properties.rs.

mod common;

use std::collections::BTreeMap;

use common::*;
use futures::StreamExt;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Answer {
    /// FAILED with this errorType (and a cause that says something).
    Error(&'static str),
    /// SUCCEEDED after ValidateSource alone: nothing was looked at twice, nothing written.
    NoOp,
}
use Answer::*;

fn nested(depth: usize) -> Value {
    (0..depth).fold(json!("media"), |inner, _| json!({ "bucket": inner }))
}

fn corpus(tagged: &str, untagged: &str, missing: &str) -> Vec<(&'static str, Value, Answer)> {
    let put_tagging = |bucket: &str| cloudtrail_event("PutBucketTagging", bucket);
    // Set (or add) the field at `pointer`.
    let with = |mut event: Value, pointer: &str, value: Value| {
        let (parent, field) = pointer.rsplit_once('/').expect("a pointer");
        event.pointer_mut(parent).and_then(Value::as_object_mut).expect("an object").insert(field.to_owned(), value);
        event
    };
    let without = |mut event: Value, parent: &str, field: &str| {
        event.pointer_mut(parent).and_then(Value::as_object_mut).expect("an object").remove(field);
        event
    };
    let many_tags: Vec<Value> = (0..60).map(|i| json!({"Key": format!("k{i}"), "Value": "v".repeat(256)})).collect();
    vec![
        // Wrong types at the top level.
        ("bucket is a number", json!({ "bucket": 42 }), Error("InvalidInput")),
        ("bucket is null", json!({ "bucket": null }), Error("InvalidInput")),
        ("bucket is a list", json!({ "bucket": [tagged] }), Error("InvalidInput")),
        ("bucket is an object", json!({ "bucket": { "name": tagged } }), Error("InvalidInput")),
        ("bucket is a boolean", json!({ "bucket": true }), Error("InvalidInput")),
        ("bucket is empty", json!({ "bucket": "" }), Error("InvalidInput")),
        ("not an object: a list", json!([{ "bucket": tagged }]), Error("InvalidInput")),
        ("not an object: a string", json!(tagged), Error("InvalidInput")),
        ("not an object: null", Value::Null, Error("InvalidInput")),
        // Missing fields.
        ("empty object", json!({}), Error("InvalidInput")),
        ("Bucket capitalised", json!({ "Bucket": tagged }), Error("InvalidInput")),
        ("envelope without detail", without(put_tagging(tagged), "", "detail"), Error("InvalidInput")),
        ("detail is a string", with(put_tagging(tagged), "/detail", json!("PutBucketTagging")), Error("InvalidInput")),
        ("detail is a list", with(put_tagging(tagged), "/detail", json!([])), Error("InvalidInput")),
        ("no eventSource", without(put_tagging(tagged), "/detail", "eventSource"), Error("InvalidInput")),
        ("eventSource a number", with(put_tagging(tagged), "/detail/eventSource", json!(5)), Error("InvalidInput")),
        ("no eventName", without(put_tagging(tagged), "/detail", "eventName"), Error("InvalidInput")),
        ("eventName a number", with(put_tagging(tagged), "/detail/eventName", json!(7)), Error("InvalidInput")),
        (
            "no requestParameters, no resources",
            with(without(put_tagging(tagged), "/detail", "requestParameters"), "/detail/resources", json!([])),
            Error("InvalidInput"),
        ),
        (
            "requestParameters a string",
            with(with(put_tagging(tagged), "/detail/requestParameters", json!("x")), "/detail/resources", json!(null)),
            Error("InvalidInput"),
        ),
        (
            "bucketName a number",
            with(
                with(put_tagging(tagged), "/detail/requestParameters/bucketName", json!(1)),
                "/detail/resources",
                json!({}),
            ),
            Error("InvalidInput"),
        ),
        (
            "resources ARN a number",
            with(
                without(put_tagging(tagged), "/detail", "requestParameters"),
                "/detail/resources",
                json!([{ "ARN": 3 }]),
            ),
            Error("InvalidInput"),
        ),
        // Oversized values.
        ("bucket name of 256 characters", json!({ "bucket": "a".repeat(256) }), Error("InvalidInput")),
        ("bucket name of 100 kB", json!({ "bucket": "b".repeat(100_000) }), Error("InvalidInput")),
        (
            "60 tags of 256 characters on an untagged bucket",
            with(
                cloudtrail_event("PutBucketTagging-untagged", untagged),
                "/detail/requestParameters/Tagging/TagSet/Tag",
                Value::Array(many_tags),
            ),
            NoOp,
        ),
        ("a list of 5,000 buckets", json!({ "bucket": vec![tagged; 5_000] }), Error("InvalidInput")),
        // Deep nesting, below and beyond serde_json's recursion limit (128).
        ("bucket nested 50 deep", nested(50), Error("InvalidInput")),
        ("bucket nested 300 deep", nested(300), Error("InvalidInput")),
        // Unicode and NUL in names.
        ("NUL in the name", json!({ "bucket": format!("{tagged}\u{0}") }), Error("InvalidInput")),
        ("umlaut", json!({ "bucket": "bücket-name" }), Error("InvalidInput")),
        ("CJK", json!({ "bucket": "名前のバケット" }), Error("InvalidInput")),
        ("right-to-left override", json!({ "bucket": format!("\u{202e}{tagged}") }), Error("InvalidInput")),
        ("emoji", json!({ "bucket": "bucket-🪣" }), Error("InvalidInput")),
        ("path traversal", json!({ "bucket": "../../etc/passwd" }), Error("InvalidInput")),
        ("an ARN for a name", json!({ "bucket": format!("arn:aws:s3:::{tagged}") }), Error("InvalidInput")),
        ("space in the name", json!({ "bucket": format!("{tagged} ") }), Error("InvalidInput")),
        (
            "unicode in the event's bucketName",
            with(put_tagging(tagged), "/detail/requestParameters/bucketName", json!("bücket")),
            Error("InvalidInput"),
        ),
        // Foreign event shapes and sources.
        (
            "an EC2 event",
            with(put_tagging(tagged), "/detail/eventSource", json!("ec2.amazonaws.com")),
            Error("InvalidInput"),
        ),
        (
            "a look-alike source",
            with(put_tagging(tagged), "/detail/eventSource", json!("s3.amazonaws.com.evil")),
            Error("InvalidInput"),
        ),
        (
            "an S3 EventBridge notification",
            json!({ "detail-type": "Object Created", "source": "aws.s3", "detail": { "bucket": { "name": tagged }, "object": { "key": "a.txt" } } }),
            Error("InvalidInput"),
        ),
        (
            "an S3 event notification",
            json!({ "Records": [{ "s3": { "bucket": { "name": tagged } } }] }),
            Error("InvalidInput"),
        ),
        (
            "an SNS envelope",
            json!({ "Type": "Notification", "Message": json!({ "bucket": tagged }).to_string() }),
            Error("InvalidInput"),
        ),
        ("an access point's tags", cloudtrail_event("TagResource-access-point", tagged), NoOp),
        // CloudTrail records calls that failed, and calls s3-dr does not act on.
        ("a denied DeleteBucketReplication", cloudtrail_event("DeleteBucketReplication-denied", tagged), NoOp),
        ("a denied PutBucketTagging", with(put_tagging(tagged), "/detail/errorCode", json!("AccessDenied")), NoOp),
        ("a PutBucketAcl", cloudtrail_event("PutBucketAcl", tagged), NoOp),
        ("versioning enabled, not suspended", cloudtrail_event("PutBucketVersioning-enabled", tagged), NoOp),
        ("s3-dr's own PutBucketReplication", cloudtrail_event("PutBucketReplication-by-s3-dr", tagged), NoOp),
        ("tags put on an unmanaged bucket", cloudtrail_event("PutBucketTagging-untagged", untagged), NoOp),
        ("an untagged bucket by name", json!({ "bucket": untagged }), NoOp),
        // Well-formed, about nothing that exists.
        ("a bucket that does not exist", json!({ "bucket": missing }), Error("SourceBucketNotFound")),
        ("an event about a deleted bucket", put_tagging(missing), NoOp),
    ]
}

/// Everything about every bucket in the account that a protect run could change.
async fn snapshot(stack: &Stack) -> BTreeMap<String, String> {
    let home = stack.s3(HOME_REGION).await;
    let listed = home.list_buckets().send().await.expect("list buckets");
    let mut all = BTreeMap::new();
    for bucket in listed.buckets() {
        let name = bucket.name().expect("a name").to_owned();
        let location = home.get_bucket_location().bucket(&name).send().await.expect("location");
        let region = location.location_constraint().map_or("us-east-1".to_owned(), |c| c.as_str().to_owned());
        let region = if region.is_empty() { "us-east-1".to_owned() } else { region };
        let s3 = stack.s3(&region).await;
        let versioning = s3.get_bucket_versioning().bucket(&name).send().await.expect("versioning");
        let tags = s3.get_bucket_tagging().bucket(&name).send().await.ok().map(|t| {
            let mut pairs: Vec<(String, String)> =
                t.tag_set().iter().map(|t| (t.key().into(), t.value().into())).collect();
            pairs.sort();
            pairs
        });
        let replication = s3
            .get_bucket_replication()
            .bucket(&name)
            .send()
            .await
            .ok()
            .map(|r| format!("{:?}", r.replication_configuration()));
        let policy = s3.get_bucket_policy().bucket(&name).send().await.ok().and_then(|p| p.policy().map(str::to_owned));
        let versions = s3.list_object_versions().bucket(&name).send().await.expect("versions");
        let objects: Vec<String> = versions
            .versions()
            .iter()
            .map(|v| format!("{:?} {:?} {:?} {:?}", v.key(), v.version_id(), v.e_tag(), v.is_latest()))
            .chain(versions.delete_markers().iter().map(|m| format!("marker {:?} {:?}", m.key(), m.version_id())))
            .collect();
        all.insert(
            name,
            format!(
                "region {region}\nversioning {:?}\ntags {tags:?}\nreplication {replication:?}\npolicy {policy:?}\nobjects {objects:?}",
                versioning.status()
            ),
        );
    }
    all
}

#[tokio::test]
async fn every_hostile_input_gets_a_named_error_or_a_no_op_and_changes_no_bucket() {
    let stack = stack();
    let tagged = unique("hostile-tagged");
    let untagged = unique("hostile-untagged");
    let protected = unique("hostile-protected");
    source_bucket(stack, &tagged, SOURCE_REGION, &[("dr", "true"), ("team", "media")]).await;
    let s3 = source_bucket(stack, &untagged, SOURCE_REGION, &[("team", "media")]).await;
    s3.put_bucket_policy()
        .bucket(&untagged)
        .policy(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket",
                "Resource": format!("arn:aws:s3:::{untagged}")}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    make_protected_bucket(stack, &protected, "STANDARD", &[("dr", "true")]).await;
    let corpus = corpus(&tagged, &untagged, &unique("hostile-missing"));
    assert!(corpus.len() >= 40, "the issue asks for at least 40 inputs; {}", corpus.len());

    let before = snapshot(stack).await;
    let sfn = stack.sfn().await;
    let runs: Vec<_> = futures::stream::iter(corpus.iter())
        .map(|(name, input, _)| {
            let sfn = &sfn;
            async move { (name, run_execution(sfn, &stack.state_machine_arn, input.clone()).await) }
        })
        .buffered(8)
        .collect()
        .await;
    let after = snapshot(stack).await;

    let mut wrong = Vec::new();
    for ((name, run), (_, input, expected)) in runs.iter().zip(&corpus) {
        let got = match run.status {
            aws_sdk_sfn::types::ExecutionStatus::Succeeded => NoOp,
            _ => Error(
                s3_dr::DrError::ALL_ERROR_TYPES
                    .iter()
                    .copied()
                    .find(|e| run.error.as_deref() == Some(*e))
                    .unwrap_or("not a named error"),
            ),
        };
        let steps: Vec<&str> = run.steps.iter().map(|(n, _)| n.as_str()).collect();
        let cause = run.cause.as_deref().unwrap_or_default();
        let well_formed = match got {
            NoOp => steps == ["ValidateSource"] && run.step("ValidateSource")["action"] != "protect",
            // A clear message: says something, and does not echo a 100 kB input back.
            Error(_) => !cause.is_empty() && cause.len() < 2_000 && steps.is_empty(),
        };
        if got != *expected || !well_formed {
            let shown: String = input.to_string().chars().take(120).collect();
            wrong.push(format!(
                "{name} ({shown}): expected {expected:?}, got {got:?} {:?} with steps {steps:?}, cause {}",
                run.error,
                cause.chars().take(300).collect::<String>()
            ));
        }
    }
    assert!(wrong.is_empty(), "{} of {} inputs answered wrongly:\n{}", wrong.len(), corpus.len(), wrong.join("\n"));
    assert_eq!(before.len(), after.len(), "no bucket created or deleted");
    for (bucket, state) in &before {
        assert_eq!(Some(state), after.get(bucket), "bucket {bucket} changed");
    }
    println!(
        "{} hostile inputs: each got its named error or a no-op; {} buckets unchanged",
        corpus.len(),
        before.len()
    );
}
