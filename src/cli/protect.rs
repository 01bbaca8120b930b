use std::time::{Duration, SystemTime};

use aws_sdk_sfn::error::DisplayErrorContext;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent, HistoryEventType};
use futures::future::join_all;
use serde_json::{json, Value};

use crate::clients::Clients;

use super::progress::Progress;

const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Start `workflow` ("protect", "detach") once per bucket, with `extra` in each input; with
/// `wait`, follow each execution.
pub async fn run(
    clients: &Clients,
    workflow: &str,
    state_machine_arn: &str,
    buckets: &[String],
    extra: Option<(&str, Value)>,
    wait: bool,
) -> Result<(), String> {
    let inputs: Vec<(String, Value)> = buckets
        .iter()
        .map(|bucket| {
            let mut input = json!({ "bucket": bucket, "requestedBy": "s3-dr CLI" });
            if let (Some((key, value)), Some(fields)) = (&extra, input.as_object_mut()) {
                fields.insert((*key).to_owned(), value.clone());
            }
            (bucket.clone(), input)
        })
        .collect();
    start_and_follow(clients, workflow, state_machine_arn, &inputs, wait).await
}

/// Start one execution per (label, input); with `wait`, follow them all.
pub async fn start_and_follow(
    clients: &Clients,
    workflow: &str,
    state_machine_arn: &str,
    inputs: &[(String, Value)],
    wait: bool,
) -> Result<(), String> {
    let sfn = clients.sfn();
    let mut started = Vec::new();
    let mut failures = Vec::new();
    for (bucket, input) in inputs {
        let name = crate::executions::manual_execution_name(workflow, bucket, SystemTime::now());
        let request = sfn.start_execution().state_machine_arn(state_machine_arn).name(&name).input(input.to_string());
        match request.send().await {
            Ok(output) => {
                println!("{bucket}: started {name}");
                started.push((bucket.clone(), output.execution_arn().to_owned()));
            }
            Err(error) => {
                failures.push(format!("{bucket}: could not start an execution: {}", DisplayErrorContext(&error)))
            }
        }
    }
    if wait {
        let progress = Progress::new(started.len() as u64, "executions finished");
        let outcomes = join_all(started.iter().map(|(bucket, arn)| {
            let (progress, sfn) = (&progress, &sfn);
            async move {
                let outcome = follow(sfn, bucket, arn, progress).await;
                progress.advance();
                outcome
            }
        }))
        .await;
        progress.finish();
        failures.extend(outcomes.into_iter().filter_map(Result::err));
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("{} bucket(s) failed:\n  {}", failures.len(), failures.join("\n  ")))
    }
}

/// Print each step of one execution as it finishes, and of the executions it hands its
/// backfill over to; Err(one line) unless the last one succeeded.
async fn follow(
    sfn: &aws_sdk_sfn::Client,
    bucket: &str,
    execution_arn: &str,
    progress: &Progress,
) -> Result<(), String> {
    let mut execution_arn = execution_arn.to_owned();
    let mut printed_up_to = 0;
    let mut current_state = String::new();
    loop {
        let described = sfn
            .describe_execution()
            .execution_arn(&execution_arn)
            .send()
            .await
            .map_err(|e| format!("{bucket}: DescribeExecution failed: {}", DisplayErrorContext(&e)))?;
        let events =
            history(sfn, &execution_arn).await.map_err(|e| format!("{bucket}: GetExecutionHistory failed: {e}"))?;
        let seen = printed_up_to;
        for event in events.iter().filter(|e| e.id() > seen) {
            if let Some(line) = describe_event(event, &mut current_state) {
                progress.println(&format!("{bucket}: {line}"));
            }
            printed_up_to = event.id();
        }
        match described.status() {
            ExecutionStatus::Running | ExecutionStatus::PendingRedrive => tokio::time::sleep(POLL_INTERVAL).await,
            ExecutionStatus::Succeeded => {
                let output: Value =
                    described.output().and_then(|o| serde_json::from_str(o).ok()).unwrap_or(Value::Null);
                if let Some(next) = output.pointer("/ContinueAsNew/execution").and_then(Value::as_str) {
                    progress.println(&format!("{bucket}: the backfill goes on in execution {next}; following it"));
                    execution_arn = sibling_execution(&execution_arn, next);
                    printed_up_to = 0;
                    continue;
                }
                progress.println(&format!("{bucket}: SUCCEEDED, {}", outcome(&output)));
                return Ok(());
            }
            status => {
                let error = described.error().unwrap_or("unknown error");
                let cause = described.cause().map(error_message).unwrap_or_default();
                progress.println(&format!("{bucket}: {} with {error}: {cause}", status.as_str()));
                return Err(format!("{bucket}: {error}: {cause}"));
            }
        }
    }
}

