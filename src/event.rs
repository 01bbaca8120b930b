//! What started an execution: a manual `{"bucket": "name"}` or an EventBridge-delivered
//! CloudTrail event. Parsed from raw JSON so a malformed payload is `InvalidInput`.

use serde_json::Value;

use crate::error::DrError;
use crate::naming;
use crate::tags::Tag;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    Manual {
        bucket: String,
    },
    CloudTrail {
        bucket: String,
        event_name: String,
        /// Region the API call was made in (the bucket's region for S3 bucket calls).
        region: Option<String>,
        /// Tags the event carried; stale by the time we run, so only reported.
        tags: Option<Vec<Tag>>,
        /// `Enabled` or `Suspended`, for PutBucketVersioning.
        versioning: Option<String>,
        /// Set when the API call failed (CloudTrail records those too): nothing changed.
        error_code: Option<String>,
        /// Who made the call (`detail.userIdentity`).
        caller: Caller,
    },
    /// An S3 Control tagging call on something other than a bucket (an access point, a job):
    /// the rule cannot tell them apart (CloudTrail's field for the ARN is not documented), so
    /// the Lambda does, and ignores them.
    NotABucket {
        event_name: String,
        resource: String,
    },
}

/// The parts of a CloudTrail `userIdentity` that tell who made a call
/// (https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// For an assumed role: `arn:aws:sts::<account>:assumed-role/<role name>/<session>`.
    pub arn: Option<String>,
    /// `sessionContext.sessionIssuer.arn`: the role itself, `arn:aws:iam::<account>:role/<path><name>`.
    pub session_issuer: Option<String>,
}

impl Caller {
    /// Did a session of `role_arn` make the call? The issuer is compared first (it carries the
    /// role's path); an event without one is matched on the assumed-role ARN, which names the
    /// account and the role's name (not its path).
    pub fn is_role(&self, role_arn: &str) -> bool {
        if let Some(issuer) = &self.session_issuer {
            return issuer == role_arn;
        }
        let Some((partition, account, name)) = role_parts(role_arn) else { return false };
        self.arn.as_deref().and_then(|arn| arn.strip_prefix("arn:")).is_some_and(|rest| {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            matches!(parts.as_slice(), [p, "sts", "", a, resource]
                if *p == partition && *a == account
                    && resource.strip_prefix("assumed-role/").and_then(|r| r.split('/').next()) == Some(name))
        })
    }
}

/// (partition, account, role name) of `arn:<partition>:iam::<account>:role/<path/><name>`.
fn role_parts(role_arn: &str) -> Option<(&str, &str, &str)> {
    let parts: Vec<&str> = role_arn.strip_prefix("arn:")?.splitn(5, ':').collect();
    match parts.as_slice() {
        [partition, "iam", "", account, resource] => {
            Some((partition, account, resource.strip_prefix("role/")?.rsplit('/').next()?))
        }
        _ => None,
    }
}

/// What kind of change an event reports, as far as s3-dr cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// `{"bucket": ...}`: an operator, the CLI or the sweep.
    Manual,
    /// The bucket's tags may have changed: PutBucketTagging, DeleteBucketTagging, the S3 Control
    /// TagResource/UntagResource (the only tagging calls once ABAC is on for the bucket), or
    /// CreateBucket (which may carry tags).
    Tagging,
    /// DeleteBucketReplication or PutBucketReplication.
    ReplicationChanged,
    /// PutBucketVersioning; `suspended` when the new status is Suspended.
    VersioningChanged { suspended: bool },
    /// A `DeleteBucket*` call (the bucket, its policy, encryption, lifecycle, ...): on a
    /// destination, its source's protection needs a repair.
    SettingRemoved,
    /// A call that failed, or one s3-dr does not act on.
    Irrelevant(String),
}

/// What s3-dr knows about the event's bucket when it decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketFacts {
    pub exists: bool,
    pub tagged: bool,
    /// The source this bucket is the s3-dr destination of (tag `s3-dr:source`).
    pub destination_of: Option<String>,
    /// It has a replication rule with id `s3-dr`. Read only when it can change the decision.
    pub has_rule: Option<bool>,
    /// The source whose destination this bucket's name is (`<source><suffix>`, see
    /// [`naming::source_named_by`]): the only way back from a deleted or untagged destination.
    pub named_source: Option<String>,
}

impl BucketFacts {
    /// The source this bucket is a destination of: by its tag, else by its name.
    fn source(&self) -> Option<&String> {
        self.destination_of.as_ref().or(self.named_source.as_ref())
    }
}

/// What to do about an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Protect,
    Detach,
    /// Not s3-dr's business (with the reason, logged and reported).
    Ignore(String),
    /// The bucket is a destination; the question is about its source: decide again for it.
    AskSource(String),
    /// The decision needs `has_rule`: read the replication configuration and decide again.
    NeedRule,
}

