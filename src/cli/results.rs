//! Step and workflow results as the CLI reads them back (from an execution's history, or from
//! `plan`'s in-process dispatch): typed, deserialized from the JSON the steps wrote, so no
//! reader indexes raw `serde_json::Value`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::backfill::Strategy;
use crate::detach::DetachPlan;
use crate::plan::{Action, SourcePlan};

/// The fields every step's output shares (each step adds its own; those are ignored here).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StepResult {
    pub changed: bool,
    /// What was written (EnsureDestination, CloneSettings).
    pub changes: Vec<String>,
    /// Why the rule was written (EnableReplication).
    pub reasons: Vec<String>,
    /// ValidateSource's decision, and why it skips.
    pub action: Option<Action>,
    pub reason: Option<String>,
    /// The backfill steps, VerifyProtection and Sweep say what they did in a line of their own.
    pub summary: Option<String>,
    pub aws_calls: BTreeMap<String, u64>,
    /// StartBackfill's strategy; CheckBackfill's page.
    pub strategy: Option<Strategy>,
    pub objects_copied: u64,
    pub bytes_copied: u64,
    pub objects_skipped: u64,
    pub done: bool,
}

impl StepResult {
    /// A step's output; one that does not parse (an older Lambda, say) reads as "no change".
    pub fn from_output(output: &Value) -> StepResult {
        StepResult::deserialize(output).unwrap_or_default()
    }

    pub fn aws_call_count(&self) -> u64 {
        self.aws_calls.values().sum()
    }

    /// One line: whether the step changed anything, and what.
    pub fn line(&self) -> String {
        if self.action == Some(Action::Skip) {
            return format!("skip ({})", self.reason.as_deref().unwrap_or("not tagged"));
        }
        if let Some(summary) = &self.summary {
            return summary.clone();
        }
        let details: Vec<&str> = self.changes.iter().chain(&self.reasons).map(String::as_str).collect();
        match (self.changed, details.is_empty()) {
            (false, _) => "no change".to_owned(),
            (true, true) => "changed".to_owned(),
            (true, false) => format!("changed ({})", details.join(", ")),
        }
    }
}

/// The output of a whole execution: the results of the states that say how it ended.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct WorkflowResult {
    pub validate_source: Option<SourcePlan>,
    pub verify_protection: Option<Verified>,
    pub validate_detach: Option<DetachPlan>,
    pub sweep: Option<StepResult>,
    pub continue_as_new: Option<Continued>,
    pub promote_destination: Option<Promoted>,
    pub bring_home: Option<Summarized>,
    pub verify_home: Option<Summarized>,
    pub finish_failback: Option<Summarized>,
}

/// A step's one-line account (failback's steps).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Summarized {
    pub summary: String,
}

