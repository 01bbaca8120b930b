//! Starting workflow executions from the Lambda (the sweep, and an event that calls for a
//! detach), named so that two starters cannot run the same work on one bucket at once.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_sfn::operation::describe_execution::DescribeExecutionError;
use aws_sdk_sfn::operation::start_execution::StartExecutionError;
use serde_json::Value;

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
    let stamp = crate::clock::minute_stamp(UNIX_EPOCH + std::time::Duration::from_secs(window));
    let clean = name_part(bucket);
    let name = format!("{workflow}-{clean}-{stamp}");
    if name.len() <= MAX_NAME {
        return name;
    }
    let hash = crate::naming::hex_digest(bucket, 8);
    let room = MAX_NAME - workflow.len() - stamp.len() - hash.len() - 3;
    format!("{workflow}-{}-{hash}-{stamp}", &clean[..room.min(clean.len())])
}

/// A bucket name as an execution name may hold it: names allow letters, digits, '-' and '_';
/// bucket names may also hold '.' (and legacy ones other characters), which become '_'.
pub fn name_part(bucket: &str) -> String {
    bucket.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}

/// `<action>-<bucket>-<UTC time>-<4 hex>`, for a start by an operator (the CLI): readable,
/// unique per call, within the 80 characters Step Functions allows.
pub fn manual_execution_name(action: &str, bucket: &str, now: SystemTime) -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let bucket: String = name_part(bucket).chars().take(40).collect();
    let salt = since_epoch.subsec_nanos()
        ^ (std::process::id() << 16)
        ^ COUNTER.fetch_add(0x9e37, std::sync::atomic::Ordering::Relaxed);
    format!("{action}-{bucket}-{}-{:04x}", crate::clock::second_stamp(now), salt & 0xffff)
}

/// The name of the execution that continues `root`'s backfill for the `generation`th time:
/// `<root>-g<generation>`, the root cut (and followed by a hash of the whole) to fit 80
/// characters. Derived, never random: a hand-over that is retried asks for the same name and
/// finds the execution it started, so the backfill cannot fork.
pub fn continuation_name(root: &str, generation: u32) -> String {
    with_suffix(root, &format!("-g{generation}"))
}

/// The name of the `attempt`th execution of one window's work: the window's name, then
/// `<name>-a2`, `-a3`, ... for work asked for again after the previous one ended (a second drift
/// after a repair finished in the same 15 minutes). Deterministic, so that two starters of the
/// same attempt still collide on the name.
pub fn attempt_name(base: &str, attempt: u32) -> String {
    if attempt <= 1 {
        return base.to_owned();
    }
    with_suffix(base, &format!("-a{attempt}"))
}

/// `<root><suffix>`, the root cut (and followed by a hash of the whole) to fit 80 characters.
fn with_suffix(root: &str, suffix: &str) -> String {
    let name = format!("{root}{suffix}");
    if name.len() <= MAX_NAME {
        return name;
    }
    let hash = crate::naming::hex_digest(root, 8);
    let room = MAX_NAME - suffix.len() - hash.len() - 1;
    let cut: String = root.chars().take(room).collect();
    format!("{cut}-{hash}{suffix}")
}

/// Attempts per window before the work is left to the next window (the sweep, or the next
/// event): ten repairs of one bucket in 15 minutes is a person at work, not drift.
pub const MAX_ATTEMPTS_PER_WINDOW: u32 = 10;

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
        // The modeled variants first; ValidationException is not in DescribeExecution's model.
        Err(error) if error.as_service_error().is_some_and(DescribeExecutionError::is_execution_does_not_exist) => {
            Ok(Some(false))
        }
        Err(error) if error.as_service_error().is_some_and(DescribeExecutionError::is_invalid_arn) => Ok(None),
        Err(error) if aws_code(&error) == Some("ValidationException") => Ok(None),
        Err(error) => Err(error).aws(bucket, "DescribeExecution"),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Started {
    /// A new execution (its ARN).
    Started(String),
    /// Nothing started: an execution of this name exists (from `start`, one that is running:
    /// the same work under way; from `start_named`, the one asked for, running or not).
    AlreadyStarted(String),
}

/// Start an execution of exactly this name, once: if one of that name exists (running or not),
/// it is the one (a retried hand-over finds the successor it started; a continuation must never
/// fork).
pub async fn start_named(
    sfn: &aws_sdk_sfn::Client,
    state_machine_arn: &str,
    name: &str,
    bucket: &str,
    input: &Value,
) -> Result<Started, DrError> {
    match sfn.start_execution().state_machine_arn(state_machine_arn).name(name).input(input.to_string()).send().await {
        Ok(output) => Ok(Started::Started(output.execution_arn().to_owned())),
        Err(error) if error.as_service_error().is_some_and(StartExecutionError::is_execution_already_exists) => {
            Ok(Started::AlreadyStarted(name.to_owned()))
        }
        Err(error) => Err(error).aws(bucket, "StartExecution"),
    }
}

/// Start the window's work on `bucket` named `name`. Step Functions refuses a name that any
/// execution of the state machine has had (ExecutionAlreadyExists: running, or closed, for 90
/// days, https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html).
/// A running one is the same work under way; a closed one is work that was done, and the work
/// asked for now (a second drift in the same window) gets the next attempt's name, so that a
/// repair is never postponed to the next sweep by the name window.
pub async fn start(
    sfn: &aws_sdk_sfn::Client,
    state_machine_arn: &str,
    name: &str,
    bucket: &str,
    input: &Value,
) -> Result<Started, DrError> {
    let mut attempt = 1;
    loop {
        let attempt_name = attempt_name(name, attempt);
        match start_named(sfn, state_machine_arn, &attempt_name, bucket, input).await? {
            Started::Started(arn) => return Ok(Started::Started(arn)),
            Started::AlreadyStarted(_) => {
                let arn = execution_arn(state_machine_arn, &attempt_name);
                // Unknown (Step Functions cannot tell) counts as running: never a duplicate.
                let running = is_running(sfn, &arn, bucket).await?.unwrap_or(true);
                if running || attempt >= MAX_ATTEMPTS_PER_WINDOW {
                    return Ok(Started::AlreadyStarted(attempt_name));
                }
                attempt += 1;
            }
        }
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
    fn manual_names_are_readable_valid_and_unique() {
        let now = at(1_795_665_600); // 2026-11-26T04:00:00Z
        let a = manual_execution_name("protect", "my.photos", now);
        let b = manual_execution_name("protect", "my.photos", now);
        assert!(a.starts_with("protect-my_photos-20261126T040000Z-"), "{a}");
        assert_ne!(a, b);
        let long = manual_execution_name("protect", &"x".repeat(255), now);
        assert!(long.len() <= 80, "{long}");
        assert!(long.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
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
    fn attempts_after_the_first_are_suffixed_and_fit() {
        assert_eq!(attempt_name("protect-photos-20261126T0515", 1), "protect-photos-20261126T0515");
        assert_eq!(attempt_name("protect-photos-20261126T0515", 2), "protect-photos-20261126T0515-a2");
        let long = execution_name("protect", &"a".repeat(63), at(0));
        let second = attempt_name(&long, 10);
        assert!(second.len() <= 80 && second.ends_with("-a10"), "{second}");
        assert_eq!(second, attempt_name(&long, 10));
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
