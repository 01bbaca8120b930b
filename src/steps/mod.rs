//! The steps of the workflows, one module each, named as the ASL states are named. The
//! dispatcher parses the raw event itself so a malformed payload becomes `InvalidInput`.
//!
//! Every step is idempotent: it reads, compares with what it wants, writes only the
//! difference, and reports `changed`.
//!
//! The Lambda answers with the step's input plus the step's output under the step's name
//! (`{"bucket": ..., "ValidateSource": {...}, "EnsureDestination": {...}}`), so each state of
//! the workflow sees what earlier ones found.

pub mod bring_home;
pub mod check_backfill;
pub mod clone_settings;
pub mod continue_as_new;
pub mod copy_shard;
pub mod detach_replication;
pub mod enable_replication;
pub mod enable_source_versioning;
pub mod ensure_destination;
pub mod finish_failback;
pub mod mark_destination_detached;
pub mod prepare_home;
pub mod promote_destination;
pub mod route_home;
pub mod start_backfill;
pub mod start_detach;
pub mod sweep;
pub mod validate_detach;
pub mod validate_failback;
pub mod validate_failover;
pub mod validate_source;
pub mod verify_data;
pub mod verify_home;
pub mod verify_protection;

use std::time::SystemTime;

use serde::Serialize;
use serde_json::Value;
use tracing::Instrument;

use crate::clients::Clients;
use crate::config::Config;
use crate::error::DrError;
use crate::plan::{Action, DestinationPlan, SourcePlan};

/// A step, named as its ASL state and its module (`EnsureDestination`,
/// `steps/ensure_destination.rs`); the names are derived from the variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::EnumString, strum::EnumIter)]
pub enum Step {
    ValidateSource,
    EnableSourceVersioning,
    EnsureDestination,
    EnableReplication,
    StartBackfill,
    CheckBackfill,
    CopyShard,
    ContinueAsNew,
    CloneSettings,
    VerifyProtection,
    StartDetach,
    ValidateDetach,
    DetachReplication,
    MarkDestinationDetached,
    Sweep,
    PlanSweep,
    SweepShard,
    VerifyData,
    ValidateFailover,
    PromoteDestination,
    ValidateFailback,
    PrepareHome,
    BringHome,
    RouteHome,
    VerifyHome,
    FinishFailback,
}

impl Step {
    /// The protect workflow's tasks, in order, as a run that protects a bucket goes. Settings
    /// are cloned after the backfill: lifecycle expiry must not act on the destination while a
    /// Batch Replication job fills it (see `clone_settings`).
    pub const PROTECT: [Step; 8] = [
        Step::ValidateSource,
        Step::EnableSourceVersioning,
        Step::EnsureDestination,
        Step::EnableReplication,
        Step::StartBackfill,
        Step::CheckBackfill,
        Step::CloneSettings,
        Step::VerifyProtection,
    ];

    /// The rest: the protect workflow's hand-overs (to a new execution of itself when the
    /// backfill outlives one execution's history, to detach), the detach workflow, the sweep,
    /// the verify workflow, the failover and failback workflows.
    pub const OTHERS: [Step; 18] = [
        Step::CopyShard,
        Step::ContinueAsNew,
        Step::StartDetach,
        Step::ValidateDetach,
        Step::DetachReplication,
        Step::MarkDestinationDetached,
        Step::Sweep,
        Step::PlanSweep,
        Step::SweepShard,
        Step::VerifyData,
        Step::ValidateFailover,
        Step::PromoteDestination,
        Step::ValidateFailback,
        Step::PrepareHome,
        Step::BringHome,
        Step::RouteHome,
        Step::VerifyHome,
        Step::FinishFailback,
    ];

    /// Every step the Lambda serves.
    pub fn all() -> impl Iterator<Item = Step> {
        <Step as strum::IntoEnumIterator>::iter()
    }

    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn parse(name: &str) -> Option<Step> {
        name.parse().ok()
    }
}

/// What every step can reach: configuration, clients, and who we are.
pub struct StepContext<'a> {
    pub config: &'a Config,
    pub clients: &'a Clients,
    /// From the invoked function ARN; lets HeadBucket tell "ours" from "someone else's".
    pub account_id: Option<String>,
    /// `s3-dr plan`: read everything, write nothing, and report what would change.
    pub dry_run: bool,
    /// When the Lambda invocation times out (None outside Lambda): long steps stop taking new
    /// work before it.
    pub deadline: Option<SystemTime>,
}

