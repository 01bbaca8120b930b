//! The Lambda handler: one function for every step of every workflow.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::clients::Clients;
use crate::config::Config;
use crate::error::DrError;
use crate::steps::{dispatch, StepContext};

/// Built once per container: the configuration (or why it is invalid) and the clients.
pub struct Handler {
    pub config: Result<Config, DrError>,
    pub clients: Clients,
}

impl Handler {
    pub async fn handle(&self, event: LambdaEvent<Box<RawValue>>) -> Result<Value, Diagnostic> {
        let payload = parse_payload(event.payload.get())?;
        let config = self.config.as_ref().map_err(|error| Diagnostic::from(error.clone()))?;
        let context = StepContext {
            config,
            clients: &self.clients,
            account_id: account_of(&event.context.invoked_function_arn),
            dry_run: false,
            deadline: Some(UNIX_EPOCH + Duration::from_millis(event.context.deadline)),
        };
        let started = Instant::now();
        let result = dispatch(&context, &payload).await;
        if let Some(step) = payload.get("step").and_then(Value::as_str) {
            let outcome = result.as_ref().map_or_else(DrError::error_type, |_| "Succeeded");
            // CloudWatch turns these lines into metrics (the dashboard's step durations, the
            // backfill's outcome and its alarm).
            println!("{}", step_metrics(step, outcome, started.elapsed(), SystemTime::now()));
            let outcome_records = result.as_ref().ok().map(|state| {
                let now = SystemTime::now();
                [backfill_metrics(step, state, now), sweep_metrics(step, state, now), verify_metrics(step, state, now)]
            });
            for record in outcome_records.into_iter().flatten().flatten() {
                println!("{record}");
            }
        }
        result.map_err(Diagnostic::from)
    }
}

/// The invocation's payload, parsed here rather than by `lambda_runtime`: its own parse
/// fails on JSON nested deeper than serde_json's limit (128) with an error named after a Rust
/// type (`&lambda_runtime::deserializer::DeserializeError`), which no Catch can name. Taken as
/// raw text (serde_json checks its syntax without recursing), any payload gets `InvalidInput`.
pub fn parse_payload(raw: &str) -> Result<Value, DrError> {
    serde_json::from_str(raw).map_err(|e| {
        DrError::InvalidInput(format!(
            "the request cannot be read as JSON ({e}); a step's input is a JSON object no deeper than 128 levels"
        ))
    })
}

/// One CloudWatch embedded-metric-format record: `StepDuration` (ms) and `StepInvocations`
/// in namespace `s3-dr`, by `Step` (and by `Step` and `Outcome`, the errorType or Succeeded).
pub fn step_metrics(step: &str, outcome: &str, duration: Duration, now: SystemTime) -> Value {
    let timestamp = emf_timestamp(now);
    json!({
        "_aws": {
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": "s3-dr",
                "Dimensions": [["Step"], ["Step", "Outcome"]],
                "Metrics": [
                    {"Name": "StepDuration", "Unit": "Milliseconds"},
                    {"Name": "StepInvocations", "Unit": "Count"}
                ]
            }]
        },
        "Step": step,
        "Outcome": outcome,
        "StepDuration": duration.as_millis() as u64,
        "StepInvocations": 1
    })
}

/// When a backfill finishes: `BackfillObjectsCopied`, `BackfillObjectsFailed` and
/// `ObjectsNotReplicable` (objects S3 cannot copy: archived, SSE-C) in namespace `s3-dr`, with
/// no dimension (one metric each for the fleet, not one per bucket: `status` names the bucket).
pub fn backfill_metrics(step: &str, state: &Value, now: SystemTime) -> Option<Value> {
    let progress = state.get(step).filter(|_| step == "CheckBackfill")?;
    if progress.get("done") != Some(&Value::Bool(true)) {
        return None;
    }
    Some(fleet_counts(
        progress,
        &[
            ("BackfillObjectsCopied", "objectsCopied"),
            ("BackfillObjectsFailed", "objectsFailed"),
            ("ObjectsNotReplicable", "objectsNotReplicable"),
        ],
        now,
    ))
}

/// After a sweep: `SweepBucketsFailed` (buckets it could not check; the alarm's metric) and
/// `SweepBucketsDeferred` (starts left to the next sweep by the start window), no dimension.
pub fn sweep_metrics(step: &str, state: &Value, now: SystemTime) -> Option<Value> {
    let report = state.get(step).filter(|_| step == "Sweep")?;
    Some(fleet_counts(report, &[("SweepBucketsFailed", "failed"), ("SweepBucketsDeferred", "deferred")], now))
}

/// After a verification: `ObjectsMissingInDr` and `RecoveryPointSeconds`, per bucket (dimension
/// `Bucket`: the dashboard graphs each over time) and for the fleet (no dimension: the alarms).
pub fn verify_metrics(step: &str, state: &Value, now: SystemTime) -> Option<Value> {
    let result = state.get(step).filter(|_| step == "VerifyData")?;
    let bucket = result.get("bucket").and_then(Value::as_str)?;
    let count = |field: &str| result.get(field).and_then(Value::as_u64).unwrap_or(0);
    Some(json!({
        "_aws": {
            "Timestamp": emf_timestamp(now),
            "CloudWatchMetrics": [{
                "Namespace": "s3-dr",
                "Dimensions": [["Bucket"], []],
                "Metrics": [
                    {"Name": "ObjectsMissingInDr", "Unit": "Count"},
                    {"Name": "RecoveryPointSeconds", "Unit": "Seconds"}
                ]
            }]
        },
        "Bucket": bucket,
        "ObjectsMissingInDr": count("missingInDr"),
        "RecoveryPointSeconds": count("recoveryPointSeconds"),
    }))
}

