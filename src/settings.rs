//! What each bucket setting that replication does not carry should be on the destination,
//! given the source's. Pure functions; `steps::clone_settings` does the reading and writing.

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, ExpirationStatus, LifecycleRule, LifecycleRuleFilter,
    PublicAccessBlockConfiguration,
};
use serde_json::Value;

use crate::backfill::state::BACKFILL_TAGS;
use crate::bucket::DefaultEncryption;
use crate::config::PublicAccess;
use crate::error::DrError;
use crate::tags::{MatchTag, Tag, SOURCE_TAG};

/// S3's limit: "A tag set can contain as many as 50 tags"
/// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/CostAllocTagging.html).
pub const MAX_BUCKET_TAGS: usize = 50;
/// Slots kept for s3-dr's own tags on a destination (`s3-dr:source`, the backfill tags, the
/// verification record and the failover record), whether they are there yet or not, so the user tags kept do not change
/// as they come and go.
pub const RESERVED_TAGS: usize = 3 + BACKFILL_TAGS.len();

/// The destination's tags: the source's user tags, without the trigger tag (it would make the
/// destination a protected source in turn), without `aws:*` tags (reserved, S3 refuses them)
/// and without s3-dr's own markers, plus `s3-dr:source=<source>` and the destination's
/// backfill tags and verification record. Sorted by key, so that two tag sets compare equal whatever order S3 returns
/// them in. At most `MAX_BUCKET_TAGS - RESERVED_TAGS` user tags are kept, the first by key; the
/// keys of the others are returned, to be reported.
pub fn destination_tags(
    source_tags: &[Tag],
    destination_tags: &[Tag],
    match_tag: &MatchTag,
    source_bucket: &str,
) -> (Vec<Tag>, Vec<String>) {
    let user = sorted(
        source_tags
            .iter()
            .filter(|t| !t.key.trim().eq_ignore_ascii_case(&match_tag.key))
            .filter(|t| !t.key.starts_with("aws:") && !t.key.starts_with("s3-dr:"))
            .cloned()
            .collect(),
    );
    let room = MAX_BUCKET_TAGS - RESERVED_TAGS;
    let dropped = user.iter().skip(room).map(|t| t.key.clone()).collect();
    let mut tags: Vec<Tag> = user.into_iter().take(room).collect();
    tags.push(Tag::new(SOURCE_TAG, source_bucket));
    tags.extend(
        destination_tags
            .iter()
            .filter(|t| {
                BACKFILL_TAGS.contains(&t.key.as_str())
                    || t.key == crate::verify::VERIFIED_TAG
                    || t.key == crate::failover::FAILOVER_TAG
            })
            .cloned(),
    );
    (sorted(tags), dropped)
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

/// Condition keys that make an Allow to everyone non-public when they are given fixed values
/// ("To be considered non-public, a bucket policy must grant access only to fixed values
/// (values that don't contain a wildcard or an AWS Identity and Access Management Policy
/// Variable)" for one of these, "The meaning of public",
/// https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html).
const RESTRICTING_KEYS: &[&str] = &[
    "aws:sourceip",
    "aws:sourcearn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceowner",
    "aws:sourceaccount",
    "aws:sourceorgid",
    "aws:sourceorgpaths",
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:userid",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:dataaccesspointarn",
    "s3:dataaccesspointaccount",
];

/// Is this statement public in S3's sense: an Allow to any principal (`*`, a wildcard, or
/// `NotPrincipal`) that no condition restricts to fixed values? With BlockPublicPolicy on,
/// S3 rejects PutBucketPolicy for a policy holding one ("causes Amazon S3 to reject calls to
/// PUT Bucket policy if the specified bucket policy allows public access", same page).
pub fn is_public_statement(statement: &Value) -> bool {
    if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
        return false;
    }
    let open_principal = statement.get("NotPrincipal").is_some()
        || match statement.get("Principal") {
            Some(Value::String(any)) => any.contains('*'),
            Some(Value::Object(kinds)) => {
                kinds.get("AWS").is_some_and(|aws| strings(aws).iter().any(|v| v.contains('*')))
            }
            _ => false,
        };
    open_principal && !restricted_to_fixed_values(statement.get("Condition"))
}

