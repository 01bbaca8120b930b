//! CloneSettings through the real workflow: the settings replication ignores arrive on the
//! destination (rewritten where they name the source), the trigger tag does not, a second run
//! writes nothing, and a change on the source is carried over by the next run.

mod common;

use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, CorsConfiguration, CorsRule, DefaultRetention, ExpirationStatus, IndexDocument,
    LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, NoncurrentVersionExpiration, ObjectLockConfiguration,
    ObjectLockEnabled, ObjectLockRetentionMode, ObjectLockRule, ObjectOwnership, OwnershipControls,
    OwnershipControlsRule, WebsiteConfiguration,
};
use common::*;
use s3_dr::tags::Tag;
use serde_json::{json, Value};

fn settings_stack() -> &'static Stack {
    stack()
}

fn lifecycle(days: i32) -> BucketLifecycleConfiguration {
    let rule = LifecycleRule::builder()
        .id("expire-tmp")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("tmp/").build())
        .expiration(LifecycleExpiration::builder().days(days).build())
        .noncurrent_version_expiration(NoncurrentVersionExpiration::builder().noncurrent_days(30).build())
        .build()
        .unwrap();
    BucketLifecycleConfiguration::builder().rules(rule).build().unwrap()
}

fn allow_policy(bucket: &str) -> Value {
    // An Allow policy: moto enforces Deny statements and ignores their conditions.
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AppReads",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT_ID}:root")},
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
                "Condition": {"StringEquals": {"aws:PrincipalAccount": ACCOUNT_ID}}
            },
            {
                "Sid": "SomeoneElsesBucket",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT_ID}:root")},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::shared-assets/*"
            }
        ]
    })
}

