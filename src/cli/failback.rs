//! `s3-dr failback --here`: the failback steps run in this process, in the order the
//! `failback-bucket` workflow runs them (each step's output added to the state under its name,
//! as the Lambda answers), for when the home region's workflow cannot be used.

use serde_json::Value;

use crate::clients::Clients;
use crate::config::Config;
use crate::error::DrError;
use crate::steps::{run_step, Invocation, Step, StepContext};

pub async fn run_here(clients: &Clients, config: &Config, inputs: &[Value]) -> Result<(), String> {
    let account_id = clients.account_id().await.ok();
    let context = StepContext { config, clients, account_id, dry_run: false, deadline: None };
    let mut failures = Vec::new();
    for input in inputs {
        let bucket = input.get("bucket").and_then(Value::as_str).unwrap_or_default();
        match failback_one(&context, input).await {
            Ok(summary) => println!("{bucket}: {summary}"),
            Err(error) => failures.push(format!("{bucket}: {}: {error}", error.error_type())),
        }
    }
    match failures.is_empty() {
        true => Ok(()),
        false => Err(format!("{} bucket(s) not failed back:\n  {}", failures.len(), failures.join("\n  "))),
    }
}

async fn failback_one(context: &StepContext<'_>, input: &Value) -> Result<String, DrError> {
    let mut state = input.clone();
    step(context, Step::ValidateFailback, &mut state).await?;
    let mut said = vec![step(context, Step::PrepareHome, &mut state).await?];
    for pass in [1, 2] {
        if pass == 2 {
            said.push(step(context, Step::RouteHome, &mut state).await?);
            let settle = state.pointer("/RouteHome/settleSeconds").and_then(Value::as_u64).unwrap_or(0);
            tokio::time::sleep(std::time::Duration::from_secs(settle)).await;
        }
        loop {
            let summary = step(context, Step::BringHome, &mut state).await?;
            if state.pointer("/BringHome/done") == Some(&Value::Bool(true)) {
                said.push(summary);
                break;
            }
        }
    }
    loop {
        let summary = step(context, Step::VerifyHome, &mut state).await?;
        if state.pointer("/VerifyHome/complete") == Some(&Value::Bool(true)) {
            said.push(summary);
            break;
        }
    }
    said.push(step(context, Step::FinishFailback, &mut state).await?);
    Ok(said.join("\n  "))
}

/// Run `step` on `state`, add its output under its name, and return its summary.
async fn step(context: &StepContext<'_>, step: Step, state: &mut Value) -> Result<String, DrError> {
    let output = run_step(context, step, state, Invocation::default()).await?;
    let summary = output.get("summary").and_then(Value::as_str).unwrap_or_default().to_owned();
    if let Some(fields) = state.as_object_mut() {
        fields.insert(step.name().to_owned(), output);
    }
    Ok(summary)
}