/// PromoteDestination's report (failover).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Promoted {
    pub summary: String,
    pub mrap: Option<String>,
    pub application_changes: Vec<String>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Verified {
    pub warnings: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Continued {
    /// The execution that carries the backfill on.
    pub execution: String,
}

impl WorkflowResult {
    pub fn from_output(output: Option<&str>) -> WorkflowResult {
        output.and_then(|o| serde_json::from_str(o).ok()).unwrap_or_default()
    }

    /// The execution that carries on, if this one handed over.
    pub fn continued_in(&self) -> Option<&str> {
        self.continue_as_new.as_ref().map(|c| c.execution.as_str()).filter(|e| !e.is_empty())
    }

    /// One line: how the workflow ended.
    pub fn outcome(&self) -> String {
        if let Some(promoted) = &self.promote_destination {
            let mut line = promoted.summary.clone();
            if !promoted.warnings.is_empty() {
                line.push_str(&format!("; warning: {}", promoted.warnings.join("; ")));
            }
            if promoted.mrap.is_none() {
                line.push_str(&format!("; the application changes: {}", promoted.application_changes.join("; ")));
            }
            return line;
        }
        if let Some(finished) = &self.finish_failback {
            let earlier = [&self.bring_home, &self.verify_home];
            let lines = earlier.iter().filter_map(|s| s.as_ref().map(|s| s.summary.as_str()));
            return lines.chain([finished.summary.as_str()]).collect::<Vec<_>>().join("; ");
        }
        if let Some(sweep) = &self.sweep {
            return sweep.summary.clone().unwrap_or_else(|| "swept".to_owned());
        }
        if let Some(detach) = &self.validate_detach {
            return match detach.action.as_str() {
                "detach" => format!(
                    "detached: {} no longer replicates to {}",
                    detach.bucket,
                    detach.destination.as_deref().unwrap_or("(no destination)")
                ),
                _ => format!("nothing to detach: {}", detach.reason.as_deref().unwrap_or("")),
            };
        }
        let Some(source) = &self.validate_source else { return "done".to_owned() };
        let reason = source.reason.as_deref();
        match source.action {
            Action::Detach => return format!("handed over to the detach workflow: {}", reason.unwrap_or("")),
            Action::Skip => return format!("skipped: {}", reason.unwrap_or("not tagged")),
            Action::Protect => {}
        }
        let warnings = self.verify_protection.as_ref().map(|v| v.warnings.as_slice()).unwrap_or_default();
        let warnings = if warnings.is_empty() { String::new() } else { format!("; warning: {}", warnings.join("; ")) };
        match &source.destination {
            Some(destination) => format!(
                "protected: {} ({}) -> {} ({}){warnings}",
                source.bucket, source.region, destination.bucket, destination.region
            ),
            None => "done".to_owned(),
        }
    }
}

/// A Lambda error cause is `{"errorType", "errorMessage"}` JSON: the message.
pub fn error_message(cause: &str) -> String {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Cause {
        error_message: String,
    }
    serde_json::from_str::<Cause>(cause).map_or_else(|_| cause.to_owned(), |c| c.error_message)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn step_lines() {
        let line = |output: Value| StepResult::from_output(&output).line();
        assert_eq!(line(json!({"changed": false})), "no change");
        assert_eq!(line(json!({"changed": true})), "changed");
        assert_eq!(line(json!({"changed": true, "changes": ["created", "tags"]})), "changed (created, tags)");
        assert_eq!(line(json!({"changed": true, "reasons": ["add rule s3-dr"]})), "changed (add rule s3-dr)");
        assert_eq!(line(json!({"action": "skip", "reason": "not tagged dr=true"})), "skip (not tagged dr=true)");
        assert_eq!(line(json!({"changed": true, "summary": "copied 2 objects"})), "copied 2 objects");
        assert_eq!(
            StepResult::from_output(&json!({"awsCalls": {"HeadBucket": 2, "PutBucketTagging": 1}})).aws_call_count(),
            3
        );
    }

    #[test]
    fn workflow_outcomes() {
        let outcome = |output: Value| WorkflowResult::from_output(Some(&output.to_string())).outcome();
        assert_eq!(outcome(json!({"Sweep": {"summary": "3 buckets scanned"}})), "3 buckets scanned");
        assert_eq!(
            outcome(
                json!({"ValidateDetach": {"action": "detach", "bucket": "a", "region": "us-west-2", "hasRule": true, "destination": "a-dr", "changed": false}})
            ),
            "detached: a no longer replicates to a-dr"
        );
        let protected = json!({
            "ValidateSource": {"action": "protect", "bucket": "a", "region": "us-west-2", "tagged": true, "trigger": "manual",
                "destination": {"bucket": "a-dr", "region": "us-east-2", "exists": true}, "changed": false},
            "VerifyProtection": {"warnings": ["w"]}
        });
        assert_eq!(outcome(protected), "protected: a (us-west-2) -> a-dr (us-east-2); warning: w");
        assert_eq!(outcome(json!({})), "done");
        assert_eq!(
            WorkflowResult::from_output(Some(r#"{"ContinueAsNew": {"execution": "x-g2"}}"#)).continued_in(),
            Some("x-g2")
        );
        assert_eq!(error_message(r#"{"errorType": "InvalidInput", "errorMessage": "bad"}"#), "bad");
        assert_eq!(error_message("plain"), "plain");
    }
}
