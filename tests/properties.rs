//! Property tests for everything that parses untrusted JSON or text: the trigger (an operator's
//! `{"bucket": ...}` or an EventBridge CloudTrail event), `decide`, the step request, the
//! backfill progress and its tags, the policy rewriter and the bucket-name rules. On arbitrary
//! JSON values and on mutations of the hand-written CloudTrail fixtures: never a panic, always `Ok`
//! or a named error. The same inputs through the real state machine: tests/hostile_inputs.rs.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::sample::Index;
use s3_dr::backfill::state::{cursor_prefix, Heartbeat, NotReplicable, Work};
use s3_dr::backfill::Progress;
use s3_dr::error::DrError;
use s3_dr::event::{decide, parse_trigger, BucketFacts, EventKind, Trigger};
use s3_dr::naming::{destination_bucket_name, is_valid_bucket_name, why_not_a_bucket_name};
use s3_dr::settings::rewrite_policy;
use s3_dr::steps::parse_request;
use serde_json::{json, Value};

/// Keys the parsers look for, so that arbitrary objects often reach past the first check.
const KEYS: &[&str] = &[
    "bucket",
    "detail",
    "eventSource",
    "eventName",
    "requestParameters",
    "bucketName",
    "resourceArn",
    "resources",
    "ARN",
    "Tagging",
    "TagSet",
    "Tag",
    "Key",
    "Value",
    "errorCode",
    "userIdentity",
    "awsRegion",
    "VersioningConfiguration",
    "Status",
    "step",
    "input",
    "ValidateSource",
    "StartBackfill",
    "CheckBackfill",
    "continueAfter",
    "Statement",
    "Resource",
    "NotResource",
];

/// Strings that have broken parsers elsewhere: empty, NUL, unicode, ARNs, names at the limits.
fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("s3.amazonaws.com".to_owned()),
        Just("PutBucketTagging".to_owned()),
        Just("DeleteBucketReplication".to_owned()),
        Just("EnsureDestination".to_owned()),
        Just("arn:aws:s3:::some-bucket".to_owned()),
        Just("arn:aws:s3:us-west-2:123456789012:accesspoint/ap".to_owned()),
        Just("a\u{0}b".to_owned()),
        Just("bücket-ñame".to_owned()),
        Just("\u{202e}evil".to_owned()),
        Just("x".repeat(64)),
        Just("y".repeat(256)),
        Just("copy:1700000000:exec:key".to_owned()),
        "[a-z0-9.-]{0,70}",
        any::<String>(),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![3 => prop::sample::select(KEYS).prop_map(str::to_owned), 1 => hostile_string()]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        hostile_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..8).prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

fn fixtures() -> Vec<(String, Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cloudtrail");
    let mut found: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read fixture").replace("BUCKET", "media-prod");
            (p.display().to_string(), serde_json::from_str(&text).expect("fixture is JSON"))
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(found.len() >= 10, "fixtures in {}", dir.display());
    found
}