#[tokio::test]
async fn settings_are_cloned_rewritten_kept_in_step_and_written_once() {
    let stack = settings_stack();
    let dr_key = dr_key_arn(stack).await;
    let source = unique("settings");
    let destination = format!("{source}-dr");
    let s3 =
        source_bucket(stack, &source, SOURCE_REGION, &[("team", "media"), ("dr", "true"), ("cost-center", "42")]).await;
    s3.put_bucket_lifecycle_configuration().bucket(&source).lifecycle_configuration(lifecycle(7)).send().await.unwrap();
    let cors = CorsRule::builder()
        .allowed_methods("GET")
        .allowed_origins("https://example.com")
        .max_age_seconds(300)
        .build()
        .unwrap();
    s3.put_bucket_cors()
        .bucket(&source)
        .cors_configuration(CorsConfiguration::builder().cors_rules(cors).build().unwrap())
        .send()
        .await
        .unwrap();
    s3.put_bucket_policy().bucket(&source).policy(allow_policy(&source).to_string()).send().await.unwrap();
    let ownership = OwnershipControls::builder()
        .rules(
            OwnershipControlsRule::builder().object_ownership(ObjectOwnership::BucketOwnerPreferred).build().unwrap(),
        )
        .build()
        .unwrap();
    s3.put_bucket_ownership_controls().bucket(&source).ownership_controls(ownership.clone()).send().await.unwrap();
    let website = WebsiteConfiguration::builder()
        .index_document(IndexDocument::builder().suffix("index.html").build().unwrap())
        .build();
    s3.put_bucket_website().bucket(&source).website_configuration(website).send().await.unwrap();
    let source_key = stack.kms(SOURCE_REGION).await.create_key().send().await.unwrap();
    put_kms_default_encryption(&s3, &source, source_key.key_metadata().unwrap().arn().unwrap()).await;

    let run = stack.run_protect(json!({ "bucket": source })).await;
    run.assert_succeeded();
    let report = run.step("CloneSettings");
    let status = |setting: &str| -> String {
        let entries = report["settings"].as_array().unwrap();
        let entry = entries.iter().find(|s| s["setting"] == setting).unwrap_or_else(|| panic!("{setting}: {report}"));
        entry["status"].as_str().unwrap().to_owned()
    };
    for setting in ["tags", "lifecycle", "cors", "website", "ownershipControls", "policy"] {
        assert_eq!(status(setting), "copied", "{setting}: {report}");
    }
    assert_eq!(status("objectLock"), "skipped");
    for setting in ["notifications", "logging", "inventory", "analytics", "metrics", "intelligentTiering"] {
        assert_eq!(status(setting), "skipped", "{setting}");
    }
    assert_eq!(report["failed"], 0);

    let dr = stack.s3(DR_REGION).await;
    // Tags: the user's, plus our markers (source, backfill done); never the trigger tag.
    let tags = s3_dr::settings::sorted(s3_dr::bucket::tags(&dr, &destination).await.unwrap());
    let backfilled = format!("copy {}", s3_dr::clock::today());
    assert_eq!(
        tags,
        vec![
            Tag::new("cost-center", "42"),
            Tag::new("s3-dr:backfill", &backfilled),
            Tag::new("s3-dr:source", &source),
            Tag::new("team", "media")
        ]
    );
    // Lifecycle: the source's rules, next to s3-dr's own rule that aborts abandoned uploads.
    let source_lifecycle = s3_dr::bucket::lifecycle(&s3, &source).await.unwrap().unwrap();
    let cloned = s3_dr::bucket::lifecycle(&dr, &destination).await.unwrap().unwrap();
    assert_eq!(cloned.rules, s3_dr::settings::with_abort_uploads_rule(&source_lifecycle.rules).unwrap());
    assert_eq!(source_lifecycle.rules[0].expiration().and_then(|e| e.days()), Some(7));
    // CORS, website, ownership: as on the source.
    assert_eq!(s3_dr::bucket::cors(&dr, &destination).await.unwrap(), s3_dr::bucket::cors(&s3, &source).await.unwrap());
    let cloned_website = s3_dr::bucket::website(&dr, &destination).await.unwrap().unwrap();
    assert_eq!(cloned_website.index_document().map(|d| d.suffix()), Some("index.html"));
    assert_eq!(s3_dr::bucket::ownership_controls(&dr, &destination).await.unwrap(), Some(ownership));
    // Policy: the source's ARNs now name the destination; the rest is as it was.
    let policy: Value =
        serde_json::from_str(&s3_dr::bucket::policy(&dr, &destination).await.unwrap().unwrap()).unwrap();
    let mut expected = allow_policy(&destination);
    expected["Statement"][1] = allow_policy(&source)["Statement"][1].clone();
    assert_eq!(policy, expected);
    // Encryption: SSE-KMS with the DR key, and the existing objects copied with it.
    let encryption = s3_dr::bucket::default_encryption(&dr, &destination).await.unwrap().unwrap();
    assert_eq!((encryption.algorithm.as_str(), encryption.kms_key.as_deref()), ("aws:kms", Some(dr_key.as_str())));
    assert_eq!(run.step("CheckBackfill")["objectsCopied"], 2);
    let copy = dr.head_object().bucket(&destination).key("a.txt").send().await.unwrap();
    assert_eq!(copy.ssekms_key_id(), Some(dr_key.as_str()));

    // A second run writes nothing at all.
    let again = stack.run_protect(json!({ "bucket": source })).await;
    again.assert_succeeded();
    for (name, output) in &again.steps {
        assert_eq!(output["changed"], false, "{name} changed something on the second run: {output}");
    }
    let writes: Vec<String> = again
        .steps
        .iter()
        .flat_map(|(_, output)| output["awsCalls"].as_object().unwrap().keys().cloned().collect::<Vec<_>>())
        .filter(|call| !call.contains(":Get") && !call.contains(":List") && !call.contains(":Head"))
        .filter(|call| call != "kms:DescribeKey")
        .collect();
    assert_eq!(writes, Vec::<String>::new());

    // A change on the source travels with the next run, and only that change is written.
    s3.put_bucket_lifecycle_configuration()
        .bucket(&source)
        .lifecycle_configuration(lifecycle(14))
        .send()
        .await
        .unwrap();
    s3.delete_bucket_cors().bucket(&source).send().await.unwrap();
    let resync = stack.run_protect(json!({ "bucket": source })).await;
    resync.assert_succeeded();
    assert_eq!(resync.step("CloneSettings")["changes"], json!(["lifecycle", "cors"]));
    let cloned = s3_dr::bucket::lifecycle(&dr, &destination).await.unwrap().unwrap();
    assert_eq!(cloned.rules[0].expiration().and_then(|e| e.days()), Some(14));
    assert_eq!(s3_dr::bucket::cors(&dr, &destination).await.unwrap(), None);
}

#[tokio::test]
async fn an_object_lock_source_gets_an_object_lock_destination_with_its_default_retention() {
    let stack = settings_stack();
    let source = unique("locked");
    let destination = format!("{source}-dr");
    let s3 = stack.s3(SOURCE_REGION).await;
    create_locked_bucket(&s3, &source, SOURCE_REGION).await;
    let retention = ObjectLockConfiguration::builder()
        .object_lock_enabled(ObjectLockEnabled::Enabled)
        .rule(
            ObjectLockRule::builder()
                .default_retention(
                    DefaultRetention::builder().mode(ObjectLockRetentionMode::Governance).days(3).build(),
                )
                .build(),
        )
        .build();
    s3.put_object_lock_configuration().bucket(&source).object_lock_configuration(retention).send().await.unwrap();
    tag_bucket(&s3, &source, &[("dr", "true")]).await;

    let run = stack.run_protect(json!({ "bucket": source })).await;
    run.assert_succeeded();
    assert_eq!(run.step("ValidateSource")["objectLock"], true);
    assert_eq!(run.step("EnsureDestination")["created"], true);

    let dr = stack.s3(DR_REGION).await;
    let lock = s3_dr::bucket::object_lock(&dr, &destination).await.unwrap().expect("Object Lock on the destination");
    assert_eq!(lock.object_lock_enabled(), Some(&ObjectLockEnabled::Enabled));
    let default = lock.rule().and_then(|r| r.default_retention()).expect("default retention cloned");
    assert_eq!((default.mode(), default.days()), (Some(&ObjectLockRetentionMode::Governance), Some(3)));

    let again = stack.run_protect(json!({ "bucket": source })).await;
    again.assert_succeeded();
    assert_eq!(again.step("CloneSettings")["changed"], false);
}