/// The ARN of execution `name` of the same state machine as `execution_arn`
/// (`arn:aws:states:<region>:<account>:execution:<state machine>:<name>`).
fn sibling_execution(execution_arn: &str, name: &str) -> String {
    match execution_arn.rsplit_once(':') {
        Some((state_machine, _)) => format!("{state_machine}:{name}"),
        None => name.to_owned(),
    }
}

async fn history(sfn: &aws_sdk_sfn::Client, execution_arn: &str) -> Result<Vec<HistoryEvent>, String> {
    let mut events = Vec::new();
    let mut pages = sfn.get_execution_history().execution_arn(execution_arn).into_paginator().send();
    while let Some(page) = pages.next().await {
        events.extend(page.map_err(|e| DisplayErrorContext(&e).to_string())?.events().iter().cloned());
    }
    Ok(events)
}

fn describe_event(event: &HistoryEvent, current_state: &mut String) -> Option<String> {
    match event.r#type() {
        HistoryEventType::TaskStateEntered => {
            *current_state = event.state_entered_event_details()?.name().to_owned();
            None
        }
        HistoryEventType::TaskFailed => {
            let details = event.task_failed_event_details()?;
            let cause = details.cause().map(error_message).unwrap_or_default();
            Some(format!("  x {current_state}: {}: {cause}", details.error().unwrap_or("error")))
        }
        HistoryEventType::TaskStateExited => {
            let details = event.state_exited_event_details()?;
            let output: Value = details.output().and_then(|o| serde_json::from_str(o).ok()).unwrap_or(Value::Null);
            // A caught failure exits the state too, with no result: TaskFailed said it already.
            let result = output.get(details.name()).filter(|r| !r.is_null())?;
            let calls: u64 = result["awsCalls"].as_object().map_or(0, |c| c.values().filter_map(Value::as_u64).sum());
            Some(format!("  - {}: {} [{calls} AWS calls]", details.name(), step_summary(result)))
        }
        _ => None,
    }
}

/// One line for a step's output: whether it changed anything, and what.
pub fn step_summary(output: &Value) -> String {
    if output.get("action").and_then(Value::as_str) == Some("skip") {
        return format!("skip ({})", output["reason"].as_str().unwrap_or("not tagged"));
    }
    // The backfill steps say what they did in a line of their own.
    if let Some(summary) = output.get("summary").and_then(Value::as_str) {
        return summary.to_owned();
    }
    let changed = output.get("changed").and_then(Value::as_bool).unwrap_or(false);
    let details: Vec<String> = ["changes", "reasons"]
        .iter()
        .filter_map(|key| output.get(key).and_then(Value::as_array))
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    match (changed, details.is_empty()) {
        (false, _) => "no change".to_owned(),
        (true, true) => "changed".to_owned(),
        (true, false) => format!("changed ({})", details.join(", ")),
    }
}

fn outcome(output: &Value) -> String {
    if let Some(sweep) = output.get("Sweep") {
        return sweep["summary"].as_str().unwrap_or("swept").to_owned();
    }
    if let Some(detach) = output.get("ValidateDetach") {
        return match detach["action"].as_str() {
            Some("detach") => format!(
                "detached: {} no longer replicates to {}",
                detach["bucket"].as_str().unwrap_or("?"),
                detach["destination"].as_str().unwrap_or("(no destination)")
            ),
            _ => format!("nothing to detach: {}", detach["reason"].as_str().unwrap_or("")),
        };
    }
    let validated = &output["ValidateSource"];
    if validated["action"] == "detach" {
        return format!("handed over to the detach workflow: {}", validated["reason"].as_str().unwrap_or(""));
    }
    if validated["action"] == "skip" {
        return format!("skipped: {}", validated["reason"].as_str().unwrap_or("not tagged"));
    }
    let warnings: Vec<&str> = output
        .pointer("/VerifyProtection/warnings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let warnings = if warnings.is_empty() { String::new() } else { format!("; warning: {}", warnings.join("; ")) };
    match validated["destination"]["bucket"].as_str() {
        Some(destination) => format!(
            "protected: {} ({}) -> {} ({}){warnings}",
            validated["bucket"].as_str().unwrap_or("?"),
            validated["region"].as_str().unwrap_or("?"),
            destination,
            validated["destination"]["region"].as_str().unwrap_or("?")
        ),
        None => "done".to_owned(),
    }
}

/// A Lambda error cause is `{"errorType", "errorMessage"}` JSON: show the message.
fn error_message(cause: &str) -> String {
    serde_json::from_str::<Value>(cause)
        .ok()
        .and_then(|v| v.get("errorMessage").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| cause.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries() {
        assert_eq!(step_summary(&json!({"changed": false})), "no change");
        assert_eq!(step_summary(&json!({"changed": true, "changes": ["created", "tags"]})), "changed (created, tags)");
        assert_eq!(
            step_summary(&json!({"action": "skip", "reason": "not tagged dr=true"})),
            "skip (not tagged dr=true)"
        );
    }
}
