use std::time::{Duration, SystemTime};

use aws_sdk_sfn::error::DisplayErrorContext;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent, HistoryEventType};
use futures::future::join_all;
use serde_json::{json, Value};

use crate::clients::Clients;

use super::progress::Progress;
use super::results::{error_message, StepResult, WorkflowResult};

const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Start `workflow` ("protect", "detach") once per bucket, with `extra` in each input; with
/// `wait`, follow each execution.
pub async fn run(
    clients: &Clients,
    workflow: &str,
    state_machine_arn: &str,
    buckets: &[String],
    extra: &[(&str, Value)],
    wait: bool,
) -> Result<(), String> {
    let inputs: Vec<(String, Value)> = buckets
        .iter()
        .map(|bucket| {
            let mut input = json!({ "bucket": bucket, "requestedBy": "s3-dr CLI" });
            if let Some(fields) = input.as_object_mut() {
                fields.extend(extra.iter().map(|(key, value)| ((*key).to_owned(), value.clone())));
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
                let result = WorkflowResult::from_output(described.output());
                if let Some(next) = result.continued_in() {
                    progress.println(&format!("{bucket}: the backfill goes on in execution {next}; following it"));
                    execution_arn = sibling_execution(&execution_arn, next);
                    printed_up_to = 0;
                    continue;
                }
                progress.println(&format!("{bucket}: SUCCEEDED, {}", result.outcome()));
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
            let result = StepResult::from_output(output.get(details.name()).filter(|r| !r.is_null())?);
            Some(format!("  - {}: {} [{} AWS calls]", details.name(), result.line(), result.aws_call_count()))
        }
        _ => None,
    }
}