/// One EMF record of counts without a dimension in namespace `s3-dr`: each (metric, field of
/// `source`), a missing field counting 0.
fn fleet_counts(source: &Value, metrics: &[(&str, &str)], now: SystemTime) -> Value {
    let timestamp = emf_timestamp(now);
    let names: Vec<Value> = metrics.iter().map(|(name, _)| json!({"Name": name, "Unit": "Count"})).collect();
    let mut record = json!({
        "_aws": {
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{"Namespace": "s3-dr", "Dimensions": [[]], "Metrics": names}]
        }
    });
    if let Value::Object(fields) = &mut record {
        for (name, field) in metrics {
            fields.insert((*name).to_owned(), source.get(field).and_then(Value::as_u64).unwrap_or(0).into());
        }
    }
    record
}

/// EMF's `Timestamp`: milliseconds since the epoch.
fn emf_timestamp(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// `arn:aws:lambda:us-east-1:123456789012:function:name` -> `123456789012`
pub fn account_of(function_arn: &str) -> Option<String> {
    function_arn
        .split(':')
        .nth(4)
        .filter(|account| account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// A payload nested past serde_json's recursion limit still reaches us as text, and is
    /// answered with our own error name.
    #[test]
    fn a_payload_nested_too_deep_is_invalid_input() -> TestResult {
        let deep = format!("{}1{}", "[".repeat(300), "]".repeat(300));
        let raw: Box<RawValue> = serde_json::from_str(&format!(r#"{{"step": "ValidateSource", "input": {deep}}}"#))?;
        let error = parse_payload(raw.get()).err().ok_or("parsed")?;
        assert_eq!(error.error_type(), "InvalidInput");
        assert!(error.to_string().contains("128 levels"), "{error}");
        assert!(parse_payload(r#"{"step": "Sweep", "input": {}}"#).is_ok());
        Ok(())
    }

    #[test]
    fn account_comes_from_the_function_arn() {
        assert_eq!(account_of("arn:aws:lambda:us-east-1:123456789012:function:s3-dr").as_deref(), Some("123456789012"));
        assert_eq!(account_of(""), None);
        assert_eq!(account_of("arn:aws:lambda:us-east-1::function:x"), None);
    }

    #[test]
    fn a_finished_backfill_reports_its_counts_as_metrics() -> TestResult {
        let state = json!({"CheckBackfill": {"done": true, "objectsCopied": 7, "objectsNotReplicable": 2}});
        let record = backfill_metrics("CheckBackfill", &state, UNIX_EPOCH).ok_or("no record")?;
        assert_eq!(
            (record["ObjectsNotReplicable"].as_u64(), record["BackfillObjectsCopied"].as_u64()),
            (Some(2), Some(7))
        );
        assert_eq!(record["BackfillObjectsFailed"], 0);
        let metrics = record["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().ok_or("no Metrics list")?;
        for metric in metrics {
            assert!(record[metric["Name"].as_str().ok_or("a metric without a name")?].is_number(), "{metric}");
        }
        let running = json!({"CheckBackfill": {"done": false, "objectsCopied": 7}});
        assert_eq!(backfill_metrics("CheckBackfill", &running, UNIX_EPOCH), None);
        assert_eq!(backfill_metrics("StartBackfill", &state, UNIX_EPOCH), None);
        Ok(())
    }

    #[test]
    fn a_verification_reports_its_figures_per_bucket_and_for_the_fleet() -> TestResult {
        let state = json!({"bucket": "photos", "VerifyData": {"bucket": "photos", "missingInDr": 3, "recoveryPointSeconds": 86400}});
        let record = verify_metrics("VerifyData", &state, UNIX_EPOCH).ok_or("no record")?;
        assert_eq!(
            (record["ObjectsMissingInDr"].as_u64(), record["RecoveryPointSeconds"].as_u64()),
            (Some(3), Some(86400))
        );
        assert_eq!(record["Bucket"], "photos");
        assert_eq!(record["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["Bucket"], []]));
        assert_eq!(verify_metrics("Sweep", &state, UNIX_EPOCH), None);
        Ok(())
    }

    #[test]
    fn a_sweep_reports_its_failures_and_deferrals_as_metrics() -> TestResult {
        // The state the dispatcher returns: the input, and the step's report under its name.
        let report = json!({"requestedBy": "schedule", "Sweep": {"scanned": 9, "failed": 2, "deferred": 1}});
        let record = sweep_metrics("Sweep", &report, UNIX_EPOCH).ok_or("no record")?;
        assert_eq!(
            (record["SweepBucketsFailed"].as_u64(), record["SweepBucketsDeferred"].as_u64()),
            (Some(2), Some(1))
        );
        assert_eq!(sweep_metrics("CheckBackfill", &report, UNIX_EPOCH), None);
        Ok(())
    }

    #[test]
    fn step_metrics_are_embedded_metric_format() -> TestResult {
        let record = step_metrics("CheckBackfill", "Succeeded", Duration::from_millis(1234), UNIX_EPOCH);
        assert_eq!(record["StepDuration"], 1234);
        assert_eq!(record["Step"], "CheckBackfill");
        assert_eq!(record["_aws"]["CloudWatchMetrics"][0]["Namespace"], "s3-dr");
        let metrics = record["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().ok_or("no Metrics list")?;
        // Every metric named in the directive is a member of the record, as EMF requires.
        for metric in metrics {
            assert!(record[metric["Name"].as_str().ok_or("a metric without a name")?].is_number(), "{metric}");
        }
        Ok(())
    }
}
