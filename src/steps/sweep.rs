//! Sweep: the safety net under the events. CloudTrail delivers events on a best-effort basis,
//! so once a day (and on `s3-dr sweep`) every bucket is read, and work is started where the
//! state calls for it: a protect execution for each tagged bucket that is not fully protected,
//! a detach execution for each untagged bucket that still has the s3-dr rule.
//!
//! AWS calls: ListBuckets (pages of 10,000); per bucket, GetBucketTagging, then (unless it is
//! an s3-dr destination) GetBucketReplication (plus GetBucketLocation when ListBuckets gave no
//! region);
//! for a tagged bucket, GetBucketVersioning, GetBucketEncryption, HeadBucket of the destination
//! and its GetBucketVersioning; states:StartExecution per bucket that needs work. At most
//! `S3DR_SWEEP_CONCURRENCY` buckets at once. One bucket's failure is counted and reported; it
//! never fails the sweep.

use std::time::SystemTime;

use futures::StreamExt;
use serde::Serialize;
use serde_json::json;

use crate::bucket;
use crate::config::Workflow;
use crate::error::DrError;
use crate::executions::{execution_name, start, Started};
use crate::replication::RULE_ID;
use crate::status;
use crate::steps::StepContext;
use crate::tags;

/// Failures listed by name in the report (the count is always complete).
const MAX_FAILURES_LISTED: usize = 20;
/// Starts listed by name: an execution's state must stay under 256 KiB whatever the account.
const MAX_STARTED_LISTED: usize = 500;

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub scanned: usize,
    pub tagged: usize,
    /// Tagged and fully protected: nothing started.
    pub protected: usize,
    /// Protect executions started for tagged buckets that were not fully protected.
    pub repaired: usize,
    /// Detach executions started for untagged buckets with a leftover s3-dr rule.
    pub detached: usize,
    /// Work that another start already had under way (same bucket, same 15 minutes).
    pub already_started: usize,
    pub failed: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
    /// Bucket -> what was started and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub started: Vec<String>,
    pub summary: String,
    pub changed: bool,
}

/// What a bucket needed, and what was started for it.
type Outcome = (Verdict, Option<Started>);

/// What one bucket needs.
enum Verdict {
    Healthy,
    Unmanaged,
    Destination,
    Repair(String),
    Detach,
}

pub async fn run(context: &StepContext<'_>) -> Result<Report, DrError> {
    let config = context.config;
    let (protect_arn, detach_arn) =
        (config.require_state_machine(Workflow::Protect)?, config.require_state_machine(Workflow::Detach)?);
    let buckets = bucket::list_all(&context.clients.s3(&context.clients.home_region())).await?;
    let sfn = context.clients.sfn();
    let now = SystemTime::now();

    let outcomes: Vec<(String, Result<Outcome, DrError>)> = futures::stream::iter(buckets)
        .map(|(name, region)| {
            let sfn = &sfn;
            async move {
                let outcome = async {
                    let verdict = assess(context, &name, region).await?;
                    let (workflow, arn, input) = match &verdict {
                        Verdict::Repair(why) => (
                            Workflow::Protect,
                            protect_arn,
                            json!({ "bucket": name, "requestedBy": format!("sweep: {why}") }),
                        ),
                        Verdict::Detach => (
                            Workflow::Detach,
                            detach_arn,
                            json!({ "bucket": name, "requestedBy": "sweep: untagged with an s3-dr rule" }),
                        ),
                        _ => return Ok((verdict, None)),
                    };
                    let execution_name = execution_name(workflow.name(), &name, now);
                    let started = start(sfn, arn, &execution_name, &name, &input).await?;
                    Ok((verdict, Some(started)))
                }
                .await;
                (name, outcome)
            }
        })
        .buffer_unordered(config.sweep_concurrency.max(1))
        .collect()
        .await;

    let mut report = Report { scanned: outcomes.len(), ..Report::default() };
    for (name, outcome) in outcomes {
        match outcome {
            Ok((verdict, started)) => {
                match &verdict {
                    Verdict::Healthy => report.protected += 1,
                    Verdict::Repair(_) => report.repaired += 1,
                    Verdict::Detach => report.detached += 1,
                    Verdict::Unmanaged | Verdict::Destination => {}
                }
                if matches!(verdict, Verdict::Healthy | Verdict::Repair(_)) {
                    report.tagged += 1;
                }
                match (&verdict, started) {
                    (Verdict::Repair(why), Some(Started::Started(_))) => {
                        report.started.push(format!("{name}: protect ({why})"))
                    }
                    (Verdict::Detach, Some(Started::Started(_))) => report.started.push(format!("{name}: detach")),
                    (_, Some(Started::AlreadyStarted(_))) => report.already_started += 1,
                    _ => {}
                }
            }
            Err(error) => {
                tracing::warn!(bucket = %name, error_type = error.error_type(), %error, "sweep could not check a bucket");
                report.failed += 1;
                if report.failures.len() < MAX_FAILURES_LISTED {
                    report.failures.push(format!("{name}: {}: {error}", error.error_type()));
                }
            }
        }
    }
    report.started.sort();
    report.started.truncate(MAX_STARTED_LISTED);
    report.changed = !report.started.is_empty();
    report.summary = format!(
        "{} buckets scanned, {} tagged: {} protected, {} repair started, {} detach started, {} already under way, {} failed",
        report.scanned, report.tagged, report.protected, report.repaired, report.detached, report.already_started, report.failed
    );
    Ok(report)
}

async fn assess(context: &StepContext<'_>, name: &str, region: Option<String>) -> Result<Verdict, DrError> {
    let config = context.config;
    let region = match region {
        Some(region) => region,
        None => match bucket::region(&context.clients.s3(&context.clients.home_region()), name).await? {
            Some(region) => region,
            // Deleted since the listing.
            None => return Ok(Verdict::Unmanaged),
        },
    };
    let s3 = context.clients.s3(&region);
    // Tags first: a destination (half the buckets s3-dr knows) needs nothing more.
    let current_tags = bucket::tags(&s3, name).await?;
    if tags::destination_of(&current_tags).is_some() {
        // A destination's health is part of its source's check.
        return Ok(Verdict::Destination);
    }
    let replication = bucket::replication(&s3, name).await?;
    let has_rule = replication.as_ref().is_some_and(|c| c.rules().iter().any(|r| r.id() == Some(RULE_ID)));
    if !config.match_tag.matches(&current_tags) {
        return Ok(if has_rule { Verdict::Detach } else { Verdict::Unmanaged });
    }
    if region == config.dr_region {
        return Err(DrError::SourceInDrRegion { bucket: name.to_owned(), region });
    }
    let found = status::assess(context.clients, config, name, &region, &current_tags, replication.as_ref()).await?;
    if found.protected {
        return Ok(Verdict::Healthy);
    }
    let mut why = found.drift.clone();
    if found.versioning.as_deref() != Some("Enabled") {
        why.push(format!("versioning {}", found.versioning.as_deref().unwrap_or("unknown")));
    }
    match &found.destination {
        Some(destination) if destination.versioning.as_deref() != Some("Enabled") => {
            why.push(format!("destination {} {}", destination.state, destination.versioning.as_deref().unwrap_or("")));
        }
        _ => {}
    }
    if found.rule == "missing" {
        why.push("no s3-dr rule".to_owned());
    }
    Ok(Verdict::Repair(why.join(", ").trim().to_owned()))
}
