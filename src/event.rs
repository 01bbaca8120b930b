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
mod tests {
    use super::*;
    use serde_json::json;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// A PutBucketTagging event as EventBridge delivers it (trimmed of fields we do not read).
    fn put_bucket_tagging(tag: Value) -> Value {
        json!({
            "version": "0",
            "id": "3e3c153a-8339-4e30-8c35-687ebef853fe",
            "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.s3",
            "account": "123456789012",
            "time": "2026-11-26T04:00:00Z",
            "region": "us-west-2",
            "resources": [],
            "detail": {
                "eventVersion": "1.09",
                "userIdentity": {"type": "AssumedRole", "accountId": "123456789012"},
                "eventTime": "2026-11-26T04:00:00Z",
                "eventSource": "s3.amazonaws.com",
                "eventName": "PutBucketTagging",
                "awsRegion": "us-west-2",
                "sourceIPAddress": "203.0.113.7",
                "requestParameters": {
                    "bucketName": "photos",
                    "Host": "photos.s3.us-west-2.amazonaws.com",
                    "tagging": "",
                    "Tagging": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/", "TagSet": {"Tag": tag}}
                },
                "responseElements": null,
                "eventType": "AwsApiCall",
                "managementEvent": true,
                "recipientAccountId": "123456789012",
                "eventCategory": "Management"
            }
        })
    }

    #[test]
    fn manual_input() -> TestResult {
        assert_eq!(parse_trigger(&json!({"bucket": "photos"}))?, Trigger::Manual { bucket: "photos".into() });
        Ok(())
    }

    #[test]
    fn cloudtrail_event_with_one_tag_is_an_object() -> TestResult {
        let trigger = parse_trigger(&put_bucket_tagging(json!({"Key": "dr", "Value": "true"})))?;
        assert_eq!(
            trigger,
            Trigger::CloudTrail {
                bucket: "photos".into(),
                event_name: "PutBucketTagging".into(),
                region: Some("us-west-2".into()),
                tags: Some(vec![Tag::new("dr", "true")]),
                versioning: None,
                error_code: None,
                caller: Caller::default(),
            }
        );
        Ok(())
    }

    #[test]
    fn cloudtrail_event_with_several_tags_is_an_array() -> TestResult {
        let event = put_bucket_tagging(json!([{"Key": "team", "Value": "media"}, {"Key": "DR", "Value": "TRUE"}]));
        let Trigger::CloudTrail { tags, .. } = parse_trigger(&event)? else { panic!() };
        assert_eq!(tags, Some(vec![Tag::new("team", "media"), Tag::new("DR", "TRUE")]));
        Ok(())
    }

    #[test]
    fn malformed_inputs_are_invalid_input() {
        for input in [
            json!(null),
            json!([1, 2]),
            json!({}),
            json!({"bucket": 42}),
            json!({"bucket": "a"}),
            json!({"bucket": "has space"}),
            json!({"detail": {"eventSource": "ec2.amazonaws.com", "eventName": "RunInstances"}}),
            json!({"detail": {"eventSource": "s3.amazonaws.com", "eventName": "PutBucketTagging"}}),
        ] {
            assert!(matches!(parse_trigger(&input), Err(DrError::InvalidInput(_))), "{input}");
        }
    }

