//! Sweep: the safety net under the events. CloudTrail delivers events on a best-effort basis,
//! so once a day (and on `s3-dr sweep`) every bucket is read, and work is started where the
//! state calls for it: a protect execution for each tagged bucket that is not fully protected,
//! a detach execution for each untagged bucket that still has the s3-dr rule.
//!
//! A tagged bucket whose configuration is right but whose backfill is neither done nor under
//! way (never started; or its execution died: Step Functions says its writer ended, or the
//! heartbeat is older than an hour; or a batch job ended without the marker) is repaired too:
//! the protect run resumes the backfill.
//!
//! AWS calls: ListBuckets (pages of 10,000); per bucket, GetBucketTagging (plus
//! GetBucketLocation when ListBuckets gave no region); then, unless it is an s3-dr destination
//! (whose tags its source's check uses), GetBucketReplication; for a tagged bucket,
//! GetBucketVersioning, HeadBucket of the destination and its GetBucketVersioning (and
//! s3control DescribeJob while a batch backfill is named on the destination);
//! states:StartExecution per bucket that needs work. At most `S3DR_SWEEP_CONCURRENCY` buckets
//! at once. One bucket's failure is counted and reported; it never fails the sweep.
//!
//! A protected bucket's data is verified once a week (the verify workflow, when
//! `S3DR_VERIFY_STATE_MACHINE_ARN` is set): on its own day of the week, spread by a hash of its
//! name, and whatever the day once its last verification is 8 days old ([`verify::is_due`]).
//!
//! Starts are paced (`S3DR_SWEEP_START_RATE` per second): every execution invokes the step
//! Lambda, whose concurrency is reserved, and a burst of hundreds would be throttled. Starts
//! that would come after [`START_WINDOW`] are deferred to the next sweep (counted, not failed),
//! so the sweep ends inside the Lambda's 15 minutes whatever the account's size.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use tokio::sync::Mutex;
use tokio::time::Instant;

use futures::StreamExt;
use serde::Serialize;
use serde_json::json;

use crate::backfill::batch::{self, Followed};
use crate::backfill::state::Liveness;
use crate::bucket;
use crate::config::Workflow;
use crate::error::DrError;
use crate::executions::{self, execution_name, start, Started};
use crate::failover;
use crate::naming;
use crate::replication::is_ours;
use crate::status;
use crate::steps::StepContext;
use crate::tags::{self, Tag};
use crate::verify;

/// Failures listed by name in the report (the count is always complete).
const MAX_FAILURES_LISTED: usize = 20;
/// Starts listed by name: an execution's state must stay under 256 KiB whatever the account.
const MAX_STARTED_LISTED: usize = 500;
/// How long after the sweep began executions may still be started (the Lambda has 15 minutes;
/// reading every bucket comes first), and how much of the invocation is kept after the last.
pub const START_WINDOW: Duration = Duration::from_secs(600);
const AFTER_LAST_START: Duration = Duration::from_secs(60);

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub scanned: usize,
    pub tagged: usize,
    /// Tagged and fully protected: nothing started but the weekly verification.
    pub protected: usize,
    /// Verify executions started: protected buckets whose weekly data check was due.
    pub verifications: usize,
    /// Protect executions started for tagged buckets that were not fully protected.
    pub repaired: usize,
    /// Tagged, configured, and their backfill under way: nothing started.
    pub backfilling: usize,
    /// Detach executions started for untagged buckets with a leftover s3-dr rule.
    pub detached: usize,
    /// Work that another start already had under way (same bucket, same 15 minutes).
    pub already_started: usize,
    /// Buckets that needed work but whose start fell after the start window: the next sweep's.
    pub deferred: usize,
    /// Failed over to DR: left alone.
    pub failed_over: usize,
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
type Outcome = (Verdict, Option<Paced>);

/// A start, or none yet: the start window had closed.
enum Paced {
    Started(Started),
    Deferred,
}

