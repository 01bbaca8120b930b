//! What each bucket setting that replication does not carry should be on the destination,
//! given the source's. Pure functions; `steps::clone_settings` does the reading and writing.

use aws_sdk_s3::types::PublicAccessBlockConfiguration;
use serde_json::Value;

use crate::bucket::DefaultEncryption;
use crate::config::PublicAccess;
use crate::error::DrError;
use crate::tags::{MatchTag, Tag, SOURCE_TAG};

/// Marker CheckBackfill leaves on the destination when the backfill is complete
/// (`<strategy> <date>`); the destination's own, so cloning keeps it.
pub const BACKFILL_TAG: &str = "s3-dr:backfill";

/// The destination's tags: the source's user tags, without the trigger tag (it would make the
/// destination a protected source in turn), without `aws:*` tags (reserved, S3 refuses them)
/// and without s3-dr's own markers, plus `s3-dr:source=<source>` and the destination's
/// backfill marker if it has one. Sorted by key, so that two tag sets compare equal whatever
/// order S3 returns them in.
pub fn destination_tags(
    source_tags: &[Tag],
    destination_tags: &[Tag],
    match_tag: &MatchTag,
    source_bucket: &str,
) -> Vec<Tag> {
    let mut tags: Vec<Tag> = source_tags
        .iter()
        .filter(|t| !t.key.trim().eq_ignore_ascii_case(&match_tag.key))
        .filter(|t| !t.key.starts_with("aws:") && !t.key.starts_with("s3-dr:"))
        .cloned()
        .collect();
    tags.push(Tag::new(SOURCE_TAG, source_bucket));
    tags.extend(destination_tags.iter().filter(|t| t.key == BACKFILL_TAG).cloned());
    sorted(tags)
}

pub fn sorted(mut tags: Vec<Tag>) -> Vec<Tag> {
    tags.sort_by(|a, b| a.key.cmp(&b.key));
    tags
}

/// The source's bucket policy with every ARN of the source bucket, or of objects in it, in
/// `Resource` and `NotResource` rewritten to the destination. Statements about other buckets,
/// `Sid`s, principals and conditions are kept as they are.
pub fn rewrite_policy(policy: &str, source: &str, destination: &str) -> Result<Value, DrError> {
    let invalid = |detail: String| DrError::InvalidSourcePolicy { bucket: source.to_owned(), detail };
    let mut document: Value =
        serde_json::from_str(policy).map_err(|e| invalid(format!("the policy is not valid JSON ({e})")))?;
    let statements = match document.get_mut("Statement") {
        Some(Value::Array(list)) => list.iter_mut().collect::<Vec<_>>(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => return Err(invalid("the policy has no Statement list".to_owned())),
    };
    for statement in statements {
        let Some(fields) = statement.as_object_mut() else {
            return Err(invalid("a Statement is not a JSON object".to_owned()));
        };
        for element in ["Resource", "NotResource"] {
            match fields.get_mut(element) {
                None => {}
                Some(Value::String(arn)) => *arn = rewrite_arn(arn, source, destination),
                Some(Value::Array(arns)) => {
                    for arn in arns.iter_mut() {
                        match arn {
                            Value::String(text) => *text = rewrite_arn(text, source, destination),
                            _ => return Err(invalid(format!("{element} holds a value that is not a string"))),
                        }
                    }
                }
                Some(_) => return Err(invalid(format!("{element} is neither a string nor a list"))),
            }
        }
    }
    Ok(document)
}

/// `arn:<partition>:s3:::<source>` and `arn:<partition>:s3:::<source>/<anything>`; a bucket whose
/// name only starts with the source's (`<source>-logs`) is another bucket and is left alone.
fn rewrite_arn(arn: &str, source: &str, destination: &str) -> String {
    let Some((prefix, rest)) = arn.split_once(":s3:::") else { return arn.to_owned() };
    let is_arn_prefix = prefix.starts_with("arn:") && prefix.matches(':').count() == 1;
    match rest.strip_prefix(source) {
        Some(tail) if is_arn_prefix && (tail.is_empty() || tail.starts_with('/')) => {
            format!("{prefix}:s3:::{destination}{tail}")
        }
        _ => arn.to_owned(),
    }
}

/// The destination's public access block, or None to leave it as it is (`same-as-source`
/// with a source that has none). `block-all` never lets the destination be weaker than all-on.
pub fn desired_public_access_block(
    mode: PublicAccess,
    source: Option<&PublicAccessBlockConfiguration>,
) -> Option<PublicAccessBlockConfiguration> {
    match mode {
        PublicAccess::BlockAll => Some(block_all()),
        PublicAccess::SameAsSource => source.map(|s| {
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(s.block_public_acls().unwrap_or(false))
                .ignore_public_acls(s.ignore_public_acls().unwrap_or(false))
                .block_public_policy(s.block_public_policy().unwrap_or(false))
                .restrict_public_buckets(s.restrict_public_buckets().unwrap_or(false))
                .build()
        }),
    }
}

pub fn block_all() -> PublicAccessBlockConfiguration {
    PublicAccessBlockConfiguration::builder()
        .block_public_acls(true)
        .ignore_public_acls(true)
        .block_public_policy(true)
        .restrict_public_buckets(true)
        .build()
}

/// Unset flags read as false, as S3 treats them.
pub fn same_public_access_block(a: &PublicAccessBlockConfiguration, b: &PublicAccessBlockConfiguration) -> bool {
    let flags = |c: &PublicAccessBlockConfiguration| {
        [c.block_public_acls(), c.ignore_public_acls(), c.block_public_policy(), c.restrict_public_buckets()]
            .map(|f| f.unwrap_or(false))
    };
    flags(a) == flags(b)
}

/// The destination's default encryption: SSE-S3 stays SSE-S3 (and a source without any gets
/// SSE-S3, as S3 gives every new bucket); SSE-KMS and DSSE-KMS keep their algorithm and bucket
/// key setting with the DR-region key, the key replicas are encrypted with.
pub fn desired_encryption(source: Option<&DefaultEncryption>, replica_key: Option<&str>) -> DefaultEncryption {
    match (source, replica_key) {
        (Some(source), Some(key)) if source.is_kms() => DefaultEncryption {
            algorithm: source.algorithm.clone(),
            kms_key: Some(key.to_owned()),
            bucket_key: source.bucket_key,
        },
        _ => DefaultEncryption { algorithm: "AES256".to_owned(), kms_key: None, bucket_key: false },
    }
}

/// Equal for S3's purposes: the bucket key flag means nothing without KMS.
pub fn same_encryption(current: &DefaultEncryption, desired: &DefaultEncryption) -> bool {
    current.algorithm == desired.algorithm
        && (!desired.is_kms() || (current.kms_key == desired.kms_key && current.bucket_key == desired.bucket_key))
}

/// Settings s3-dr reads nothing of and never copies, with the reason.
pub const NOT_CLONED: &[(&str, &str)] = &[
    ("notifications", "they target region-specific SNS topics, SQS queues and Lambda functions"),
    ("logging", "it names a target bucket in the source region"),
    ("inventory", "it names a destination bucket and adds a daily charge"),
    ("analytics", "storage class analysis names an export bucket and adds a charge"),
    ("metrics", "request metrics are charged per configuration"),
    ("intelligentTiering", "archive configurations change retrieval times and cost"),
];

#[cfg(test)]
mod tests {
    use super::*;
    type TestResult = Result<(), Box<dyn std::error::Error>>;
    use serde_json::json;

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
        let tags = destination_tags(&source, &current, &MatchTag::parse("dr=true").ok_or("match tag")?, "photos");
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
        let tags =
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
}
