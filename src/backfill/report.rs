//! A Batch Replication job's completion report, read when the job completed with failed tasks:
//! which of them S3 cannot replicate at all (archived objects: "Batch replication is not
//! supported for objects stored in the S3 Glacier Flexible Retrieval and S3 Glacier Deep Archive
//! storage classes", https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-batch-replication-batch.html)
//! and which failed for a reason to fix. Without this, a bucket holding one archived object
//! would fail its backfill on every run, and start a new job each time.
//!
//! Layout (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-job-status.html,
//! "Completion reports"): `<prefix>/job-<job id>/manifest.json` lists the result files with
//! their `TaskExecutionStatus`; each is a CSV of `Bucket, Key, VersionId, TaskStatus, ErrorCode,
//! HTTPStatusCode, ResultMessage` (the manifest's `ReportSchema` says the columns), keys
//! URL-encoded. The failed files are streamed line by line: a report may list millions.

use serde_json::Value;
use tokio::io::AsyncBufReadExt;

use crate::error::{AwsResultExt, DrError, ARCHIVED_OBJECT_CODES};

/// Keys kept as examples (the counts are complete).
const SAMPLE: usize = 10;
const DEFAULT_SCHEMA: &str = "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage";

/// The failed tasks of a job, sorted into what S3 cannot replicate and what failed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failures {
    pub not_replicable: u64,
    pub not_replicable_sample: Vec<String>,
    pub failed: u64,
    pub failed_sample: Vec<String>,
}

impl Failures {
    /// Sort one CSV row (columns named by `schema`).
    pub fn add_row(&mut self, schema: &[String], row: &[String]) {
        let column = |name: &str| {
            schema.iter().position(|c| c.eq_ignore_ascii_case(name)).and_then(|i| row.get(i)).map(String::as_str)
        };
        if column("TaskStatus").is_some_and(|status| !status.eq_ignore_ascii_case("failed")) {
            return;
        }
        let key = column("Key").map(decode_key).unwrap_or_default();
        let code = column("ErrorCode").unwrap_or_default();
        let message = column("ResultMessage").unwrap_or_default();
        let lowered = message.to_ascii_lowercase();
        let archived = ARCHIVED_OBJECT_CODES.contains(&code)
            || ["glacier", "archive", "restore"].iter().any(|word| lowered.contains(word));
        if archived {
            self.not_replicable += 1;
            if self.not_replicable_sample.len() < SAMPLE {
                self.not_replicable_sample.push(format!("{key}: archived ({code}), not restored"));
            }
        } else {
            self.failed += 1;
            if self.failed_sample.len() < SAMPLE {
                self.failed_sample.push(format!("{key}: {code} {message}").trim().to_owned());
            }
        }
    }
}

/// The report's failed result files (bucket-relative keys) and its column names, from its
/// `manifest.json`.
pub fn failed_results(manifest: &Value) -> Result<(Vec<String>, Vec<String>), String> {
    let results = manifest.get("Results").and_then(Value::as_array).ok_or("the report manifest has no Results list")?;
    let failed = results
        .iter()
        .filter(|r| r.get("TaskExecutionStatus").and_then(Value::as_str) == Some("failed"))
        .map(|r| r.get("Key").and_then(Value::as_str).map(str::to_owned).ok_or("a result without a Key"))
        .collect::<Result<Vec<_>, _>>()?;
    let schema = manifest.get("ReportSchema").and_then(Value::as_str).unwrap_or(DEFAULT_SCHEMA);
    Ok((failed, schema.split(',').map(|c| c.trim().to_owned()).collect()))
}

/// One CSV line into fields: commas split, double quotes enclose, `""` is a quote.
pub fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

fn decode_key(key: &str) -> String {
    percent_encoding::percent_decode_str(&key.replace('+', " ")).decode_utf8_lossy().into_owned()
}