fn restricted_to_fixed_values(condition: Option<&Value>) -> bool {
    let Some(Value::Object(operators)) = condition else { return false };
    operators.iter().any(|(operator, keys)| {
        // `ForAnyValue:StringEquals` reads as `StringEquals`; negated operators and `...IfExists`
        // (true when the key is absent) restrict nothing.
        let operator = operator.rsplit(':').next().unwrap_or_default();
        if operator.contains("Not") || operator.ends_with("IfExists") || matches!(operator, "Null" | "Bool") {
            return false;
        }
        let Value::Object(keys) = keys else { return false };
        keys.iter().any(|(key, values)| {
            let key = key.to_ascii_lowercase();
            let values = strings(values);
            RESTRICTING_KEYS.contains(&key.as_str())
                && !values.is_empty()
                && values.iter().all(|v| {
                    !v.is_empty()
                        && !v.contains(['*', '?'])
                        && !v.contains("${")
                        && (key != "aws:sourceip" || narrow_cidr(v))
                })
        })
    })
}

/// "IPv4 ... broader than /8" counts as public; IPv6 likewise below /32 (an assumption: the
/// page names no IPv6 bound).
fn narrow_cidr(cidr: &str) -> bool {
    let (address, bits) = cidr.split_once('/').unwrap_or((cidr, if cidr.contains(':') { "128" } else { "32" }));
    let minimum = if address.contains(':') { 32 } else { 8 };
    bits.parse::<u32>().is_ok_and(|bits| bits >= minimum)
}

fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The policy without its public statements (None if nothing is left), and a description of
/// each statement dropped (its Sid, or its position).
pub fn without_public_statements(policy: &Value) -> (Option<Value>, Vec<String>) {
    let mut document = policy.clone();
    let mut dropped = Vec::new();
    match document.get_mut("Statement") {
        Some(Value::Array(statements)) => {
            let mut index = 0;
            statements.retain(|statement| {
                index += 1;
                let public = is_public_statement(statement);
                if public {
                    dropped.push(describe_statement(statement, index));
                }
                !public
            });
            if statements.is_empty() {
                return (None, dropped);
            }
        }
        Some(single) if is_public_statement(single) => return (None, vec![describe_statement(single, 1)]),
        _ => {}
    }
    (Some(document), dropped)
}

fn describe_statement(statement: &Value, position: usize) -> String {
    match statement.get("Sid").and_then(Value::as_str) {
        Some(sid) => format!("Sid {sid}"),
        None => format!("statement {position}"),
    }
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

/// The id of the one lifecycle rule s3-dr owns on a destination: abort multipart uploads left
/// behind (a copy backfill invocation killed in the middle of a multipart copy leaves parts,
/// which S3 charges for until they are aborted). An empty filter is the whole bucket
/// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpu-abort-incomplete-mpu-lifecycle-config.html).
pub const ABORT_UPLOADS_RULE_ID: &str = "s3-dr-abort-incomplete-uploads";
/// Days after which an upload counts as abandoned: a copy takes minutes, not days.
const ABORT_UPLOADS_AFTER_DAYS: i32 = 7;

pub fn abort_uploads_rule() -> Result<LifecycleRule, DrError> {
    LifecycleRule::builder()
        .id(ABORT_UPLOADS_RULE_ID)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().build())
        .abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::builder().days_after_initiation(ABORT_UPLOADS_AFTER_DAYS).build(),
        )
        .build()
        .map_err(|e| DrError::Internal(format!("building the abort-uploads lifecycle rule: {e}")))
}

/// `rules` with s3-dr's rule upserted by its id: every other rule kept as it is, in place.
pub fn with_abort_uploads_rule(rules: &[LifecycleRule]) -> Result<Vec<LifecycleRule>, DrError> {
    let ours = abort_uploads_rule()?;
    let mut merged: Vec<LifecycleRule> =
        rules.iter().filter(|r| r.id() != Some(ABORT_UPLOADS_RULE_ID)).cloned().collect();
    merged.push(ours);
    Ok(merged)
}

/// The same rules for S3, in any order: an empty filter and one with an empty prefix both mean
/// the whole bucket (S3 may answer either for what was put).
pub fn same_lifecycle_rules(a: &[LifecycleRule], b: &[LifecycleRule]) -> bool {
    let normalized = |rules: &[LifecycleRule]| -> Vec<LifecycleRule> {
        rules
            .iter()
            .map(|rule| {
                let mut rule = rule.clone();
                if rule.filter.as_ref().is_some_and(|f| {
                    f.prefix() == Some("")
                        && f.tag().is_none()
                        && f.and().is_none()
                        && f.object_size_greater_than().is_none()
                        && f.object_size_less_than().is_none()
                }) {
                    rule.filter = Some(LifecycleRuleFilter::builder().build());
                }
                rule
            })
            .collect()
    };
    let (a, b) = (normalized(a), normalized(b));
    a.len() == b.len() && a.iter().all(|rule| b.contains(rule))
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
mod tests;
