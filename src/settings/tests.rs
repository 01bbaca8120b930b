use super::*;
type TestResult = Result<(), Box<dyn std::error::Error>>;
use serde_json::json;

#[test]
fn tags_beyond_s3s_limit_are_dropped_and_named_leaving_room_for_s3_drs_own() -> TestResult {
    // 50 source tags, the trigger among them: 49 user tags, and s3-dr needs up to 7 slots.
    let mut source: Vec<Tag> = (0..49).map(|i| Tag::new(format!("k{i:02}"), "v")).collect();
    source.push(Tag::new("dr", "true"));
    let current = [Tag::new("s3-dr:backfill", "copy 2026-11-26"), Tag::new("s3-dr:not-replicable", "3")];
    let (tags, dropped) =
        destination_tags(&source, &current, &MatchTag::parse("dr=true").ok_or("match tag")?, "photos");
    assert!(tags.len() + (RESERVED_TAGS - 3) <= MAX_BUCKET_TAGS, "{}", tags.len());
    assert_eq!(RESERVED_TAGS, 7);
    assert_eq!(tags.len(), 43 + 3);
    assert_eq!(dropped, vec!["k43", "k44", "k45", "k46", "k47", "k48"]);
    assert!(tags.contains(&Tag::new("s3-dr:source", "photos")) && tags.contains(&current[1]));
    // Fewer tags: nothing dropped.
    let (_, dropped) = destination_tags(&source[..10], &[], &MatchTag::parse("dr=true").ok_or("match tag")?, "p");
    assert!(dropped.is_empty());
    Ok(())
}

