//! `s3-dr plan`: the protect workflow's steps run here, in dry-run mode: every read the
//! workflow makes, no write, and for each step what it would change. Refusals show up exactly
//! as the workflow would raise them.

use serde::Deserialize;
use serde_json::json;

use crate::backfill::Strategy;
use crate::clients::Clients;
use crate::config::Config;
use crate::steps::{dispatch, Step, StepContext};

use crate::plan::{Action, SourcePlan};

use super::results::StepResult;

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
        let started = StepResult::from_output(&state[Step::StartBackfill.name()]);
        let copy_to_do = started.strategy == Some(Strategy::Copy) && !started.done;
        if step == Step::CheckBackfill && !copy_to_do {
            continue;
        }
        state = dispatch(context, &json!({ "step": step.name(), "input": state }))
            .await
            .map_err(|error| format!("{} at {}: {error}", error.error_type(), step.name()))?;
        let output = &state[step.name()];
        if step == Step::ValidateSource {
            let source = SourcePlan::deserialize(output).map_err(|e| format!("ValidateSource's result: {e}"))?;
            if source.action != Action::Protect {
                let detach = source.action == Action::Detach;
                let action = if detach { "would start the detach workflow" } else { "nothing to do" };
                println!("{bucket}:   - ValidateSource: {action} ({})", source.reason.unwrap_or_default());
                return Ok(usize::from(detach));
            }
        }
        let result = StepResult::from_output(output);
        let line = match step {
            Step::CheckBackfill => format!(
                "would copy {} objects ({} bytes) of the first page, {} already there{}",
                result.objects_copied,
                result.bytes_copied,
                result.objects_skipped,
                if result.done { "" } else { "; more pages follow" }
            ),
            _ => result.line().replacen("changed", "would change", 1),
        };
        if result.changed {
            changes += 1;
        }
        println!("{bucket}:   - {}: {line}", step.name());
    }
    Ok(changes)
}
