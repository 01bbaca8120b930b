//! The state machine files against the code that serves them, and against asl-validator.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::process::Command;

use common::*;
use s3_dr::steps::Step;
use s3_dr::DrError;
use serde_json::{json, Value};

/// The Lambda service's transient errors
/// (https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html).
const LAMBDA_SERVICE_ERRORS: [&str; 5] = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
];
/// A task that ran out of time: its own TimeoutSeconds (`States.Timeout`), or the function's
/// timeout, which Step Functions reports as `Lambda.Unknown` (same page: "Unhandled errors in
/// Lambda are reported as Lambda.Unknown ... These include out-of-memory errors and function
/// timeouts") and the Invoke API as `Sandbox.Timedout`. Every step is idempotent, so a retry is
/// safe: a copy page skips what the killed one copied.
const TIMEOUT_ERRORS: [&str; 3] = ["States.Timeout", "Lambda.Unknown", "Sandbox.Timedout"];
/// Errors that are not terminal by name: retried (transient) or a bug (caught by States.ALL).
const NOT_CAUGHT_BY_NAME: [&str; 2] = ["TransientAwsError", "S3DrInternalError"];

fn statemachine_files() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(repo_root().join("statemachine"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".asl.json"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    files
}

#[test]
fn every_state_machine_passes_asl_validator() {
    let validator = repo_root().join("tools/node_modules/.bin/asl-validator");
    assert!(validator.exists(), "{} is missing: run `make test` (npm ci in tools/)", validator.display());
    for file in statemachine_files() {
        let output = Command::new(&validator).arg("--json-path").arg(&file).output().unwrap();
        assert!(
            output.status.success(),
            "asl-validator rejected {}:\n{}{}",
            file.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn every_task_invokes_a_known_step_named_as_its_state() {
    let mut used = HashSet::new();
    for file in statemachine_files() {
        // Every workflow starts by wrapping its input, whatever JSON it is, in an object: the
        // first Task reads it from there, and its Catch has an object to add `$.error` to.
        let asl = read_json(&file);
        let start = &asl["States"][asl["StartAt"].as_str().unwrap()];
        assert_eq!(
            (&start["Type"], &start["Parameters"]),
            (&json!("Pass"), &json!({"request.$": "$"})),
            "{}",
            file.display()
        );
        let first = start["Next"].as_str().unwrap();
        assert_eq!(asl["States"][first]["Parameters"]["Payload"]["input.$"], "$.request", "{}", file.display());
    }
    for (name, state) in statemachine_files().iter().flat_map(|file| tasks(&read_json(file))) {
        assert_eq!(state["Resource"], "arn:aws:states:::lambda:invoke", "{name}");
        assert_eq!(state["Parameters"]["FunctionName"], "${ProtectFunctionArn}", "{name}");
        assert_eq!(state["Parameters"]["Payload"]["step"], name.as_str(), "{name}: the step value is the state name");
        let input = state["Parameters"]["Payload"]["input.$"].as_str();
        assert!(matches!(input, Some("$" | "$.request")), "{name}: each step sees the whole state (or request)");
        assert_eq!(state["OutputPath"], "$.Payload", "{name}: the Lambda returns the state plus its result");
        used.insert(Step::parse(&name).unwrap_or_else(|| panic!("{name} is not a step of the Lambda")).name());
    }
    for step in Step::all() {
        assert!(used.contains(step.name()), "step {} is in no state machine", step.name());
    }
}

#[test]
fn every_task_retries_transient_errors_and_catches_terminal_ones_by_name() {
    let terminal: BTreeSet<&str> =
        DrError::ALL_ERROR_TYPES.iter().copied().filter(|e| !NOT_CAUGHT_BY_NAME.contains(e)).collect();
    for (file, scope) in
        statemachine_files().iter().flat_map(|f| scopes(&read_json(f)).into_iter().map(|s| (f.clone(), s)))
    {
        for (name, state) in scope["States"].as_object().unwrap().iter().filter(|(_, s)| s["Type"] == "Task") {
            let name = format!("{}: {name}", file.display());
            let retried: HashSet<&str> = errors_in(&state["Retry"]).into_iter().collect();
            for error in LAMBDA_SERVICE_ERRORS.iter().chain(&TIMEOUT_ERRORS).chain(&["TransientAwsError"]) {
                assert!(retried.contains(error), "{name} does not retry {error}");
            }
            for retrier in state["Retry"].as_array().unwrap() {
                assert!(retrier["BackoffRate"].as_f64().unwrap() > 1.0, "{name}: retries back off");
            }
            let catchers = state["Catch"].as_array().unwrap();
            let (last, named) = catchers.split_last().unwrap();
            assert_eq!(errors_in(&Value::Array(vec![last.clone()])), ["States.ALL"], "{name}: States.ALL comes last");
            let caught: BTreeSet<&str> =
                named.iter().flat_map(|c| c["ErrorEquals"].as_array().unwrap()).map(|e| e.as_str().unwrap()).collect();
            assert_eq!(caught, terminal, "{name}: the terminal catch must list exactly the terminal error types");
            for catcher in catchers {
                assert_eq!(catcher["ResultPath"], "$.error", "{name}: keep the input, add the error");
                let target = &scope["States"][catcher["Next"].as_str().unwrap()];
                assert_eq!(target["Type"], "Fail", "{name}: errors end in a Fail state");
                assert_eq!(target["ErrorPath"], "$.error.Error");
                assert_eq!(target["CausePath"], "$.error.Cause");
            }
        }
    }
}

/// A burst (a sweep starting many executions, on an account with a small concurrency quota)
/// throttles the Lambda: Step Functions reports `Lambda.TooManyRequestsException`. Its retrier
/// must outlast the burst, not give up after seconds: the sum of its capped intervals (the
/// ceiling; full jitter waits half of it on average) is at least 30 minutes, so that on
/// average it outlasts a copy page holding a slot for its whole 900 s.
#[test]
fn every_task_waits_out_lambda_throttling_for_minutes() {
    for (file, asl) in statemachine_files().iter().map(|f| (f.clone(), read_json(f))) {
        for (name, state) in tasks(&asl) {
            let throttle = state["Retry"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["ErrorEquals"].as_array().unwrap().iter().any(|e| e == "Lambda.TooManyRequestsException"))
                .unwrap_or_else(|| panic!("{}: {name} does not retry throttling", file.display()));
            assert_eq!(
                throttle["ErrorEquals"],
                serde_json::json!(["Lambda.TooManyRequestsException"]),
                "its own retrier"
            );
            let (interval, attempts, rate) = (
                throttle["IntervalSeconds"].as_f64().unwrap_or(1.0),
                throttle["MaxAttempts"].as_u64().unwrap_or(3),
                throttle["BackoffRate"].as_f64().unwrap_or(2.0),
            );
            let cap = throttle["MaxDelaySeconds"].as_f64().unwrap_or(f64::MAX);
            let ceiling: f64 = (0..attempts).map(|n| (interval * rate.powi(n as i32)).min(cap)).sum();
            assert!(ceiling >= 1800.0, "{}: {name} gives up on throttling after {ceiling} s", file.display());
        }
    }
}

#[test]
fn every_transition_reaches_an_existing_state_and_every_state_is_reachable() {
    for (file, asl) in
        statemachine_files().iter().flat_map(|f| scopes(&read_json(f)).into_iter().map(|s| (f.clone(), s)))
    {
        let states = asl["States"].as_object().unwrap();
        let mut reachable = BTreeSet::new();
        let mut pending = vec![asl["StartAt"].as_str().unwrap().to_owned()];
        while let Some(name) = pending.pop() {
            let state =
                states.get(&name).unwrap_or_else(|| panic!("{}: transition to missing state {name}", file.display()));
            if !reachable.insert(name.clone()) {
                continue;
            }
            let mut targets: Vec<&Value> = vec![&state["Next"], &state["Default"]];
            for key in ["Choices", "Catch"] {
                targets.extend(state[key].as_array().into_iter().flatten().map(|c| &c["Next"]));
            }
            pending.extend(targets.into_iter().filter_map(Value::as_str).map(str::to_owned));
        }
        let all: BTreeSet<String> = states.keys().cloned().collect();
        assert_eq!(reachable, all, "{}: unreachable states", file.display());
    }
}

/// Step Functions wants a state's name unique in the whole state machine, a Map's item
/// processor included.
#[test]
fn state_names_are_unique_across_nested_scopes() {
    for file in statemachine_files() {
        let mut seen = BTreeSet::new();
        for scope in scopes(&read_json(&file)) {
            for name in scope["States"].as_object().unwrap().keys() {
                assert!(seen.insert(name.clone()), "{}: state {name} is named twice", file.display());
            }
        }
    }
}

#[test]
fn placeholders_are_only_the_ones_the_deployment_fills() {
    for file in statemachine_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let placeholders: BTreeSet<&str> =
            text.match_indices("${").map(|(i, _)| &text[i..i + text[i..].find('}').unwrap() + 1]).collect();
        assert_eq!(placeholders, BTreeSet::from(["${ProtectFunctionArn}"]), "{}", file.display());
        assert!(!text.contains("arn:aws:lambda:"), "{}: no hard-coded function ARNs", file.display());
    }
}

/// The state machine and each Map's item processor: the scopes whose `States` a `Next` names.
fn scopes(asl: &Value) -> Vec<Value> {
    let mut found = vec![asl.clone()];
    for state in asl["States"].as_object().unwrap().values() {
        if state["Type"] == "Map" {
            found.extend(scopes(&state["ItemProcessor"]));
        }
    }
    found
}

/// Every Task, in every scope.
fn tasks(asl: &Value) -> Vec<(String, Value)> {
    scopes(asl)
        .iter()
        .flat_map(|scope| scope["States"].as_object().unwrap().clone())
        .filter(|(_, s)| s["Type"] == "Task")
        .collect()
}

fn errors_in(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["ErrorEquals"].as_array().unwrap())
        .map(|e| e.as_str().unwrap())
        .collect()
}