    /// A recorded CloudTrail event from tests/fixtures/cloudtrail, for bucket "photos".
    fn recorded(file: &str) -> Result<Trigger, Box<dyn std::error::Error>> {
        let text = match file {
            "PutBucketTagging" => include_str!("../tests/fixtures/cloudtrail/PutBucketTagging.json"),
            "PutBucketTagging-untagged" => include_str!("../tests/fixtures/cloudtrail/PutBucketTagging-untagged.json"),
            "DeleteBucketTagging" => include_str!("../tests/fixtures/cloudtrail/DeleteBucketTagging.json"),
            "DeleteBucketReplication" => include_str!("../tests/fixtures/cloudtrail/DeleteBucketReplication.json"),
            "DeleteBucketReplication-denied" => {
                include_str!("../tests/fixtures/cloudtrail/DeleteBucketReplication-denied.json")
            }
            "PutBucketReplication" => include_str!("../tests/fixtures/cloudtrail/PutBucketReplication.json"),
            "PutBucketVersioning-suspended" => {
                include_str!("../tests/fixtures/cloudtrail/PutBucketVersioning-suspended.json")
            }
            "PutBucketVersioning-enabled" => {
                include_str!("../tests/fixtures/cloudtrail/PutBucketVersioning-enabled.json")
            }
            "PutBucketAcl" => include_str!("../tests/fixtures/cloudtrail/PutBucketAcl.json"),
            "CreateBucket-with-tags" => include_str!("../tests/fixtures/cloudtrail/CreateBucket-with-tags.json"),
            "TagResource" => include_str!("../tests/fixtures/cloudtrail/TagResource.json"),
            "UntagResource" => include_str!("../tests/fixtures/cloudtrail/UntagResource.json"),
            "TagResource-access-point" => include_str!("../tests/fixtures/cloudtrail/TagResource-access-point.json"),
            "DeleteBucket-destination" => include_str!("../tests/fixtures/cloudtrail/DeleteBucket-destination.json"),
            "DeleteBucketPolicy-destination" => {
                include_str!("../tests/fixtures/cloudtrail/DeleteBucketPolicy-destination.json")
            }
            "PutBucketReplication-by-s3-dr" => {
                include_str!("../tests/fixtures/cloudtrail/PutBucketReplication-by-s3-dr.json")
            }
            other => panic!("no fixture {other}"),
        };
        let event: Value = serde_json::from_str(&text.replace("BUCKET", "photos"))?;
        Ok(parse_trigger(&event)?)
    }

    /// The role the local stack's Lambda runs as (the recorded event names it).
    const LOCAL_STEP_ROLE: &str = "arn:aws:iam::123456789012:role/s3-dr-step";
    /// A role as CDK names it, with a path.
    const STEP_ROLE: &str = "arn:aws:iam::123456789012:role/s3-dr/S3Dr-StepFunctionRole-1A2B3C";

    #[test]
    fn s3_drs_own_calls_are_recognised_by_the_caller() -> TestResult {
        let own = recorded("PutBucketReplication-by-s3-dr")?;
        let why = own.own_echo(Some(LOCAL_STEP_ROLE)).ok_or("not recognised as s3-dr's own call")?;
        assert!(why.contains("PutBucketReplication") && why.contains(LOCAL_STEP_ROLE), "{why}");
        // The same call by a person is theirs to make, and repaired if it broke protection.
        assert_eq!(recorded("PutBucketReplication")?.own_echo(Some(LOCAL_STEP_ROLE)), None);
        assert_eq!(own.own_echo(Some(STEP_ROLE)), None, "another role's session");
        assert_eq!(own.own_echo(None), None, "no role configured: no event is taken for ours");
        assert_eq!(Trigger::Manual { bucket: "photos".into() }.own_echo(Some(LOCAL_STEP_ROLE)), None);
        Ok(())
    }

    #[test]
    fn callers_match_by_issuer_or_by_assumed_role_name() {
        let issuer = |arn: &str| Caller { arn: None, session_issuer: Some(arn.into()) };
        assert!(issuer(STEP_ROLE).is_role(STEP_ROLE));
        assert!(!issuer("arn:aws:iam::123456789012:role/ops").is_role(STEP_ROLE));
        let session = |arn: &str| Caller { arn: Some(arn.into()), session_issuer: None };
        // An assumed-role ARN has the role's name, not its path.
        assert!(session("arn:aws:sts::123456789012:assumed-role/S3Dr-StepFunctionRole-1A2B3C/s3-dr-step")
            .is_role(STEP_ROLE));
        assert!(!session("arn:aws:sts::999999999999:assumed-role/S3Dr-StepFunctionRole-1A2B3C/x").is_role(STEP_ROLE));
        assert!(!session("arn:aws:sts::123456789012:assumed-role/S3Dr-StepFunctionRole-1A2B3CD/x").is_role(STEP_ROLE));
        assert!(!session("arn:aws:iam::123456789012:user/S3Dr-StepFunctionRole-1A2B3C").is_role(STEP_ROLE));
        assert!(!Caller::default().is_role(STEP_ROLE));
        assert!(!session("arn:aws:sts::123456789012:assumed-role/x/y").is_role("not-an-arn"));
    }

