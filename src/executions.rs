//! Starting workflow executions from the Lambda (the sweep, and an event that calls for a
//! detach), named so that two starters cannot run the same work on one bucket at once.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{aws_code, AwsResultExt, DrError};

/// Executions for one bucket and workflow started within the same window share a name, and Step
/// Functions refuses a second execution of a name: the second starter learns that the work is
/// already under way instead of doing it twice.
pub const DEDUP_WINDOW_SECONDS: u64 = 15 * 60;

/// Step Functions' limit on execution names.
const MAX_NAME: usize = 80;

/// `<workflow>-<bucket>-<window start, UTC>`, e.g. `protect-photos-20261126T0515`; a bucket name
/// too long for the 80-character limit is cut and followed by a hash of the whole name.
pub fn execution_name(workflow: &str, bucket: &str, now: SystemTime) -> String {
    let seconds = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let window = seconds - seconds % DEDUP_WINDOW_SECONDS;
    let stamp = aws_smithy_types::DateTime::from_secs(window as i64)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .map(|t| t.replace(['-', ':'], "").chars().take(13).collect::<String>())
        .unwrap_or_default();
    // Names allow letters, digits, '-' and '_'; bucket names may also hold '.'.
    let clean: String = bucket.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    let name = format!("{workflow}-{clean}-{stamp}");
    if name.len() <= MAX_NAME {
        return name;
    }
    let hash: String = Sha256::digest(bucket.as_bytes()).iter().take(4).map(|b| format!("{b:02x}")).collect();
    let room = MAX_NAME - workflow.len() - stamp.len() - hash.len() - 3;
    format!("{workflow}-{}-{hash}-{stamp}", &clean[..room.min(clean.len())])
}

/// The name of the execution that continues `root`'s backfill for the `generation`th time:
/// `<root>-g<generation>`, the root cut (and followed by a hash of the whole) to fit 80
/// characters. Derived, never random: a hand-over that is retried asks for the same name and
/// finds the execution it started, so the backfill cannot fork.
pub fn continuation_name(root: &str, generation: u32) -> String {
    let suffix = format!("-g{generation}");
    let name = format!("{root}{suffix}");
    if name.len() <= MAX_NAME {
        return name;
    }
    let hash: String = Sha256::digest(root.as_bytes()).iter().take(4).map(|b| format!("{b:02x}")).collect();
    let room = MAX_NAME - suffix.len() - hash.len() - 1;
    let cut: String = root.chars().take(room).collect();
    format!("{cut}-{hash}{suffix}")
}

/// `arn:aws:states:<region>:<account>:execution:<state machine>:<name>` from the state
/// machine's ARN.
pub fn execution_arn(state_machine_arn: &str, name: &str) -> String {
    format!("{}:{name}", state_machine_arn.replacen(":stateMachine:", ":execution:", 1))
}

/// Whether the execution still runs: false once it ended, or if there is none of that name;
/// None if Step Functions cannot tell (a name it takes for no valid ARN).
pub async fn is_running(sfn: &aws_sdk_sfn::Client, execution_arn: &str, bucket: &str) -> Result<Option<bool>, DrError> {
    match sfn.describe_execution().execution_arn(execution_arn).send().await {
        Ok(described) => Ok(Some(described.status() == &aws_sdk_sfn::types::ExecutionStatus::Running)),
        Err(error) if aws_code(&error) == Some("ExecutionDoesNotExist") => Ok(Some(false)),
        Err(error) if matches!(aws_code(&error), Some("InvalidArn" | "ValidationException")) => Ok(None),
        Err(error) => Err(error).aws(bucket, "DescribeExecution"),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Started {
    /// A new execution (its ARN).
    Started(String),
    /// An execution of this name exists (running, or finished within the window).
    AlreadyStarted(String),
}

pub async fn start(
    sfn: &aws_sdk_sfn::Client,
    state_machine_arn: &str,
    name: &str,
    bucket: &str,
    input: &Value,
) -> Result<Started, DrError> {
    match sfn.start_execution().state_machine_arn(state_machine_arn).name(name).input(input.to_string()).send().await {
        Ok(output) => Ok(Started::Started(output.execution_arn().to_owned())),
        Err(error) if aws_code(&error) == Some("ExecutionAlreadyExists") => {
            Ok(Started::AlreadyStarted(name.to_owned()))
        }
        Err(error) => Err(error).aws(bucket, "StartExecution"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn names_are_shared_within_a_window_and_differ_across() {
        // 2026-11-26T05:15:00Z and 14 minutes later: one window.
        let start = 1_795_670_100;
        assert_eq!(execution_name("protect", "photos", at(start)), "protect-photos-20261126T0515");
        assert_eq!(execution_name("protect", "photos", at(start + 14 * 60)), "protect-photos-20261126T0515");
        assert_eq!(execution_name("protect", "photos", at(start + 15 * 60)), "protect-photos-20261126T0530");
        assert_ne!(execution_name("detach", "photos", at(start)), execution_name("protect", "photos", at(start)));
    }

    #[test]
    fn continuations_are_named_from_the_root_and_the_generation() {
        assert_eq!(continuation_name("protect-photos-20261126T0515", 1), "protect-photos-20261126T0515-g1");
        assert_eq!(continuation_name("protect-photos-20261126T0515", 12), "protect-photos-20261126T0515-g12");
        let long = "x".repeat(80);
        let name = continuation_name(&long, 3);
        assert!(name.len() <= 80 && name.ends_with("-g3"), "{name}");
        assert_eq!(name, continuation_name(&long, 3));
        assert_ne!(name, continuation_name(&format!("{}y", "x".repeat(79)), 3));
    }

    #[test]
    fn execution_arns_are_made_from_the_state_machine() {
        assert_eq!(
            execution_arn("arn:aws:states:us-east-1:123456789012:stateMachine:s3-dr-protect-bucket", "x-g1"),
            "arn:aws:states:us-east-1:123456789012:execution:s3-dr-protect-bucket:x-g1"
        );
    }

    #[test]
    fn long_and_dotted_names_fit() {
        let long = "a".repeat(63);
        let name = execution_name("protect", &long, at(0));
        assert!(name.len() <= 80, "{name}");
        assert_ne!(name, execution_name("protect", &format!("{}b", "a".repeat(62)), at(0)));
        assert_eq!(execution_name("detach", "logs.example.com", at(0)), "detach-logs_example_com-19700101T0000");
    }
}