#[tokio::test]
async fn a_setting_that_cannot_be_cloned_fails_the_run_by_name_after_the_data_is_safe() {
    let stack = settings_stack();
    let source = unique("badpolicy");
    let s3 = source_bucket(stack, &source, SOURCE_REGION, &[("dr", "true")]).await;
    // moto stores a policy AWS would have refused: the one way to get an unusable policy here.
    // (Valid JSON: moto evaluates a bucket's policy on object reads, and crashes on text that
    // is not; this statement concerns no action the workflow makes.)
    let broken = json!({"Version": "2012-10-17", "Statement": [{"Sid": "Broken", "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT_ID}:root")}, "Action": "s3:PutBucketTagging", "Resource": 3}]});
    s3.put_bucket_policy().bucket(&source).policy(broken.to_string()).send().await.unwrap();

    let run = stack.run_protect(json!({ "bucket": source })).await;
    run.assert_failed_with("SettingsNotCloned");
    let cause = run.cause.as_deref().unwrap();
    assert!(cause.contains("policy (InvalidSourcePolicy"), "{cause}");
    assert!(cause.contains(&source), "{cause}");
    // Everything else happened: replication is on and the objects were copied.
    let names: Vec<&str> = run.steps.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"CheckBackfill"), "{names:?}");
    assert!(s3_dr::bucket::replication(&s3, &source).await.unwrap().is_some());
}

#[tokio::test]
async fn what_s3_would_refuse_on_the_destination_is_left_out_and_named_never_a_failure() {
    let stack = settings_stack();
    let source = unique("limits");
    let destination = format!("{source}-dr");
    // 50 tags, S3's limit, the trigger among them: with s3-dr's own tags the destination would
    // need up to 54 (moto accepts more; AWS refuses the PutBucketTagging).
    let mut tags: Vec<(String, String)> = (0..49).map(|i| (format!("k{i:02}"), "v".to_owned())).collect();
    tags.push(("dr".to_owned(), "true".to_owned()));
    let tag_refs: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let s3 = source_bucket(stack, &source, SOURCE_REGION, &tag_refs).await;
    // A policy with a public statement: the destination blocks public access (block-all), and
    // AWS refuses a public policy there with AccessDenied (moto accepts it).
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": format!("arn:aws:s3:::{source}/public/*")},
        {"Sid": "AppReads", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT_ID}:root")},
         "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{source}/*")}
    ]});
    s3.put_bucket_policy().bucket(&source).policy(policy.to_string()).send().await.unwrap();

    let run = stack.run_protect(json!({ "bucket": source })).await;
    run.assert_succeeded();
    let report = run.step("CloneSettings");
    let entry = |setting: &str| {
        report["settings"].as_array().unwrap().iter().find(|s| s["setting"] == setting).unwrap().clone()
    };
    let tags_report = entry("tags");
    assert_eq!(tags_report["status"], "copied");
    assert!(
        tags_report["detail"].as_str().unwrap().contains("6 user tags left out")
            && tags_report["detail"].as_str().unwrap().contains("k48"),
        "{tags_report}"
    );
    let policy_report = entry("policy");
    assert_eq!(policy_report["status"], "copied");
    assert!(policy_report["detail"].as_str().unwrap().contains("Sid PublicRead"), "{policy_report}");

    let dr = stack.s3(DR_REGION).await;
    let cloned_tags = s3_dr::bucket::tags(&dr, &destination).await.unwrap();
    assert!(cloned_tags.len() <= 50, "{}", cloned_tags.len());
    assert!(cloned_tags.contains(&Tag::new("s3-dr:source", &source)) && cloned_tags.contains(&Tag::new("k42", "v")));
    assert!(!cloned_tags.contains(&Tag::new("k43", "v")));
    assert!(cloned_tags.iter().any(|t| t.key == "s3-dr:backfill"));
    let cloned: Value =
        serde_json::from_str(&s3_dr::bucket::policy(&dr, &destination).await.unwrap().unwrap()).unwrap();
    let sids: Vec<&str> = cloned["Statement"].as_array().unwrap().iter().map(|s| s["Sid"].as_str().unwrap()).collect();
    assert_eq!(sids, ["AppReads"]);
    // The block stays on.
    let block = s3_dr::bucket::public_access_block(&dr, &destination).await.unwrap().unwrap();
    assert_eq!(block.block_public_policy(), Some(true));

    // Stable: the next run writes nothing and names the same.
    let again = stack.run_protect(json!({ "bucket": source })).await;
    assert_no_backfill_and_no_write(&again);
    assert!(again.step("CloneSettings")["settings"].to_string().contains("Sid PublicRead"));
}