    fn facts(tagged: bool, destination_of: Option<&str>, has_rule: Option<bool>) -> BucketFacts {
        BucketFacts {
            exists: true,
            tagged,
            destination_of: destination_of.map(Into::into),
            has_rule,
            named_source: None,
        }
    }

    fn decision(file: &str, facts: &BucketFacts) -> Result<Decision, Box<dyn std::error::Error>> {
        Ok(decide(&recorded(file)?.kind(), facts, "photos"))
    }

    #[test]
    fn recorded_events_parse() -> TestResult {
        let Trigger::CloudTrail { tags, versioning, .. } = recorded("PutBucketTagging-untagged")? else { panic!() };
        assert_eq!(tags, Some(vec![Tag::new("team", "media")]));
        assert_eq!(versioning, None);
        assert_eq!(recorded("PutBucketVersioning-suspended")?.kind(), EventKind::VersioningChanged { suspended: true });
        assert_eq!(recorded("DeleteBucketTagging")?.kind(), EventKind::Tagging);
        assert!(
            matches!(recorded("DeleteBucketReplication-denied")?.kind(), EventKind::Irrelevant(why) if why.contains("AccessDenied"))
        );
        Ok(())
    }

    #[test]
    fn tagging_protects_a_tagged_bucket_and_detaches_one_that_lost_its_tag() -> TestResult {
        for file in ["PutBucketTagging", "PutBucketTagging-untagged", "DeleteBucketTagging"] {
            // The bucket's current tags decide, whatever the event carried.
            assert_eq!(decision(file, &facts(true, None, None))?, Decision::Protect, "{file}");
            assert_eq!(decision(file, &facts(false, None, None))?, Decision::NeedRule, "{file}");
            assert_eq!(decision(file, &facts(false, None, Some(true)))?, Decision::Detach, "{file}");
            assert!(matches!(decision(file, &facts(false, None, Some(false)))?, Decision::Ignore(_)), "{file}");
        }
        Ok(())
    }

    #[test]
    fn every_way_of_tagging_a_bucket_is_a_tagging_event() -> TestResult {
        for file in ["CreateBucket-with-tags", "TagResource", "UntagResource"] {
            let trigger = recorded(file)?;
            assert_eq!(trigger.bucket(), "photos", "{file}");
            assert_eq!(trigger.kind(), EventKind::Tagging, "{file}");
            assert_eq!(decision(file, &facts(true, None, None))?, Decision::Protect, "{file}");
            assert_eq!(decision(file, &facts(false, None, Some(true)))?, Decision::Detach, "{file}");
        }
        // S3 Control tags access points and jobs too: only a bucket ARN names a bucket; the
        // rest are ignored, not failed (the rule cannot filter them: see NotABucket).
        let access_point = recorded("TagResource-access-point")?;
        assert!(
            matches!(access_point.kind(), EventKind::Irrelevant(why) if why.contains("accesspoint") && why.contains("not a bucket"))
        );
        // If CloudTrail spells the request parameter otherwise, the documented `resources` list
        // still names the bucket.
        let mut renamed: Value = serde_json::from_str(include_str!("../tests/fixtures/cloudtrail/TagResource.json"))?;
        let parameters =
            renamed.pointer_mut("/detail/requestParameters").and_then(Value::as_object_mut).ok_or("no parameters")?;
        let arn = parameters.remove("resourceArn").ok_or("no resourceArn")?;
        parameters.insert("someOtherSpelling".into(), arn);
        assert_eq!(parse_trigger(&renamed)?.bucket(), "BUCKET");
        assert_eq!(bucket_of_arn("arn:aws:s3:::photos"), Some("photos"));
        assert_eq!(bucket_of_arn("arn:aws-cn:s3:::photos"), Some("photos"));
        for other in ["arn:aws:s3:::photos/key", "arn:aws:s3:us-west-2:1:accesspoint/a", "arn:aws:s3:::", "photos"] {
            assert_eq!(bucket_of_arn(other), None, "{other}");
        }
        Ok(())
    }