/// Every JSON pointer in `value`, the root included.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(fields) => {
            for (k, v) in fields {
                pointers(v, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                pointers(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(Value),
    Remove,
    AddField(String, Value),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        json_value().prop_map(Mutation::Replace),
        Just(Mutation::Remove),
        (key(), json_value()).prop_map(|(k, v)| Mutation::AddField(k, v)),
    ]
}

/// Apply up to a few mutations at chosen places.
fn mutate(mut value: Value, changes: &[(Index, Mutation)]) -> Value {
    for (index, change) in changes {
        let mut all = Vec::new();
        pointers(&value, String::new(), &mut all);
        let pointer = index.get(&all).clone();
        match change {
            Mutation::Replace(new) if pointer.is_empty() => value = new.clone(),
            Mutation::Replace(new) => {
                if let Some(slot) = value.pointer_mut(&pointer) {
                    *slot = new.clone();
                }
            }
            Mutation::Remove => {
                let (parent, last) = pointer.rsplit_once('/').unwrap_or(("", ""));
                let last = last.replace("~1", "/").replace("~0", "~");
                match value.pointer_mut(parent) {
                    Some(Value::Object(fields)) => {
                        fields.remove(&last);
                    }
                    Some(Value::Array(items)) => {
                        if let Ok(i) = last.parse::<usize>() {
                            if i < items.len() {
                                items.remove(i);
                            }
                        }
                    }
                    _ => {}
                }
            }
            Mutation::AddField(k, v) => {
                if let Some(Value::Object(fields)) = value.pointer_mut(&pointer) {
                    fields.insert(k.clone(), v.clone());
                }
            }
        }
    }
    value
}

/// Every combination of what a bucket can look like when the Lambda decides.
fn all_facts() -> Vec<BucketFacts> {
    let mut all = Vec::new();
    for exists in [false, true] {
        for tagged in [false, true] {
            for destination_of in [None, Some("media-prod".to_owned()), Some("other".to_owned())] {
                for has_rule in [None, Some(false), Some(true)] {
                    for named_source in [None, Some("media-prod".to_owned())] {
                        all.push(BucketFacts {
                            exists,
                            tagged,
                            destination_of: destination_of.clone(),
                            has_rule,
                            named_source: named_source.clone(),
                        });
                    }
                }
            }
        }
    }
    all
}

/// The trigger's answer is `Ok` with a usable bucket name, or `InvalidInput`; what follows
/// from an `Ok` (its kind, description, echo check, and `decide` for every bucket state) never
/// panics either.
fn check_trigger(input: &Value) -> Result<(), TestCaseError> {
    match parse_trigger(input) {
        Err(DrError::InvalidInput(message)) => prop_assert!(!message.is_empty()),
        Err(other) => prop_assert!(false, "not InvalidInput: {other:?} for {input}"),
        Ok(trigger) => {
            if !matches!(trigger, Trigger::NotABucket { .. }) {
                prop_assert_eq!(why_not_a_bucket_name(trigger.bucket()), None, "{:?}", trigger);
            }
            let kind = trigger.kind();
            let _ = (trigger.describe(), trigger.own_echo(Some("arn:aws:iam::123456789012:role/s3-dr-step")));
            for facts in all_facts() {
                match decide(&kind, &facts, trigger.bucket()) {
                    s3_dr::event::Decision::AskSource(source) => prop_assert_ne!(source, trigger.bucket()),
                    s3_dr::event::Decision::Ignore(why) => prop_assert!(!why.is_empty()),
                    _ => {}
                }
            }
            if let EventKind::Irrelevant(why) = kind {
                prop_assert!(!why.is_empty());
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_json_is_a_trigger_or_invalid_input(input in json_value()) {
        check_trigger(&input)?;
        check_trigger(&json!({ "detail": input.clone() }))?;
        check_trigger(&json!({ "bucket": input }))?;
    }

    #[test]
    fn any_mutation_of_a_fixture_event_is_a_trigger_or_invalid_input(
        which in any::<Index>(),
        changes in prop::collection::vec((any::<Index>(), mutation()), 1..4),
    ) {
        let all = fixtures();
        let (_, event) = which.get(&all);
        check_trigger(&mutate(event.clone(), &changes))?;
    }

    #[test]
    fn any_step_request_is_parsed_or_invalid_input(request in json_value(), input in json_value()) {
        for event in [request.clone(), json!({ "step": request.clone(), "input": input.clone() }),
                      json!({ "step": "EnsureDestination", "input": input.clone() })] {
            match parse_request(&event) {
                Ok((_, parsed)) => prop_assert!(parsed.is_object()),
                Err(DrError::InvalidInput(message)) => prop_assert!(!message.is_empty()),
                Err(other) => prop_assert!(false, "not InvalidInput: {other:?}"),
            }
        }
    }

    #[test]
    fn any_backfill_progress_is_read_or_invalid_input(progress in json_value()) {
        for input in [progress.clone(), json!({ "StartBackfill": progress.clone() }),
                      json!({ "CheckBackfill": progress.clone(), "StartBackfill": {"changed": false} })] {
            match Progress::latest(&input) {
                Ok(found) => { let _ = found.resume_cursor(); }
                Err(DrError::InvalidInput(message)) => prop_assert!(!message.is_empty()),
                Err(other) => prop_assert!(false, "not InvalidInput: {other:?}"),
            }
        }
    }

    /// The progress tag is read back from S3, where anyone may have written it: any text
    /// parses or is refused, and what s3-dr writes always fits a tag value (256 characters of
    /// the allowed set) and reads back as the same work.
    #[test]
    fn progress_tags_fit_a_tag_value_and_read_back(
        text in any::<String>(),
        at in 0i64..=9_999_999_999,
        writer in prop_oneof![Just("x".repeat(80)), "[A-Za-z0-9_-]{0,81}"],
        detail in prop_oneof![Just("k".repeat(400)), any::<String>()],
        batch in any::<bool>(),
    ) {
        let _ = Heartbeat::parse(&text);
        let _ = NotReplicable::parse(&text);
        let cursor = cursor_prefix(&detail);
        prop_assert!(detail.starts_with(&cursor));
        let work = if batch && !cursor.is_empty() {
            Work::Batch { job_id: detail.clone() }
        } else {
            Work::Copy { after: detail.clone() }
        };
        let heartbeat = Heartbeat { at, writer: writer.clone(), work };
        let encoded = heartbeat.encode();
        prop_assert!(encoded.chars().count() <= 256, "{} characters: {encoded}", encoded.chars().count());
        prop_assert!(encoded.chars().all(|c| c.is_ascii_alphanumeric() || "+-=._:/@ ".contains(c)), "{encoded}");
        let read = Heartbeat::parse(&encoded).expect("reads back");
        prop_assert_eq!(read.at, at);
        match (&read.work, &heartbeat.work) {
            (Work::Copy { after: read }, Work::Copy { after }) => prop_assert_eq!(read, &cursor_prefix(after)),
            (Work::Batch { job_id: read }, Work::Batch { job_id }) => prop_assert_eq!(read, &cursor_prefix(job_id)),
            other => prop_assert!(false, "{other:?}"),
        }

        let not_replicable = NotReplicable { count: at as u64, example: Some(detail) };
        let encoded = not_replicable.encode();
        prop_assert!(encoded.len() <= 256, "{encoded}");
        prop_assert_eq!(NotReplicable::parse(&encoded).map(|n| n.count), Some(at as u64));
    }

    #[test]
    fn any_policy_text_is_rewritten_or_refused_by_name(text in any::<String>(), document in json_value()) {
        for policy in [text, document.to_string(), json!({ "Statement": document }).to_string()] {
            match rewrite_policy(&policy, "media-prod", "media-prod-dr") {
                Ok(_) => {}
                Err(DrError::InvalidSourcePolicy { bucket, detail }) => {
                    prop_assert_eq!(bucket, "media-prod");
                    prop_assert!(!detail.is_empty());
                }
                Err(other) => prop_assert!(false, "not InvalidSourcePolicy: {other:?}"),
            }
        }
    }

    /// Only ARNs of the source bucket and its objects move to the destination: an ARN of any
    /// other bucket, even one whose name starts or ends like the source's, is kept, and so is
    /// everything outside `Resource`/`NotResource`.
    #[test]
    fn policy_rewriting_never_touches_an_arn_of_another_bucket(
        source in "[a-z0-9][a-z0-9-]{1,20}[a-z0-9]",
        others in prop::collection::vec("[a-z0-9][a-z0-9.-]{1,25}[a-z0-9]", 0..4),
        picks in prop::collection::vec((0usize..8, any::<bool>(), prop_oneof![Just("aws"), Just("aws-cn")]), 1..12),
        as_list in any::<bool>(),
    ) {
        let destination = format!("{source}-dr");
        let mut buckets = vec![source.clone(), format!("{source}x"), format!("x{source}"), format!("{source}-other")];
        buckets.extend(others);
        let arns: Vec<(String, bool)> = picks
            .iter()
            .map(|(which, objects, partition)| {
                let bucket = &buckets[which % buckets.len()];
                let arn = if *objects { format!("arn:{partition}:s3:::{bucket}/*") } else { format!("arn:{partition}:s3:::{bucket}") };
                (arn, bucket == &source)
            })
            .collect();
        let resource: Value = if as_list {
            Value::Array(arns.iter().map(|(a, _)| Value::String(a.clone())).collect())
        } else {
            Value::String(arns[0].0.clone())
        };
        let condition = json!({ "ArnLike": { "aws:SourceArn": format!("arn:aws:s3:::{source}") } });
        let policy = json!({ "Version": "2012-10-17", "Statement": [
            { "Sid": source.clone(), "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": resource.clone(), "Condition": condition.clone() },
            { "Effect": "Allow", "Principal": { "AWS": format!("arn:aws:iam::123456789012:role/{source}") }, "Action": "s3:GetObject", "NotResource": resource },
        ]});
        let rewritten = rewrite_policy(&policy.to_string(), &source, &destination).expect("a valid policy");
        for (index, element) in [(0, "Resource"), (1, "NotResource")] {
            let statement = &rewritten["Statement"][index];
            let got: Vec<&str> = match &statement[element] {
                Value::String(one) => vec![one.as_str()],
                Value::Array(list) => list.iter().map(|a| a.as_str().unwrap()).collect(),
                other => return Err(TestCaseError::fail(format!("{element}: {other}"))),
            };
            let expected: Vec<String> = arns
                .iter()
                .take(got.len())
                .map(|(arn, ours)| if *ours { arn.replacen(&format!(":::{source}"), &format!(":::{destination}"), 1) } else { arn.clone() })
                .collect();
            prop_assert_eq!(got, expected);
            let original = &policy["Statement"][index];
            for kept in ["Sid", "Effect", "Principal", "Action", "Condition"] {
                prop_assert_eq!(&statement[kept], &original[kept]);
            }
        }
    }

    /// Any name that passes the input check gets a destination that is a valid new bucket name,
    /// the same on every run.
    #[test]
    fn every_acceptable_source_name_gets_a_valid_destination(name in prop_oneof![hostile_string(), "[A-Za-z0-9._-]{3,255}"]) {
        if why_not_a_bucket_name(&name).is_none() {
            let destination = destination_bucket_name(&name, "-dr");
            prop_assert!(is_valid_bucket_name(&destination), "{name} -> {destination}");
            prop_assert_eq!(destination_bucket_name(&name, "-dr"), destination);
        }
    }
}

/// The fixtures themselves: each is a trigger or a named refusal, and the corpus covers the
/// events the rule forwards.
#[test]
fn every_fixture_event_is_understood() {
    let names: BTreeSet<String> = fixtures()
        .iter()
        .filter_map(|(_, event)| parse_trigger(event).ok())
        .map(|trigger| trigger.describe())
        .collect();
    assert!(names.contains("CloudTrail PutBucketTagging"), "{names:?}");
}
