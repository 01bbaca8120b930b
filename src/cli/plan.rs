//! `s3-dr plan`: the protect workflow's steps run here, in dry-run mode: every read the
//! workflow makes, no write, and for each step what it would change. Refusals show up exactly
//! as the workflow would raise them.

use serde_json::json;

use crate::clients::Clients;
use crate::config::Config;
use crate::steps::{dispatch, Step, StepContext};

use super::protect::step_summary;

/// The protect steps but the last (VerifyProtection checks what a dry run did not do).
const STEPS: &[Step] = Step::PROTECT.split_at(7).0;

pub async fn run(clients: &Clients, config: &Config, buckets: &[String]) -> Result<(), String> {
    // As the Lambda knows it: HeadBucket asks with the expected owner, and batch needs it.
    let account_id = clients.account_id().await.map_err(|e| format!("{}: {e}", e.error_type()))?;
    let context = StepContext { config, clients, account_id: Some(account_id), dry_run: true, deadline: None };
    let mut failures = Vec::new();
    for bucket in buckets {
        match plan_bucket(&context, bucket).await {
            Ok(changes) => println!("{bucket}: plan: {changes} step(s) would change something"),
            Err(reason) => {
                println!("{bucket}: {reason}");
                failures.push(format!("{bucket}: {reason}"));
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("{} bucket(s) would be refused:\n  {}", failures.len(), failures.join("\n  ")))
    }
}

/// The number of steps that would change something, or the refusal.
async fn plan_bucket(context: &StepContext<'_>, bucket: &str) -> Result<usize, String> {
    let mut state = json!({ "bucket": bucket });
    let mut changes = 0;
    for &step in STEPS {
        // A dry run looks at the first page of a copy backfill; a batch job it does not start.
        let copy_to_do = state.pointer("/StartBackfill/strategy") == Some(&json!("copy"))
            && state.pointer("/StartBackfill/done") != Some(&json!(true));
        if step == Step::CheckBackfill && !copy_to_do {
            continue;
        }
        state = dispatch(context, &json!({ "step": step.name(), "input": state }))
            .await
            .map_err(|error| format!("{} at {}: {error}", error.error_type(), step.name()))?;
        let output = &state[step.name()];
        if step == Step::ValidateSource && output["action"] != "protect" {
            let action = if output["action"] == "detach" { "would start the detach workflow" } else { "nothing to do" };
            println!("{bucket}:   - ValidateSource: {action} ({})", output["reason"].as_str().unwrap_or(""));
            return Ok(usize::from(output["action"] == "detach"));
        }
        let line = match step {
            Step::CheckBackfill => format!(
                "would copy {} objects ({} bytes) of the first page, {} already there{}",
                output["objectsCopied"],
                output["bytesCopied"],
                output["objectsSkipped"],
                if output["done"] == true { "" } else { "; more pages follow" }
            ),
            _ => step_summary(output).replacen("changed", "would change", 1),
        };
        if output["changed"] == true {
            changes += 1;
        }
        println!("{bucket}:   - {}: {line}", step.name());
    }
    Ok(changes)
}