/// What one bucket needs.
enum Verdict {
    Healthy,
    /// Healthy, and its weekly data verification is due.
    Verify,
    Backfilling,
    Unmanaged,
    Repair(String),
    Detach,
    /// Its destination is the primary (`s3-dr failover`): the reversed state is not repaired,
    /// whatever the tags say, until failback (docs/failover.md).
    FailedOver,
}

/// Paces starts at a fixed rate until a deadline. Each caller takes the next free slot.
struct StartPacer {
    interval: Duration,
    deadline: Instant,
    next: Mutex<Instant>,
}

impl StartPacer {
    fn new(per_second: u32, deadline: Instant) -> StartPacer {
        let interval = Duration::from_secs(1) / per_second.max(1);
        StartPacer { interval, deadline, next: Mutex::new(Instant::now()) }
    }

    /// Waits for this caller's slot; false (at once) if the slot is past the deadline.
    async fn slot(&self) -> bool {
        let slot = {
            let mut next = self.next.lock().await;
            match next_slot(Instant::now(), *next, self.interval, self.deadline) {
                Some((slot, after)) => {
                    *next = after;
                    slot
                }
                None => return false,
            }
        };
        tokio::time::sleep_until(slot).await;
        true
    }
}

/// When starts stop: [`START_WINDOW`] after the sweep began, or earlier if the invocation's own
/// deadline leaves less ([`AFTER_LAST_START`] kept for the report).
fn start_deadline(now: Instant, invocation_deadline: Option<SystemTime>) -> Instant {
    let left = invocation_deadline
        .map(|d| d.duration_since(SystemTime::now()).unwrap_or_default().saturating_sub(AFTER_LAST_START));
    now + left.map_or(START_WINDOW, |left| left.min(START_WINDOW))
}

/// The slot for a start asked for at `now` when the next free one is `next`, and the one after
/// it; None when the slot would be past `deadline`.
fn next_slot(now: Instant, next: Instant, interval: Duration, deadline: Instant) -> Option<(Instant, Instant)> {
    let slot = next.max(now);
    (slot <= deadline).then(|| (slot, slot + interval))
}

/// A bucket as the first pass read it: its region and tags.
struct Listed {
    name: String,
    region: String,
    tags: Vec<Tag>,
}

