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
        "PutBucketTagging" => include_str!("../../tests/fixtures/cloudtrail/PutBucketTagging.json"),
        "PutBucketTagging-untagged" => include_str!("../../tests/fixtures/cloudtrail/PutBucketTagging-untagged.json"),
        "DeleteBucketTagging" => include_str!("../../tests/fixtures/cloudtrail/DeleteBucketTagging.json"),
        "DeleteBucketReplication" => include_str!("../../tests/fixtures/cloudtrail/DeleteBucketReplication.json"),
        "DeleteBucketReplication-denied" => {
            include_str!("../../tests/fixtures/cloudtrail/DeleteBucketReplication-denied.json")
        }
        "PutBucketReplication" => include_str!("../../tests/fixtures/cloudtrail/PutBucketReplication.json"),
        "PutBucketVersioning-suspended" => {
            include_str!("../../tests/fixtures/cloudtrail/PutBucketVersioning-suspended.json")
        }
        "PutBucketVersioning-enabled" => {
            include_str!("../../tests/fixtures/cloudtrail/PutBucketVersioning-enabled.json")
        }
        "PutBucketAcl" => include_str!("../../tests/fixtures/cloudtrail/PutBucketAcl.json"),
        "CreateBucket-with-tags" => include_str!("../../tests/fixtures/cloudtrail/CreateBucket-with-tags.json"),
        "TagResource" => include_str!("../../tests/fixtures/cloudtrail/TagResource.json"),
        "UntagResource" => include_str!("../../tests/fixtures/cloudtrail/UntagResource.json"),
        "TagResource-access-point" => include_str!("../../tests/fixtures/cloudtrail/TagResource-access-point.json"),
        "DeleteBucket-destination" => include_str!("../../tests/fixtures/cloudtrail/DeleteBucket-destination.json"),
        "DeleteBucketPolicy-destination" => {
            include_str!("../../tests/fixtures/cloudtrail/DeleteBucketPolicy-destination.json")
        }
        "PutBucketReplication-by-s3-dr" => {
            include_str!("../../tests/fixtures/cloudtrail/PutBucketReplication-by-s3-dr.json")
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
    assert!(
        session("arn:aws:sts::123456789012:assumed-role/S3Dr-StepFunctionRole-1A2B3C/s3-dr-step").is_role(STEP_ROLE)
    );
    assert!(!session("arn:aws:sts::999999999999:assumed-role/S3Dr-StepFunctionRole-1A2B3C/x").is_role(STEP_ROLE));
    assert!(!session("arn:aws:sts::123456789012:assumed-role/S3Dr-StepFunctionRole-1A2B3CD/x").is_role(STEP_ROLE));
    assert!(!session("arn:aws:iam::123456789012:user/S3Dr-StepFunctionRole-1A2B3C").is_role(STEP_ROLE));
    assert!(!Caller::default().is_role(STEP_ROLE));
    assert!(!session("arn:aws:sts::123456789012:assumed-role/x/y").is_role("not-an-arn"));
}

fn facts(tagged: bool, destination_of: Option<&str>, has_rule: Option<bool>) -> BucketFacts {
    BucketFacts { exists: true, tagged, destination_of: destination_of.map(Into::into), has_rule, named_source: None }
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
    let mut renamed: Value = serde_json::from_str(include_str!("../../tests/fixtures/cloudtrail/TagResource.json"))?;
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
    assert!(matches!(decision("PutBucketTagging", &gone)?, Decision::Ignore(why) if why.contains("no longer exists")));
    Ok(())
}

#[test]
fn manual_requests_protect_tagged_buckets_only() {
    let manual = Trigger::Manual { bucket: "photos".into() }.kind();
    assert_eq!(decide(&manual, &facts(true, None, None), "photos"), Decision::Protect);
    assert!(matches!(decide(&manual, &facts(false, None, Some(true)), "photos"), Decision::Ignore(_)));
}