    #[test]
    fn a_destination_that_lost_a_setting_or_was_deleted_sends_the_question_to_its_source() -> TestResult {
        let named = |exists: bool, destination_of: Option<&str>| BucketFacts {
            exists,
            named_source: Some("photos".into()),
            ..facts(false, destination_of, None)
        };
        for file in ["DeleteBucket-destination", "DeleteBucketPolicy-destination"] {
            let trigger = recorded(file)?;
            assert_eq!(trigger.kind(), EventKind::SettingRemoved, "{file}");
            let ask = |facts: &BucketFacts| decide(&trigger.kind(), facts, "photos-dr");
            // Deleted: only its name leads back. Present: its tag, else its name.
            assert_eq!(ask(&named(false, None)), Decision::AskSource("photos".into()), "{file}");
            assert_eq!(ask(&named(true, Some("photos"))), Decision::AskSource("photos".into()), "{file}");
            let unnamed = BucketFacts { named_source: None, ..named(true, None) };
            assert!(matches!(ask(&unnamed), Decision::Ignore(_)), "{file}");
            // At the source: tagged, protect (and repair the destination); untagged, nothing.
            assert_eq!(decide(&trigger.kind(), &facts(true, None, None), "photos"), Decision::Protect, "{file}");
            assert!(matches!(decide(&trigger.kind(), &facts(false, None, None), "photos"), Decision::Ignore(_)));
        }
        // A destination whose tags were deleted is traced by its name.
        let untagged = BucketFacts { named_source: Some("photos".into()), ..facts(false, None, Some(false)) };
        assert_eq!(decide(&EventKind::Tagging, &untagged, "photos-dr"), Decision::AskSource("photos".into()));
        assert_eq!(
            decide(&EventKind::VersioningChanged { suspended: true }, &untagged, "photos-dr"),
            Decision::AskSource("photos".into())
        );
        Ok(())
    }

    #[test]
    fn replication_changes_are_repaired_only_on_tagged_buckets() -> TestResult {
        for file in ["DeleteBucketReplication", "PutBucketReplication"] {
            assert_eq!(decision(file, &facts(true, None, None))?, Decision::Protect, "{file}");
            assert!(matches!(decision(file, &facts(false, None, Some(true)))?, Decision::Ignore(_)), "{file}");
        }
        Ok(())
    }

    #[test]
    fn suspended_versioning_is_repaired_on_a_source_or_through_a_destination() -> TestResult {
        assert_eq!(decision("PutBucketVersioning-suspended", &facts(true, None, None))?, Decision::Protect);
        assert_eq!(
            decision("PutBucketVersioning-suspended", &facts(false, Some("media"), None))?,
            Decision::AskSource("media".into())
        );
        assert!(matches!(decision("PutBucketVersioning-suspended", &facts(false, None, None))?, Decision::Ignore(_)));
        assert!(matches!(decision("PutBucketVersioning-enabled", &facts(true, None, None))?, Decision::Ignore(_)));
        Ok(())
    }

    #[test]
    fn other_events_failed_calls_and_vanished_buckets_are_ignored() -> TestResult {
        assert!(
            matches!(decision("PutBucketAcl", &facts(true, None, None))?, Decision::Ignore(why) if why.contains("PutBucketAcl"))
        );
        assert!(matches!(decision("DeleteBucketReplication-denied", &facts(true, None, None))?, Decision::Ignore(_)));
        let gone = BucketFacts { exists: false, ..facts(true, None, None) };
        assert!(
            matches!(decision("PutBucketTagging", &gone)?, Decision::Ignore(why) if why.contains("no longer exists"))
        );
        Ok(())
    }

    #[test]
    fn manual_requests_protect_tagged_buckets_only() {
        let manual = Trigger::Manual { bucket: "photos".into() }.kind();
        assert_eq!(decide(&manual, &facts(true, None, None), "photos"), Decision::Protect);
        assert!(matches!(decide(&manual, &facts(false, None, Some(true)), "photos"), Decision::Ignore(_)));
    }
}