impl StepContext<'_> {
    /// The account id, which S3 Batch Operations (s3control) calls need.
    pub fn require_account_id(&self) -> Result<&str, DrError> {
        self.account_id.as_deref().ok_or_else(|| {
            DrError::InvalidConfig("batch backfill needs the account id (from the function ARN)".to_owned())
        })
    }
}

/// Who is asking, as the state machine passes it (`$$.Execution.Name`, `$$.StateMachine.Id`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Invocation<'a> {
    pub execution: Option<&'a str>,
    pub state_machine: Option<&'a str>,
}

/// `{"step": "<StateName>", "input": {...}, "execution": "<name>", "stateMachine": "<arn>"}`
/// (`execution` and `stateMachine` optional)
pub fn parse_request(event: &Value) -> Result<(Step, &Value), DrError> {
    let names: Vec<&str> = Step::all().map(Step::name).collect();
    let name = event.get("step").and_then(Value::as_str).ok_or_else(|| {
        DrError::InvalidInput(format!(
            r#"expected {{"step": "<one of {names:?}>", "input": {{...}}}}, got {}"#,
            abbreviate(event)
        ))
    })?;
    let step = Step::parse(name)
        .ok_or_else(|| DrError::InvalidInput(format!("unknown step {name:?}; known steps: {names:?}")))?;
    let input = event
        .get("input")
        .filter(|i| i.is_object())
        .ok_or_else(|| DrError::InvalidInput(format!("step {name}: \"input\" must be a JSON object")))?;
    Ok((step, input))
}

pub async fn dispatch(context: &StepContext<'_>, event: &Value) -> Result<Value, DrError> {
    let (step, input) = parse_request(event)?;
    let invocation = Invocation {
        execution: event.get("execution").and_then(Value::as_str),
        state_machine: event.get("stateMachine").and_then(Value::as_str),
    };
    // The Lambda runs one invocation at a time, so the counter holds this step's calls only.
    context.clients.take_call_counts();
    let mut output = run_step(context, step, input, invocation).await?;
    let calls = context.clients.take_call_counts();
    tracing::info!(step = step.name(), aws_calls = calls.values().sum::<u32>(), "AWS calls");
    if let Some(fields) = output.as_object_mut() {
        fields.insert("awsCalls".to_owned(), serde_json::json!(calls));
    }
    let mut state = input.clone();
    if let Some(fields) = state.as_object_mut() {
        fields.insert(step.name().to_owned(), output);
    }
    Ok(state)
}