#[test]
fn public_statements_are_the_ones_s3_would_block() {
    let allow = |principal: Value, condition: Value| json!({"Effect": "Allow", "Principal": principal, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::p/*", "Condition": condition});
    let public = [
        allow(json!("*"), json!(null)),
        allow(json!({"AWS": "*"}), json!(null)),
        allow(json!({"AWS": ["arn:aws:iam::111122223333:root", "*"]}), json!(null)),
        allow(json!("*"), json!({"IpAddress": {"aws:SourceIp": "0.0.0.0/1"}})),
        allow(json!("*"), json!({"StringLike": {"aws:SourceArn": "arn:aws:cloudfront::*"}})),
        allow(json!("*"), json!({"StringNotEquals": {"aws:SourceAccount": "111122223333"}})),
        allow(json!("*"), json!({"StringEqualsIfExists": {"aws:SourceAccount": "111122223333"}})),
        allow(json!("*"), json!({"StringEquals": {"aws:Referer": "example.com"}})),
        allow(json!("*"), json!({"StringEquals": {"aws:PrincipalOrgID": "${aws:PrincipalTag/org}"}})),
        json!({"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "s3:*"}),
    ];
    for statement in &public {
        assert!(is_public_statement(statement), "{statement}");
    }
    let not_public = [
        allow(json!({"AWS": "arn:aws:iam::111122223333:root"}), json!(null)),
        allow(json!({"Service": "cloudfront.amazonaws.com"}), json!(null)),
        allow(
            json!("*"),
            json!({"StringEquals": {"aws:SourceArn": "arn:aws:cloudfront::111122223333:distribution/E1"}}),
        ),
        allow(json!("*"), json!({"IpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.7"]}})),
        allow(json!("*"), json!({"ForAnyValue:StringEquals": {"aws:PrincipalOrgID": ["o-abc123"]}})),
        allow(json!("*"), json!({"StringEquals": {"AWS:SourceVpce": "vpce-1a2b3c4d"}})),
        json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}),
    ];
    for statement in &not_public {
        assert!(!is_public_statement(statement), "{statement}");
    }
}

#[test]
fn public_statements_are_dropped_from_the_clone_and_named() {
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::p-dr/*"},
        {"Sid": "App", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/app"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::p-dr/*"},
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::p-dr"}
    ]});
    let (kept, dropped) = without_public_statements(&policy);
    assert_eq!(dropped, vec!["Sid PublicRead", "statement 3"]);
    let kept = kept.unwrap_or_default();
    assert_eq!(kept["Statement"].as_array().map(Vec::len), Some(1));
    assert_eq!(kept["Statement"][0]["Sid"], "App");
    assert_eq!(kept["Version"], "2012-10-17");
    let only_public = json!({"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}});
    assert_eq!(without_public_statements(&only_public), (None, vec!["statement 1".to_owned()]));
    let (same, none) = without_public_statements(&kept);
    assert_eq!((same, none.len()), (Some(kept.clone()), 0));
}

#[test]
fn destination_tags_drop_the_trigger_and_reserved_tags() -> TestResult {
    let source = vec![
        Tag::new("team", "media"),
        Tag::new("DR", "TRUE"),
        Tag::new("aws:cloudformation:stack-name", "x"),
        Tag::new("cost-center", "42"),
        Tag::new("s3-dr:status", "detached"),
    ];
    let current = [Tag::new("s3-dr:backfill", "copy 2026-11-26"), Tag::new("old", "x")];
    let (tags, _) = destination_tags(&source, &current, &MatchTag::parse("dr=true").ok_or("match tag")?, "photos");
    assert_eq!(
        tags,
        vec![
            Tag::new("cost-center", "42"),
            Tag::new("s3-dr:backfill", "copy 2026-11-26"),
            Tag::new("s3-dr:source", "photos"),
            Tag::new("team", "media")
        ]
    );
    Ok(())
}

#[test]
fn a_trigger_with_another_value_is_dropped_too() -> TestResult {
    // dr=false on the source must not turn into dr=false on the destination either: the key
    // is what the trigger rules look at.
    let (tags, _) =
        destination_tags(&[Tag::new("dr", "false")], &[], &MatchTag::parse("dr=true").ok_or("match tag")?, "p");
    assert_eq!(tags, vec![Tag::new("s3-dr:source", "p")]);
    Ok(())
}

#[test]
fn policy_arns_of_the_source_are_rewritten_and_others_kept() -> TestResult {
    let policy = json!({
        "Version": "2012-10-17",
        "Id": "keep",
        "Statement": [
            {
                "Sid": "ReadForApp",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:role/app"},
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": ["arn:aws:s3:::photos", "arn:aws:s3:::photos/*", "arn:aws:s3:::photos-logs/*"],
                "Condition": {"StringEquals": {"aws:SourceArn": "arn:aws:s3:::photos"}}
            },
            {
                "Sid": "Other",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::videos/*"
            },
            {
                "Sid": "Not",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                "Action": "s3:*",
                "NotResource": "arn:aws-cn:s3:::photos/private/*"
            }
        ]
    });
    let rewritten = rewrite_policy(&policy.to_string(), "photos", "photos-dr")?;
    let statements = rewritten["Statement"].as_array().ok_or("no Statement list")?;
    assert_eq!(
        statements[0]["Resource"],
        json!(["arn:aws:s3:::photos-dr", "arn:aws:s3:::photos-dr/*", "arn:aws:s3:::photos-logs/*"])
    );
    // Conditions, principals, Sids and statements about other buckets are untouched.
    assert_eq!(statements[0]["Condition"], policy["Statement"][0]["Condition"]);
    assert_eq!(statements[0]["Principal"], policy["Statement"][0]["Principal"]);
    assert_eq!(statements[1], policy["Statement"][1]);
    assert_eq!(statements[2]["NotResource"], "arn:aws-cn:s3:::photos-dr/private/*");
    assert_eq!(rewritten["Id"], "keep");
    Ok(())
}

#[test]
fn a_single_statement_object_is_rewritten_too() -> TestResult {
    let policy = r#"{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*"}}"#;
    let rewritten = rewrite_policy(policy, "photos", "photos-dr")?;
    assert_eq!(rewritten["Statement"]["Resource"], "arn:aws:s3:::photos-dr/*");
    Ok(())
}

#[test]
fn unusable_policies_are_a_named_error() {
    for policy in ["{not json", "[]", r#"{"Statement": 3}"#, r#"{"Statement": [{"Resource": 3}]}"#] {
        let error = rewrite_policy(policy, "photos", "photos-dr").unwrap_err();
        assert_eq!(error.error_type(), "InvalidSourcePolicy", "{policy}");
        assert!(error.to_string().contains("photos"), "{error}");
    }
}

#[test]
fn public_access_is_never_weaker_than_all_on_by_default() -> TestResult {
    let open = PublicAccessBlockConfiguration::builder().block_public_acls(false).build();
    let desired = desired_public_access_block(PublicAccess::BlockAll, Some(&open)).ok_or("no block")?;
    assert!(same_public_access_block(&desired, &block_all()));
    let desired = desired_public_access_block(PublicAccess::SameAsSource, Some(&open)).ok_or("no block")?;
    assert!(same_public_access_block(&desired, &PublicAccessBlockConfiguration::builder().build()));
    assert_eq!(desired_public_access_block(PublicAccess::SameAsSource, None), None);
    Ok(())
}

#[test]
fn the_abort_uploads_rule_is_upserted_next_to_the_others() -> TestResult {
    let theirs = LifecycleRule::builder()
        .id("expire-tmp")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("tmp/").build())
        .build()?;
    let merged = with_abort_uploads_rule(std::slice::from_ref(&theirs))?;
    assert_eq!(merged, vec![theirs.clone(), abort_uploads_rule()?]);
    // Idempotent, and a drifted copy of ours is replaced.
    assert_eq!(with_abort_uploads_rule(&merged)?, merged);
    let mut drifted = abort_uploads_rule()?;
    drifted.status = ExpirationStatus::Disabled;
    assert_eq!(with_abort_uploads_rule(&[drifted, theirs.clone()])?, vec![theirs.clone(), abort_uploads_rule()?]);
    let ours = abort_uploads_rule()?;
    assert_eq!(ours.abort_incomplete_multipart_upload().and_then(|a| a.days_after_initiation()), Some(7));
    // However S3 renders the whole-bucket filter, and in whatever order, it is the same.
    let mut as_prefix = ours.clone();
    as_prefix.filter = Some(LifecycleRuleFilter::builder().prefix("").build());
    assert!(same_lifecycle_rules(&[theirs.clone(), ours.clone()], &[as_prefix, theirs.clone()]));
    assert!(!same_lifecycle_rules(std::slice::from_ref(&ours), &[ours.clone(), theirs]));
    assert_eq!(ours.filter(), Some(&LifecycleRuleFilter::builder().build()), "the whole bucket");
    Ok(())
}

#[test]
fn encryption_maps_kms_to_the_dr_key() {
    let key = "arn:aws:kms:us-east-2:123456789012:key/dr";
    let kms = DefaultEncryption {
        algorithm: "aws:kms".into(),
        kms_key: Some("arn:aws:kms:us-west-2:123456789012:key/src".into()),
        bucket_key: true,
    };
    let desired = desired_encryption(Some(&kms), Some(key));
    assert_eq!(
        (desired.algorithm.as_str(), desired.kms_key.as_deref(), desired.bucket_key),
        ("aws:kms", Some(key), true)
    );
    let sse_s3 = DefaultEncryption { algorithm: "AES256".into(), kms_key: None, bucket_key: false };
    assert_eq!(desired_encryption(Some(&sse_s3), Some(key)), sse_s3);
    assert_eq!(desired_encryption(None, None), sse_s3);
    assert!(same_encryption(&DefaultEncryption { bucket_key: true, ..sse_s3.clone() }, &sse_s3));
    assert!(!same_encryption(&kms, &desired));
}