/// The decision for an event on a bucket, from the event and the bucket's current state (the
/// event itself may be stale: the state decides).
pub fn decide(kind: &EventKind, facts: &BucketFacts, bucket: &str) -> Decision {
    let ignore = |why: String| Decision::Ignore(why);
    match kind {
        EventKind::Irrelevant(why) => ignore(why.clone()),
        // Checked before existence: a deleted destination is still its source's business.
        EventKind::SettingRemoved if facts.tagged && facts.exists => Decision::Protect,
        EventKind::SettingRemoved => match facts.source() {
            Some(source) if source != bucket => Decision::AskSource(source.clone()),
            _ if !facts.exists => ignore(format!("bucket {bucket} no longer exists")),
            _ => ignore(format!("bucket {bucket} is neither tagged nor an s3-dr destination")),
        },
        _ if !facts.exists => ignore(format!("bucket {bucket} no longer exists")),
        EventKind::Manual | EventKind::Tagging | EventKind::ReplicationChanged if facts.tagged => Decision::Protect,
        EventKind::Manual => ignore(format!("bucket {bucket} is not tagged")),
        EventKind::Tagging => match (facts.has_rule, facts.source()) {
            (None, _) => Decision::NeedRule,
            (Some(true), _) => Decision::Detach,
            // A destination whose tags were removed: its source's clone puts them back.
            (Some(false), Some(source)) if source != bucket => Decision::AskSource(source.clone()),
            (Some(false), _) => ignore(format!("bucket {bucket} is not tagged and has no s3-dr rule: not managed")),
        },
        EventKind::ReplicationChanged => {
            ignore(format!("bucket {bucket} is not tagged: its replication is not s3-dr's"))
        }
        EventKind::VersioningChanged { suspended: false } => {
            ignore(format!("versioning of {bucket} was enabled, not suspended: nothing to repair"))
        }
        EventKind::VersioningChanged { suspended: true } if facts.tagged => Decision::Protect,
        EventKind::VersioningChanged { suspended: true } => match facts.source() {
            Some(source) if source != bucket => Decision::AskSource(source.clone()),
            _ => ignore(format!("bucket {bucket} is neither tagged nor an s3-dr destination")),
        },
    }
}

impl Trigger {
    pub fn bucket(&self) -> &str {
        match self {
            Trigger::Manual { bucket } | Trigger::CloudTrail { bucket, .. } => bucket,
            Trigger::NotABucket { .. } => "",
        }
    }

    pub fn kind(&self) -> EventKind {
        match self {
            Trigger::Manual { .. } => EventKind::Manual,
            Trigger::NotABucket { event_name, resource } => {
                EventKind::Irrelevant(format!("{event_name} on {resource}, which is not a bucket: nothing to do"))
            }
            Trigger::CloudTrail { event_name, error_code: Some(code), .. } => {
                EventKind::Irrelevant(format!("the {event_name} call failed ({code}): nothing changed"))
            }
            Trigger::CloudTrail { event_name, versioning, .. } => match event_name.as_str() {
                "PutBucketTagging" | "DeleteBucketTagging" | "TagResource" | "UntagResource" | "CreateBucket" => {
                    EventKind::Tagging
                }
                "PutBucketReplication" | "DeleteBucketReplication" => EventKind::ReplicationChanged,
                "PutBucketVersioning" => {
                    EventKind::VersioningChanged { suspended: versioning.as_deref() == Some("Suspended") }
                }
                other if other.starts_with("DeleteBucket") => EventKind::SettingRemoved,
                other => EventKind::Irrelevant(format!("s3-dr does not act on {other}")),
            },
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Trigger::Manual { .. } => "manual".to_owned(),
            Trigger::CloudTrail { event_name, .. } | Trigger::NotABucket { event_name, .. } => {
                format!("CloudTrail {event_name}")
            }
        }
    }

    /// Why this event is s3-dr's own echo, if it is: a call made by the step Lambda's role
    /// (its PutBucketReplication, tags, versioning) comes back as a CloudTrail event, and acting
    /// on it would start a second execution racing the one that made the call.
    pub fn own_echo(&self, step_role_arn: Option<&str>) -> Option<String> {
        let (Trigger::CloudTrail { event_name, caller, .. }, Some(role)) = (self, step_role_arn) else {
            return None;
        };
        caller.is_role(role).then(|| {
            format!("the {event_name} call was made by s3-dr itself (role {role}): its own change, nothing to do")
        })
    }
}