/// Read the failed tasks of job `job_id` from its report under `prefix` in `bucket`.
pub async fn read_failures(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    job_id: &str,
) -> Result<Failures, DrError> {
    let manifest_key = format!("{}/job-{job_id}/manifest.json", prefix.trim_end_matches('/'));
    let manifest = s3.get_object().bucket(bucket).key(&manifest_key).send().await.aws(bucket, "GetObject")?;
    let bytes = manifest.body.collect().await.map_err(|e| DrError::TransientAwsError {
        bucket: bucket.to_owned(),
        operation: "GetObject",
        detail: format!("reading {manifest_key}: {e}"),
    })?;
    let manifest: Value =
        serde_json::from_slice(&bytes.into_bytes()).map_err(|e| unreadable(bucket, &manifest_key, &e.to_string()))?;
    let (files, schema) = failed_results(&manifest).map_err(|why| unreadable(bucket, &manifest_key, &why))?;
    let mut failures = Failures::default();
    for file in files {
        let object = s3.get_object().bucket(bucket).key(&file).send().await.aws(bucket, "GetObject")?;
        let mut lines = tokio::io::BufReader::new(object.body.into_async_read()).lines();
        loop {
            let line = lines.next_line().await.map_err(|e| DrError::TransientAwsError {
                bucket: bucket.to_owned(),
                operation: "GetObject",
                detail: format!("reading {file}: {e}"),
            })?;
            match line {
                Some(line) if !line.trim().is_empty() => failures.add_row(&schema, &csv_fields(&line)),
                Some(_) => {}
                None => break,
            }
        }
    }
    Ok(failures)
}

fn unreadable(bucket: &str, key: &str, why: &str) -> DrError {
    DrError::AwsRequestFailed {
        bucket: bucket.to_owned(),
        operation: "GetObject",
        code: "UnreadableReport".to_owned(),
        message: format!("the completion report s3://{bucket}/{key} cannot be read: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn csv_lines_split_on_commas_outside_quotes() {
        assert_eq!(
            csv_fields(r#"b,k,v,failed,403,403,"Access Denied, ""really""""#),
            vec!["b", "k", "v", "failed", "403", "403", r#"Access Denied, "really""#]
        );
        assert_eq!(csv_fields("a,,c"), vec!["a", "", "c"]);
    }

    #[test]
    fn archived_objects_are_told_apart_from_failures() -> TestResult {
        let manifest = json!({
            "Format": "Report_CSV_20180820",
            "ReportCreationDate": "2026-11-26T12:00:00Z",
            "Results": [
                {"TaskExecutionStatus": "failed", "Bucket": "reports", "MD5Checksum": "x", "Key": "p/job-1/results/a.csv"},
                {"TaskExecutionStatus": "succeeded", "Bucket": "reports", "MD5Checksum": "y", "Key": "p/job-1/results/b.csv"}
            ],
            "ReportSchema": "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage"
        });
        let (files, schema) = failed_results(&manifest)?;
        assert_eq!(files, vec!["p/job-1/results/a.csv"]);
        let mut failures = Failures::default();
        for line in [
            "photos,cold%2Fold+photo.tar,v1,failed,InvalidObjectState,403,The operation is not valid for the object's storage class",
            "photos,cold/deep.tar,v2,failed,400,400,Object is archived in S3 Glacier Deep Archive and must be restored first",
            "photos,hot/a.jpg,v3,failed,AccessDenied,403,Access Denied",
            "photos,hot/b.jpg,v4,succeeded,200,,Successful",
        ] {
            failures.add_row(&schema, &csv_fields(line));
        }
        assert_eq!((failures.not_replicable, failures.failed), (2, 1));
        assert_eq!(
            failures.not_replicable_sample[0],
            "cold/old photo.tar: archived (InvalidObjectState), not restored"
        );
        assert_eq!(failures.failed_sample, vec!["hot/a.jpg: AccessDenied Access Denied"]);
        assert!(failed_results(&json!({"Format": "x"})).is_err());
        Ok(())
    }
}
