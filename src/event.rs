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
    },
}

impl Trigger {
    pub fn bucket(&self) -> &str {
        match self {
            Trigger::Manual { bucket } | Trigger::CloudTrail { bucket, .. } => bucket,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Trigger::Manual { .. } => "manual".to_owned(),
            Trigger::CloudTrail { event_name, .. } => format!("CloudTrail {event_name}"),
        }
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
            .ok_or_else(|| DrError::InvalidInput(format!("\"bucket\" must be a string, got {bucket}")))?;
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
    let bucket = parameters.and_then(|p| p.get("bucketName")).and_then(Value::as_str).ok_or_else(|| {
        DrError::InvalidInput(format!("the CloudTrail {event_name} event has no detail.requestParameters.bucketName"))
    })?;
    Ok(Trigger::CloudTrail {
        bucket: checked_bucket(bucket)?,
        event_name: event_name.to_owned(),
        region: detail.get("awsRegion").and_then(Value::as_str).map(str::to_owned),
        tags: parameters.and_then(event_tags),
    })
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
    if naming::is_plausible_existing_bucket_name(bucket) {
        Ok(bucket.to_owned())
    } else {
        Err(DrError::InvalidInput(format!(
            "{bucket:?} is not a bucket name (3-255 characters of letters, digits, '.', '-', '_')"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
    fn manual_input() {
        assert_eq!(parse_trigger(&json!({"bucket": "photos"})).unwrap(), Trigger::Manual { bucket: "photos".into() });
    }

    #[test]
    fn cloudtrail_event_with_one_tag_is_an_object() {
        let trigger = parse_trigger(&put_bucket_tagging(json!({"Key": "dr", "Value": "true"}))).unwrap();
        assert_eq!(
            trigger,
            Trigger::CloudTrail {
                bucket: "photos".into(),
                event_name: "PutBucketTagging".into(),
                region: Some("us-west-2".into()),
                tags: Some(vec![Tag::new("dr", "true")]),
            }
        );
    }

    #[test]
    fn cloudtrail_event_with_several_tags_is_an_array() {
        let event = put_bucket_tagging(json!([{"Key": "team", "Value": "media"}, {"Key": "DR", "Value": "TRUE"}]));
        let Trigger::CloudTrail { tags, .. } = parse_trigger(&event).unwrap() else { panic!() };
        assert_eq!(tags, Some(vec![Tag::new("team", "media"), Tag::new("DR", "TRUE")]));
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
}