pub async fn run(context: &StepContext<'_>) -> Result<Report, DrError> {
    let config = context.config;
    let (protect_arn, detach_arn) =
        (config.require_state_machine(Workflow::Protect)?, config.require_state_machine(Workflow::Detach)?);
    let buckets = bucket::list_all(&context.clients.s3(&context.clients.home_region())).await?;
    let sfn = context.clients.sfn();
    let now = SystemTime::now();
    let pacer = StartPacer::new(config.sweep_start_rate, start_deadline(Instant::now(), context.deadline));
    let pacer = &pacer;

    // First pass: every bucket's tags. A destination needs nothing more (its tags hold its
    // backfill's state, which its source's check reads from here).
    let read: Vec<(String, Result<Option<Listed>, DrError>)> = futures::stream::iter(buckets)
        .map(|(name, region)| async move {
            let listed = read_tags(context, &name, region).await;
            (name, listed)
        })
        .buffer_unordered(config.sweep_concurrency.max(1))
        .collect()
        .await;
    let mut first_failures = Vec::new();
    let mut sources = Vec::new();
    let mut destinations: HashMap<String, Vec<Tag>> = HashMap::new();
    let mut scanned = 0;
    for (name, listed) in read {
        scanned += 1;
        match listed {
            Ok(Some(listed)) if tags::destination_of(&listed.tags).is_some() => {
                destinations.insert(listed.name, listed.tags);
            }
            Ok(Some(listed)) => sources.push(listed),
            Ok(None) => {}
            Err(error) => first_failures.push((name, Err(error))),
        }
    }
    let destinations = &destinations;

    let outcomes: Vec<(String, Result<Outcome, DrError>)> = futures::stream::iter(sources)
        .map(|listed| {
            let sfn = &sfn;
            async move {
                let name = listed.name.clone();
                let outcome = async {
                    let verdict = assess(context, &listed, destinations, protect_arn).await?;
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
                        Verdict::Verify => (
                            Workflow::Verify,
                            config.require_state_machine(Workflow::Verify)?,
                            json!({ "bucket": name, "requestedBy": "sweep: weekly verification" }),
                        ),
                        _ => return Ok((verdict, None)),
                    };
                    if !pacer.slot().await {
                        return Ok((verdict, Some(Paced::Deferred)));
                    }
                    let execution_name = execution_name(workflow.name(), &name, now);
                    let started = start(sfn, arn, &execution_name, &name, &input).await?;
                    Ok((verdict, Some(Paced::Started(started))))
                }
                .await;
                (name, outcome)
            }
        })
        .buffer_unordered(config.sweep_concurrency.max(1))
        .collect()
        .await;

    let mut report = Report { scanned, ..Report::default() };
    for (name, outcome) in first_failures.into_iter().chain(outcomes) {
        match outcome {
            Ok((verdict, started)) => {
                // Counted as started only when this sweep started it (not deferred, not under way).
                let started_now = matches!(started, Some(Paced::Started(Started::Started(_))));
                match &verdict {
                    Verdict::Healthy => report.protected += 1,
                    Verdict::Verify => {
                        report.protected += 1;
                        report.verifications += usize::from(started_now);
                    }
                    Verdict::Backfilling => report.backfilling += 1,
                    Verdict::Repair(_) | Verdict::Detach if !started_now => {}
                    Verdict::Repair(_) => report.repaired += 1,
                    Verdict::Detach => report.detached += 1,
                    Verdict::Unmanaged => {}
                    Verdict::FailedOver => report.failed_over += 1,
                }
                if matches!(verdict, Verdict::Healthy | Verdict::Verify | Verdict::Backfilling | Verdict::Repair(_)) {
                    report.tagged += 1;
                }
                match (&verdict, started) {
                    (Verdict::Repair(why), Some(Paced::Started(Started::Started(_)))) => {
                        report.started.push(format!("{name}: protect ({why})"))
                    }
                    (Verdict::Detach, Some(Paced::Started(Started::Started(_)))) => {
                        report.started.push(format!("{name}: detach"))
                    }
                    (Verdict::Verify, Some(Paced::Started(Started::Started(_)))) => {
                        report.started.push(format!("{name}: verify (weekly)"))
                    }
                    (_, Some(Paced::Started(Started::AlreadyStarted(_)))) => report.already_started += 1,
                    (_, Some(Paced::Deferred)) => report.deferred += 1,
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
        "{} buckets scanned, {} tagged: {} protected ({} verifications started), {} backfilling, {} repair started, {} detach started, {} already under way, {} deferred to the next sweep, {} failed",
        report.scanned,
        report.tagged,
        report.protected,
        report.verifications,
        report.backfilling,
        report.repaired,
        report.detached,
        report.already_started,
        report.deferred,
        report.failed
    );
    if report.failed_over > 0 {
        report.summary.push_str(&format!("; {} failed over to DR, left alone", report.failed_over));
    }
    Ok(report)
}

/// The bucket's region and tags; None if it was deleted since the listing.
async fn read_tags(context: &StepContext<'_>, name: &str, region: Option<String>) -> Result<Option<Listed>, DrError> {
    let region = match region {
        Some(region) => region,
        None => match bucket::region(&context.clients.s3(&context.clients.home_region()), name).await? {
            Some(region) => region,
            None => return Ok(None),
        },
    };
    let tags = bucket::tags(&context.clients.s3(&region), name).await?;
    Ok(Some(Listed { name: name.to_owned(), region, tags }))
}

async fn assess(
    context: &StepContext<'_>,
    listed: &Listed,
    destinations: &HashMap<String, Vec<Tag>>,
    protect_arn: &str,
) -> Result<Verdict, DrError> {
    let config = context.config;
    let (name, region) = (listed.name.as_str(), listed.region.as_str());
    let destination = naming::destination_bucket_name(name, &config.destination_suffix);
    if destinations.get(&destination).is_some_and(|tags| failover::is_failed_over(tags)) {
        return Ok(Verdict::FailedOver);
    }
    let replication = bucket::replication(&context.clients.s3(region), name).await?;
    let has_rule = replication.as_ref().is_some_and(|c| c.rules().iter().any(is_ours));
    if !config.match_tag.matches(&listed.tags) {
        return Ok(if has_rule { Verdict::Detach } else { Verdict::Unmanaged });
    }
    if region == config.dr_region {
        return Err(DrError::SourceInDrRegion { bucket: name.to_owned(), region: region.to_owned() });
    }
    let known_tags = destinations.get(&destination).map(Vec::as_slice);
    let found =
        status::assess(context.clients, config, name, region, &listed.tags, replication.as_ref(), known_tags).await?;
    if found.protected {
        let due = config.verify_state_machine_arn.is_some()
            && verify::is_due(
                name,
                known_tags.and_then(verify::recorded).as_ref(),
                verify::unix_seconds(SystemTime::now()),
            );
        return Ok(if due { Verdict::Verify } else { Verdict::Healthy });
    }
    let mut why = found.problems();
    if found.configured {
        // Only the backfill is missing: leave one under way alone.
        match &found.liveness {
            // A fresh heartbeat: unless Step Functions says its writer ended.
            Some(Liveness::Running) => match found.backfill_writer.as_deref().filter(|w| !w.is_empty()) {
                None => return Ok(Verdict::Backfilling),
                Some(writer) => {
                    let arn = executions::execution_arn(protect_arn, writer);
                    // A name Step Functions cannot tell about: the fresh heartbeat decides.
                    if executions::is_running(&context.clients.sfn(), &arn, name).await? != Some(false) {
                        return Ok(Verdict::Backfilling);
                    }
                    why = vec![format!("backfill's execution {writer} ended without finishing it")];
                }
            },
            Some(Liveness::JobToCheck(job)) => {
                let account = context.require_account_id()?;
                match batch::follow(&context.clients.s3control(region), account, name, job).await? {
                    Followed::Running => return Ok(Verdict::Backfilling),
                    ended => why = vec![format!("backfill job {job} ended ({ended:?}) without the backfill marker")],
                }
            }
            _ => {}
        }
    }
    Ok(Verdict::Repair(why.join(", ").trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_are_spaced_by_the_rate_and_stop_at_the_deadline() {
        let t0 = Instant::now();
        let (interval, deadline) = (Duration::from_millis(500), t0 + Duration::from_secs(1));
        // A burst of asks at t0 gets t0, t0+0.5 s, t0+1 s, then nothing.
        let mut next = t0;
        let mut slots = Vec::new();
        while let Some((slot, after)) = next_slot(t0, next, interval, deadline) {
            slots.push(slot - t0);
            next = after;
        }
        assert_eq!(slots, [Duration::ZERO, interval, 2 * interval]);
        // After a quiet spell the next ask starts at once, not at the stale slot.
        let later = t0 + Duration::from_millis(800);
        assert_eq!(next_slot(later, t0 + interval, interval, deadline), Some((later, later + interval)));
    }

    #[test]
    fn starts_stop_in_time_for_the_invocation_to_report() {
        let t0 = Instant::now();
        assert_eq!(start_deadline(t0, None), t0 + START_WINDOW);
        let far = SystemTime::now() + Duration::from_secs(900);
        assert_eq!(start_deadline(t0, Some(far)), t0 + START_WINDOW);
        // Five minutes left: starts stop a minute before the end, not ten minutes from now.
        let near = start_deadline(t0, Some(SystemTime::now() + Duration::from_secs(300)));
        assert!(near <= t0 + Duration::from_secs(240) && near > t0 + Duration::from_secs(230), "{:?}", near - t0);
        assert_eq!(start_deadline(t0, Some(SystemTime::now())), t0);
    }
}