pub fn parse_trigger(input: &Value) -> Result<Trigger, DrError> {
    let expected = r#"expected {"bucket": "<name>"} or an EventBridge CloudTrail event for s3.amazonaws.com"#;
    let Some(object) = input.as_object() else {
        return Err(DrError::InvalidInput(format!("the execution input is not a JSON object; {expected}")));
    };
    if let Some(bucket) = object.get("bucket") {
        let bucket = bucket
            .as_str()
            .ok_or_else(|| quoted_invalid("\"bucket\" must be a string, got", &bucket.to_string(), ""))?;
        return Ok(Trigger::Manual { bucket: checked_bucket(bucket)? });
    }
    let Some(detail) = object.get("detail").filter(|d| d.is_object()) else {
        return Err(DrError::InvalidInput(format!("no \"bucket\" and no \"detail\"; {expected}")));
    };
    let event_source = detail.get("eventSource").and_then(Value::as_str).unwrap_or_default();
    if event_source != "s3.amazonaws.com" {
        return Err(DrError::InvalidInput(format!(
            "detail.eventSource is {event_source:?}, not \"s3.amazonaws.com\"; {expected}"
        )));
    }
    let event_name = detail
        .get("eventName")
        .and_then(Value::as_str)
        .ok_or_else(|| DrError::InvalidInput("the CloudTrail event has no detail.eventName".to_owned()))?;
    let parameters = detail.get("requestParameters");
    let bucket = match event_subject(detail) {
        Subject::Bucket(bucket) => bucket,
        Subject::Other(resource) => {
            return Ok(Trigger::NotABucket { event_name: event_name.to_owned(), resource: resource.to_owned() })
        }
        Subject::Unknown => {
            return Err(DrError::InvalidInput(format!(
                "the CloudTrail {event_name} event names no bucket (detail.requestParameters.bucketName, a bucket ARN in requestParameters.resourceArn or detail.resources)"
            )))
        }
    };
    Ok(Trigger::CloudTrail {
        bucket: checked_bucket(bucket)?,
        event_name: event_name.to_owned(),
        region: detail.get("awsRegion").and_then(Value::as_str).map(str::to_owned),
        tags: parameters.and_then(event_tags),
        versioning: parameters
            .and_then(|p| p.pointer("/VersioningConfiguration/Status"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        error_code: detail.get("errorCode").and_then(Value::as_str).map(str::to_owned),
        caller: Caller {
            arn: detail.pointer("/userIdentity/arn").and_then(Value::as_str).map(str::to_owned),
            session_issuer: detail
                .pointer("/userIdentity/sessionContext/sessionIssuer/arn")
                .and_then(Value::as_str)
                .map(str::to_owned),
        },
    })
}

/// What a CloudTrail S3 event is about.
enum Subject<'a> {
    Bucket(&'a str),
    /// An ARN that is not a bucket's (an access point's, a job's): S3 Control tags those too.
    Other(&'a str),
    Unknown,
}

/// `requestParameters.bucketName` for the S3 API. The S3 Control TagResource/UntagResource name
/// the bucket by ARN (`POST /v20180820/tags/{ResourceArn+}`,
/// https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_TagResource.html); how CloudTrail
/// spells that request parameter is not documented for S3 Control, so the spellings of its
/// other services are tried, then the event's `resources` list, which CloudTrail documents
/// (`ARN`, `type` AWS::S3::Bucket:
/// https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html).
fn event_subject(detail: &Value) -> Subject<'_> {
    let parameters = detail.get("requestParameters");
    if let Some(bucket) = parameters.and_then(|p| p.get("bucketName")).and_then(Value::as_str) {
        return Subject::Bucket(bucket);
    }
    let named = parameters
        .into_iter()
        .flat_map(|p| ["resourceArn", "ResourceArn", "resourceARN"].into_iter().filter_map(|k| p.get(k)?.as_str()));
    let listed = detail
        .get("resources")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("ARN").and_then(Value::as_str));
    let mut other = None;
    for arn in named.chain(listed) {
        match bucket_of_arn(arn) {
            Some(bucket) => return Subject::Bucket(bucket),
            None => {
                other.get_or_insert(arn);
            }
        }
    }
    other.map_or(Subject::Unknown, Subject::Other)
}

/// `arn:<partition>:s3:::<bucket>` -> `<bucket>`; None for any other ARN.
pub fn bucket_of_arn(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.strip_prefix("arn:")?.splitn(5, ':').collect();
    match parts.as_slice() {
        [_, "s3", "", "", bucket] if !bucket.is_empty() && !bucket.contains('/') => Some(bucket),
        _ => None,
    }
}

/// CloudTrail renders XML request bodies as JSON: `TagSet.Tag` is an object for one tag and
/// an array for several (and absent for none).
fn event_tags(parameters: &Value) -> Option<Vec<Tag>> {
    let tag_set = parameters.get("Tagging")?.get("TagSet")?;
    let tags = match tag_set.get("Tag") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().filter_map(tag_from).collect(),
        Some(single) => tag_from(single).into_iter().collect(),
    };
    Some(tags)
}

fn tag_from(value: &Value) -> Option<Tag> {
    let key = value.get("Key")?.as_str()?;
    let value = value.get("Value").and_then(Value::as_str).unwrap_or_default();
    Some(Tag::new(key, value))
}

fn checked_bucket(bucket: &str) -> Result<String, DrError> {
    match naming::why_not_a_bucket_name(bucket) {
        None => Ok(bucket.to_owned()),
        Some(rule) => Err(quoted_invalid("", &format!("{bucket:?}"), &format!(" is not a bucket name: {rule}"))),
    }
}

/// An `InvalidInput` that quotes the value it was given, shortened: an input can be 256 KiB.
fn quoted_invalid(before: &str, value: &str, after: &str) -> DrError {
    let value = crate::error::abbreviated(value, 100);
    DrError::InvalidInput(format!("{before}{}{value}{after}", if before.is_empty() { "" } else { " " }))
}

#[cfg(test)]
mod tests;