/// Run one step and return its own output.
pub async fn run_step(
    context: &StepContext<'_>,
    step: Step,
    input: &Value,
    invocation: Invocation<'_>,
) -> Result<Value, DrError> {
    let bucket = match step {
        Step::ValidateSource | Step::ValidateDetach => {
            crate::event::parse_trigger(input).map(|t| t.bucket().to_owned()).unwrap_or_default()
        }
        Step::Sweep | Step::PlanSweep | Step::SweepShard => String::new(),
        Step::VerifyData | Step::ValidateFailover | Step::ValidateFailback => {
            input.get("bucket").and_then(Value::as_str).unwrap_or_default().to_owned()
        }
        _ => {
            ["/ValidateSource/bucket", "/ValidateDetach/bucket", "/ValidateFailover/bucket", "/ValidateFailback/bucket"]
                .iter()
                .find_map(|pointer| input.pointer(pointer).and_then(Value::as_str))
                .unwrap_or_default()
                .to_owned()
        }
    };
    let span = tracing::info_span!("step", step = step.name(), bucket = %bucket);
    // Each step's future is boxed: some (CloneSettings' many concurrent reads) are large, and
    // a caller's stack (a test thread, 2 MiB) should not have to hold them.
    async move {
        let result = match step {
            Step::ValidateSource => to_json(Box::pin(validate_source::run(context, input)).await),
            Step::EnableSourceVersioning => {
                let (plan, _) = plan(step, input)?;
                to_json(Box::pin(enable_source_versioning::run(context, &plan)).await)
            }
            Step::EnsureDestination => {
                let (plan, destination) = plan(step, input)?;
                to_json(Box::pin(ensure_destination::run(context, &plan, &destination)).await)
            }
            Step::EnableReplication => {
                let (plan, destination) = plan(step, input)?;
                to_json(Box::pin(enable_replication::run(context, &plan, &destination)).await)
            }
            Step::CloneSettings => {
                let (plan, destination) = plan(step, input)?;
                to_json(Box::pin(clone_settings::run(context, &plan, &destination)).await)
            }
            Step::StartBackfill => {
                let (plan, destination) = plan(step, input)?;
                to_json(Box::pin(start_backfill::run(context, &plan, &destination, input, invocation)).await)
            }
            Step::CheckBackfill => {
                let (plan, destination) = plan(step, input)?;
                to_json(Box::pin(check_backfill::run(context, &plan, &destination, input, invocation)).await)
            }
            Step::CopyShard => {
                let (plan, destination) = plan(step, input)?;
                to_json(Box::pin(copy_shard::run(context, &plan, &destination, input)).await)
            }
            Step::ContinueAsNew => {
                let (plan, destination) = plan(step, input)?;
                to_json(Box::pin(continue_as_new::run(context, &plan, &destination, input, invocation)).await)
            }
            Step::StartDetach => {
                let plan = source_plan(step, input)?;
                if plan.action != Action::Detach {
                    return Err(DrError::InvalidInput(format!(
                        "step StartDetach: ValidateSource did not ask to detach bucket {}",
                        plan.bucket
                    )));
                }
                to_json(Box::pin(start_detach::run(context, &plan)).await)
            }
            Step::ValidateDetach => to_json(Box::pin(validate_detach::run(context, input)).await),
            Step::DetachReplication => {
                let plan = detach_plan(step, input)?;
                to_json(Box::pin(detach_replication::run(context, &plan)).await)
            }
            Step::MarkDestinationDetached => {
                let plan = detach_plan(step, input)?;
                to_json(Box::pin(mark_destination_detached::run(context, &plan)).await)
            }
            Step::Sweep if !input.is_object() => Err(DrError::InvalidInput(format!(
                "the sweep's input is a JSON object (such as {{\"requestedBy\": \"schedule\"}}), got {}",
                abbreviate(input)
            ))),
            Step::Sweep => to_json(sweep::add_up(input)),
            Step::PlanSweep => sweep::plan(context, input),
            Step::SweepShard => to_json(Box::pin(sweep::run_shard(context, input)).await),
            Step::VerifyData => to_json(Box::pin(verify_data::run(context, input)).await),
            Step::ValidateFailover => to_json(Box::pin(validate_failover::run(context, input)).await),
            Step::PromoteDestination => {
                let plan: validate_failover::Plan = from_input(step, input, "ValidateFailover")?;
                to_json(Box::pin(promote_destination::run(context, &plan)).await)
            }
            Step::ValidateFailback => to_json(Box::pin(validate_failback::run(context, input)).await),
            Step::BringHome => to_json(Box::pin(bring_home::run(context, &failback_plan(step, input)?, input)).await),
            Step::PrepareHome => to_json(Box::pin(prepare_home::run(context, &failback_plan(step, input)?)).await),
            Step::RouteHome => to_json(Box::pin(route_home::run(context, &failback_plan(step, input)?)).await),
            Step::VerifyHome => to_json(Box::pin(verify_home::run(context, &failback_plan(step, input)?, input)).await),
            Step::FinishFailback => {
                to_json(Box::pin(finish_failback::run(context, &failback_plan(step, input)?)).await)
            }
            Step::VerifyProtection => {
                let (plan, destination) = plan(step, input)?;
                let settings = cloned_settings(input)?;
                let backfill = crate::backfill::Progress::latest(input).ok();
                // What the destination remembered when EnsureDestination read its tags.
                let remembered: Option<crate::backfill::state::NotReplicable> = input
                    .pointer("/EnsureDestination/backfill/notReplicable")
                    .and_then(|found| serde_json::from_value(found.clone()).ok());
                to_json(
                    Box::pin(verify_protection::run(
                        context,
                        &plan,
                        &destination,
                        settings.as_ref(),
                        backfill.as_ref(),
                        remembered.as_ref(),
                    ))
                    .await,
                )
            }
        };
        match &result {
            Ok(output) => tracing::info!(changed = output.get("changed").and_then(|c| c.as_bool()), "step done"),
            Err(error) => tracing::warn!(error_type = error.error_type(), %error, "step failed"),
        }
        result
    }
    .instrument(span)
    .await
}

/// Steps after ValidateSource act on its findings, passed along by the state machine.
fn plan(step: Step, input: &Value) -> Result<(SourcePlan, DestinationPlan), DrError> {
    let plan = source_plan(step, input)?;
    match plan.destination.clone() {
        Some(destination) if plan.action == Action::Protect => Ok((plan, destination)),
        _ => Err(DrError::InvalidInput(format!(
            "step {}: ValidateSource did not accept bucket {} for protection (action {:?})",
            step.name(),
            plan.bucket,
            plan.action
        ))),
    }
}

