//! `s3-dr failover --drill`, and `--here`: the failover steps run in this process, for a
//! rehearsal (nothing changes) or when the home region, where the workflow runs, is the one that
//! failed. The same ValidateFailover and PromoteDestination the `failover-bucket` workflow runs.

use serde_json::{json, Value};

use crate::clients::Clients;
use crate::config::Config;
use crate::error::DrError;
use crate::steps::{run_step, Invocation, Step, StepContext};

use super::results::Promoted;

pub struct Request<'a> {
    pub force: bool,
    pub drill: bool,
    pub mrap: Option<&'a str>,
}

pub async fn run_here(
    clients: &Clients,
    config: &Config,
    buckets: &[String],
    request: Request<'_>,
) -> Result<(), String> {
    let account_id = clients.account_id().await.ok();
    let context = StepContext { config, clients, account_id, dry_run: false, deadline: None };
    let mut failures = Vec::new();
    for bucket in buckets {
        match failover_one(&context, bucket, &request).await {
            Ok(promoted) => print(bucket, &promoted),
            Err(error) => failures.push(format!("{bucket}: {}: {error}", error.error_type())),
        }
    }
    match failures.is_empty() {
        true => Ok(()),
        false => Err(format!("{} bucket(s) not failed over:\n  {}", failures.len(), failures.join("\n  "))),
    }
}

async fn failover_one(context: &StepContext<'_>, bucket: &str, request: &Request<'_>) -> Result<Value, DrError> {
    let input = json!({ "bucket": bucket, "force": request.force, "drill": request.drill, "mrap": request.mrap });
    let plan = run_step(context, Step::ValidateFailover, &input, Invocation::default()).await?;
    let state = json!({ "ValidateFailover": plan });
    run_step(context, Step::PromoteDestination, &state, Invocation::default()).await
}

fn print(bucket: &str, promoted: &Value) {
    let promoted: Promoted = serde_json::from_value(promoted.clone()).unwrap_or_default();
    println!("{bucket}: {}", promoted.summary);
    for warning in &promoted.warnings {
        println!("  warning: {warning}");
    }
    if promoted.mrap.is_none() {
        println!("  without an access point, the application changes:");
        for change in &promoted.application_changes {
            println!("    {change}");
        }
    }
}