/// CloneSettings' report, if the workflow ran it.
fn cloned_settings(input: &Value) -> Result<Option<clone_settings::Output>, DrError> {
    input
        .get("CloneSettings")
        .map(|found| {
            serde_json::from_value(found.clone()).map_err(|e| {
                DrError::InvalidInput(format!("step VerifyProtection: input.CloneSettings is malformed: {e}"))
            })
        })
        .transpose()
}

fn source_plan(step: Step, input: &Value) -> Result<SourcePlan, DrError> {
    from_input(step, input, "ValidateSource")
}

/// The detach steps act on ValidateDetach's findings, and only when it said `detach`.
fn detach_plan(step: Step, input: &Value) -> Result<crate::detach::DetachPlan, DrError> {
    let plan: crate::detach::DetachPlan = from_input(step, input, "ValidateDetach")?;
    if plan.action != "detach" {
        return Err(DrError::InvalidInput(format!(
            "step {}: ValidateDetach did not accept bucket {} for detaching",
            step.name(),
            plan.bucket
        )));
    }
    Ok(plan)
}

/// A looping step's own output from its previous turn (`input.<Step>`), if there was one.
pub fn previous_turn<T: serde::de::DeserializeOwned>(step: Step, input: &Value) -> Result<Option<T>, DrError> {
    match input.get(step.name()) {
        None | Some(Value::Null) => Ok(None),
        Some(found) => serde_json::from_value(found.clone())
            .map(Some)
            .map_err(|e| DrError::InvalidInput(format!("step {0}: input.{0} is malformed: {e}", step.name()))),
    }
}

/// What ValidateFailback decided, for the failback steps after it.
fn failback_plan(step: Step, input: &Value) -> Result<crate::failback::Plan, DrError> {
    from_input(step, input, "ValidateFailback")
}

fn from_input<T: serde::de::DeserializeOwned>(step: Step, input: &Value, key: &str) -> Result<T, DrError> {
    let found = input
        .get(key)
        .ok_or_else(|| DrError::InvalidInput(format!("step {} needs {key}'s output at input.{key}", step.name())))?;
    serde_json::from_value(found.clone())
        .map_err(|e| DrError::InvalidInput(format!("step {}: input.{key} is malformed: {e}", step.name())))
}

fn to_json<T: Serialize>(result: Result<T, DrError>) -> Result<Value, DrError> {
    result.and_then(|output| {
        serde_json::to_value(output).map_err(|e| DrError::Internal(format!("serializing step output: {e}")))
    })
}

fn abbreviate(value: &Value) -> String {
    crate::error::abbreviated(&value.to_string(), 200)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn step_names_round_trip() {
        for step in Step::all() {
            assert_eq!(Step::parse(step.name()), Some(step));
        }
        assert_eq!(Step::EnsureDestination.name(), "EnsureDestination");
        assert_eq!(Step::parse("ensureDestination"), None, "names are exact, as the ASL spells them");
    }

    /// The workflow groups are lists: each step is in exactly one.
    #[test]
    fn every_step_is_in_exactly_one_group() {
        for step in Step::all() {
            let groups = Step::PROTECT.iter().chain(&Step::OTHERS).filter(|s| **s == step).count();
            assert_eq!(groups, 1, "{step:?}");
        }
        assert_eq!(Step::all().count(), Step::PROTECT.len() + Step::OTHERS.len());
    }

    #[test]
    fn malformed_requests_are_invalid_input() {
        for event in [
            json!("ValidateSource"),
            json!({}),
            json!({"step": 1}),
            json!({"step": "DeleteEverything", "input": {}}),
            json!({"step": "ValidateSource"}),
            json!({"step": "ValidateSource", "input": [1]}),
        ] {
            assert!(matches!(parse_request(&event), Err(DrError::InvalidInput(_))), "{event}");
        }
    }

    #[test]
    fn later_steps_need_the_plan() {
        let error = plan(Step::EnsureDestination, &json!({"bucket": "photos"})).unwrap_err();
        assert!(error.to_string().contains("input.ValidateSource"), "{error}");
        let error = plan(Step::EnsureDestination, &json!({"ValidateSource": {"bucket": 3}})).unwrap_err();
        assert_eq!(error.error_type(), "InvalidInput");
    }
}
