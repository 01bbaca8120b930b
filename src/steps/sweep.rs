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
//! Fleet scale: the sweep workflow runs `S3DR_SWEEP_SHARDS` shards at once (an ASL Map), each
//! a loop of SweepShard invocations. A shard reads the account's bucket list a ListBuckets page
//! at a time (`S3DR_SWEEP_PAGE_SIZE`) and checks the buckets of the page whose name hashes to it
//! ([`shard_of`]); after `S3DR_SWEEP_INVOCATION_SECONDS`, or near the Lambda's deadline, it hands
//! the page cursor (ListBuckets' ContinuationToken) and its counts so far to the next
//! invocation, so no invocation's 15 minutes bounds the account's size. PlanSweep deals the
//! shards; Sweep adds their reports up.
//!
//! AWS calls: ListBuckets per page per shard; per bucket, GetBucketTagging (plus
//! GetBucketLocation when ListBuckets gave no region); then, unless it is an s3-dr destination
//! (whose tags its source's check reads), GetBucketReplication; for a tagged bucket (or one with
//! the s3-dr rule), GetBucketTagging of its destination; for a tagged bucket,
//! GetBucketVersioning, HeadBucket of the destination and its GetBucketVersioning (and
//! s3control DescribeJob while a batch backfill is named on the destination);
//! states:StartExecution per bucket that needs work. At most `S3DR_SWEEP_CONCURRENCY` buckets
//! at once per shard. One bucket's failure is counted and reported; it never fails the sweep.
//!
//! A protected bucket's data is verified once a week (the verify workflow, when
//! `S3DR_VERIFY_STATE_MACHINE_ARN` is set): on its own day of the week, spread by a hash of its
//! name, and whatever the day once its last verification is 8 days old ([`verify::is_due`]).
//!
//! Starts are paced (`S3DR_SWEEP_START_RATE` per second, shared by the shards): every execution
//! invokes the step Lambda, whose concurrency is reserved, and a burst of hundreds would be
//! throttled. Starts that would come within a minute of the invocation's deadline (or, outside
//! Lambda, after [`START_WINDOW`]) are deferred to the next sweep (counted, not failed).
//!
//! The state stays small whatever the account (Step Functions refuses a state over 256 KiB, and
//! no Catch sees that): the starts each shard names are capped at its share of
//! [`MAX_STARTED_LISTED`], each name at [`MAX_ENTRY_CHARS`].

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use tokio::sync::Mutex;
use tokio::time::Instant;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

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
use crate::steps::{previous_turn, Step, StepContext};
use crate::tags::{self, Tag};
use crate::verify;

/// Failures listed by name in the report (the count is always complete).
const MAX_FAILURES_LISTED: usize = 20;
/// Starts listed by name, in all (each shard lists its share): the whole sweep's state, the
/// shards' reports and their sum, must stay under 256 KiB whatever the account.
const MAX_STARTED_LISTED: usize = 400;
/// The longest failure or start listed, in characters.
const MAX_ENTRY_CHARS: usize = 160;
/// Outside Lambda (no deadline): how long executions may still be started; and how much of an
/// invocation is kept after the last start.
pub const START_WINDOW: Duration = Duration::from_secs(600);
const AFTER_LAST_START: Duration = Duration::from_secs(60);

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
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
    /// A shard's report: which one (of `shard_count`), the ListBuckets pages read and the
    /// invocations it took, where the next goes on (none once `done`).
    pub shard: u32,
    pub shard_count: u32,
    pub pages: u32,
    pub invocations: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    pub done: bool,
    /// The whole sweep's report: each shard's figures.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ShardFigures>,
    /// AWS calls of every invocation so far, by `service:Operation` (`awsCalls` is the last
    /// invocation's own).
    pub aws_calls_total: std::collections::BTreeMap<String, u32>,
    pub summary: String,
    pub changed: bool,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShardFigures {
    pub shard: u32,
    pub scanned: usize,
    pub pages: u32,
    pub invocations: u32,
    pub done: bool,
}

/// The shard (of `shards`) that sweeps the bucket `name`: a stable hash of the name, so that
/// every shard, reading the same list, takes its own buckets and no other's. A destination
/// (`<source><suffix>`) hashes as its source does: its tags, read in its own shard's page, then
/// usually spare the source's check a call.
pub fn shard_of(name: &str, shards: u32, destination_suffix: &str) -> u32 {
    let source = name.strip_suffix(destination_suffix).filter(|s| !s.is_empty()).unwrap_or(name);
    (xxhash_rust::xxh3::xxh3_64(source.as_bytes()) % u64::from(shards.max(1))) as u32
}

impl Report {
    /// Add another report's counts (a page's, or a shard's) to these.
    pub fn add(&mut self, other: &Report) {
        self.scanned += other.scanned;
        self.tagged += other.tagged;
        self.protected += other.protected;
        self.verifications += other.verifications;
        self.repaired += other.repaired;
        self.backfilling += other.backfilling;
        self.detached += other.detached;
        self.already_started += other.already_started;
        self.deferred += other.deferred;
        self.failed_over += other.failed_over;
        self.failed += other.failed;
        self.changed |= other.changed;
        let room = MAX_FAILURES_LISTED.saturating_sub(self.failures.len());
        self.failures.extend(other.failures.iter().take(room).map(|f| crate::error::abbreviated(f, MAX_ENTRY_CHARS)));
        self.started.extend(other.started.iter().map(|s| crate::error::abbreviated(s, MAX_ENTRY_CHARS)));
        self.started.sort();
        // A shard's report keeps its share; the sum keeps them all.
        let kept = if self.shard_count > 1 && self.shards.is_empty() {
            MAX_STARTED_LISTED / self.shard_count as usize
        } else {
            MAX_STARTED_LISTED
        };
        self.started.truncate(kept.max(1));
        for (operation, count) in &other.aws_calls_total {
            *self.aws_calls_total.entry(operation.clone()).or_default() += count;
        }
    }

    fn summarize(&mut self) {
        self.summary = format!(
            "{} buckets scanned, {} tagged: {} protected ({} verifications started), {} backfilling, {} repair started, {} detach started, {} already under way, {} deferred to the next sweep, {} failed",
            self.scanned,
            self.tagged,
            self.protected,
            self.verifications,
            self.backfilling,
            self.repaired,
            self.detached,
            self.already_started,
            self.deferred,
            self.failed
        );
        if self.failed_over > 0 {
            self.summary.push_str(&format!("; {} failed over to DR, left alone", self.failed_over));
        }
    }
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
    /// `per_second` starts shared by `shards` running at once.
    fn new(per_second: u32, shards: u32, deadline: Instant) -> StartPacer {
        let interval = Duration::from_secs(u64::from(shards.max(1))) / per_second.max(1);
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

/// When starts stop: [`AFTER_LAST_START`] before the invocation's deadline (the pages it
/// begins are bounded by `S3DR_SWEEP_INVOCATION_SECONDS`, their starts only by the deadline), or
/// [`START_WINDOW`] from now outside Lambda.
fn start_deadline(now: Instant, invocation_deadline: Option<SystemTime>) -> Instant {
    let left = invocation_deadline
        .map(|d| d.duration_since(SystemTime::now()).unwrap_or_default().saturating_sub(AFTER_LAST_START));
    now + left.unwrap_or(START_WINDOW)
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

/// PlanSweep: the shards the sweep workflow's Map runs, each one's first input. A request may
/// ask for another number of shards than `S3DR_SWEEP_SHARDS` (`{"shards": n}`, 1 to 40).
pub fn plan(context: &StepContext<'_>, input: &Value) -> Result<Value, DrError> {
    let shards = match input.get("shards") {
        None | Some(Value::Null) => context.config.sweep_shards,
        Some(asked) => asked.as_u64().filter(|n| (1..=MAX_SHARDS).contains(n)).map(|n| n as u32).ok_or_else(|| {
            DrError::InvalidInput(format!("sweep: shards is a whole number from 1 to {MAX_SHARDS}, got {asked}"))
        })?,
    };
    // Copied into every shard's state: bounded.
    let requested_by = match input.get("requestedBy") {
        Some(Value::String(who)) => json!(crate::error::abbreviated(who, 200)),
        _ => json!("sweep"),
    };
    Ok(json!({
        "shards": (0..shards)
            .map(|shard| json!({ "requestedBy": requested_by, "shard": shard, "shardCount": shards }))
            .collect::<Vec<_>>(),
        "changed": false,
    }))
}

/// The most shards a sweep runs at once (the Map's MaxConcurrency).
const MAX_SHARDS: u64 = 40;

/// Sweep: the whole sweep's report, the shards' added up (`input.shards`: each shard's last
/// state, its report under `SweepShard`).
pub fn add_up(input: &Value) -> Result<Report, DrError> {
    let shards = input
        .get("shards")
        .and_then(Value::as_array)
        .ok_or_else(|| DrError::InvalidInput("step Sweep: input.shards (the shards' results) is missing".to_owned()))?;
    let mut total = Report { done: true, ..Report::default() };
    for shard in shards {
        let report: Report = previous_turn(Step::SweepShard, shard)?
            .ok_or_else(|| DrError::InvalidInput("step Sweep: a shard's result has no SweepShard report".to_owned()))?;
        total.add(&report);
        total.done &= report.done;
        total.pages += report.pages;
        total.invocations += report.invocations;
        total.shard_count += 1;
        total.shards.push(ShardFigures {
            shard: report.shard,
            scanned: report.scanned,
            pages: report.pages,
            invocations: report.invocations,
            done: report.done,
        });
    }
    total.shards.sort_by_key(|s| s.shard);
    total.changed = total.repaired + total.detached + total.verifications > 0;
    total.summarize();
    total.summary.push_str(&format!(" ({} shards, {} invocations)", total.shard_count, total.invocations));
    Ok(total)
}

/// A new page is not begun with less than this left of the invocation: a page's checks and its
/// paced starts come after.
const PAGE_MARGIN: Duration = Duration::from_secs(120);

/// SweepShard: this shard's buckets, a page at a time, until the list ends or the invocation's
/// budget is spent; then the cursor goes to the next invocation with the counts so far.
pub async fn run_shard(context: &StepContext<'_>, input: &Value) -> Result<Report, DrError> {
    let config = context.config;
    let (protect_arn, detach_arn) =
        (config.require_state_machine(Workflow::Protect)?, config.require_state_machine(Workflow::Detach)?);
    let (shard, shard_count) = shard_request(input)?;
    let mut report = match previous_turn::<Report>(Step::SweepShard, input)? {
        Some(done) if done.done => return Ok(Report { changed: false, ..done }),
        Some(going) => going,
        None => Report { shard, shard_count, ..Report::default() },
    };
    report.invocations += 1;
    report.changed = false;
    let began = Instant::now();
    let budget = Duration::from_secs(config.sweep_invocation_seconds);
    let pacer = StartPacer::new(config.sweep_start_rate, shard_count, start_deadline(began, context.deadline));
    let home = context.clients.s3(&context.clients.home_region());
    let calls_before = context.clients.call_counts();
    let pages_before = report.pages;
    loop {
        let (page, next) = match bucket::list_page(&home, report.cursor.as_deref(), config.sweep_page_size).await {
            Ok(listed) => listed,
            // After a page: keep what was done, the next turn lists from the cursor again.
            Err(error) if report.pages > pages_before => {
                tracing::warn!(error_type = error.error_type(), %error, "ListBuckets failed: handing over");
                break;
            }
            Err(error) => return Err(error),
        };
        let suffix = config.destination_suffix.as_str();
        let mine: Vec<_> = page.into_iter().filter(|(name, _)| shard_of(name, shard_count, suffix) == shard).collect();
        let found = sweep_page(context, mine, &pacer, (protect_arn, detach_arn)).await;
        report.add(&found);
        report.pages += 1;
        report.cursor = next;
        if report.cursor.is_none() {
            report.done = true;
            break;
        }
        if began.elapsed() >= budget || !crate::clock::time_left(context.deadline, PAGE_MARGIN) {
            break;
        }
    }
    for (operation, count) in context.clients.call_counts() {
        let before = calls_before.get(&operation).copied().unwrap_or(0);
        *report.aws_calls_total.entry(operation).or_default() += count.saturating_sub(before);
    }
    report.summarize();
    if !report.done {
        report.summary.push_str(&format!("; shard {shard}: continuing after page {}", report.pages));
    }
    Ok(report)
}

/// `{"shard": i, "shardCount": n}` (none: the whole account, as one shard).
fn shard_request(input: &Value) -> Result<(u32, u32), DrError> {
    let number =
        |name: &str| match input.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value.as_u64().and_then(|n| u32::try_from(n).ok()).map(Some).ok_or_else(|| {
                DrError::InvalidInput(format!("step SweepShard: {name} is a whole number, got {value}"))
            }),
        };
    let (shard, count) = (number("shard")?.unwrap_or(0), number("shardCount")?.unwrap_or(1));
    if count == 0 || shard >= count {
        return Err(DrError::InvalidInput(format!(
            "step SweepShard: shard {shard} of {count}: expected 0 <= shard < shardCount"
        )));
    }
    Ok((shard, count))
}

/// One page's buckets of this shard: read, assessed, work started; the counts.
async fn sweep_page(
    context: &StepContext<'_>,
    buckets: Vec<(String, Option<String>)>,
    pacer: &StartPacer,
    (protect_arn, detach_arn): (&str, &str),
) -> Report {
    let config = context.config;
    let sfn = context.clients.sfn();
    let now = SystemTime::now();
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
    let sfn = &sfn;

    let outcomes: Vec<(String, Result<Outcome, DrError>)> = futures::stream::iter(sources)
        .map(|listed| async move {
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
    report
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
    let Some(tags) = bucket::tags_if_exists(&context.clients.s3(&region), name).await? else { return Ok(None) };
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
    let tagged = config.match_tag.matches(&listed.tags);
    // The destination's tags say whether the bucket failed over: read with the page when the
    // destination is in it, else asked for (a tagged bucket, or one with the s3-dr rule).
    let dr = context.clients.s3(&config.dr_region);
    let mut destination_tags = destinations.get(&destination).cloned();
    if destination_tags.is_none() && tagged {
        destination_tags = bucket::destination_tags(&dr, &destination).await?;
    }
    if destination_tags.as_deref().is_some_and(failover::is_failed_over) {
        return Ok(Verdict::FailedOver);
    }
    let replication = bucket::replication(&context.clients.s3(region), name).await?;
    let has_rule = replication.as_ref().is_some_and(|c| c.rules().iter().any(is_ours));
    if !tagged {
        if !has_rule {
            return Ok(Verdict::Unmanaged);
        }
        if destination_tags.is_none() {
            destination_tags = bucket::destination_tags(&dr, &destination).await?;
        }
        return Ok(match destination_tags.as_deref().is_some_and(failover::is_failed_over) {
            true => Verdict::FailedOver,
            false => Verdict::Detach,
        });
    }
    if region == config.dr_region {
        return Err(DrError::SourceInDrRegion { bucket: name.to_owned(), region: region.to_owned() });
    }
    let known_tags = destination_tags.as_deref();
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
    fn every_bucket_is_one_shards_and_a_destination_its_sources() {
        let names: Vec<String> = (0..1000).map(|i| format!("bucket-{i}")).collect();
        let mut per_shard = [0usize; 4];
        for name in &names {
            let shard = shard_of(name, 4, "-dr");
            per_shard[shard as usize] += 1;
            assert_eq!(shard_of(&format!("{name}-dr"), 4, "-dr"), shard, "{name}");
            assert_eq!(shard_of(name, 1, "-dr"), 0);
        }
        // Dealt evenly enough: each shard within a fifth of a quarter.
        assert!(per_shard.iter().all(|n| (200..=300).contains(n)), "{per_shard:?}");
        assert_eq!(shard_of("-dr", 4, "-dr"), shard_of("-dr", 4, "-dr"));
    }

    #[test]
    fn shard_reports_add_up_with_bounded_lists() {
        let page = Report {
            scanned: 3,
            repaired: 1,
            failed: 1,
            failures: vec!["x: AccessDenied".into()],
            started: vec!["b: protect".into()],
            aws_calls_total: [("s3:ListBuckets".to_owned(), 1)].into(),
            ..Report::default()
        };
        let mut total = Report::default();
        for _ in 0..30 {
            total.add(&page);
        }
        assert_eq!((total.scanned, total.repaired, total.failed), (90, 30, 30));
        assert_eq!(total.failures.len(), MAX_FAILURES_LISTED);
        assert_eq!(total.aws_calls_total["s3:ListBuckets"], 30);
        let sweep = add_up(&json!({ "shards": [{ "SweepShard": { "scanned": 2, "done": true, "pages": 2, "invocations": 2, "shard": 1 } }, { "SweepShard": { "scanned": 5, "done": true, "pages": 2, "invocations": 1 } }] }))
            .unwrap();
        assert_eq!((sweep.scanned, sweep.invocations, sweep.shard_count, sweep.done), (7, 3, 2, true));
        assert_eq!(sweep.shards.iter().map(|s| s.shard).collect::<Vec<_>>(), [0, 1]);
        assert!(add_up(&json!({})).is_err());
    }

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
        let far_left = start_deadline(t0, Some(far)) - t0;
        assert!(far_left > Duration::from_secs(835) && far_left <= Duration::from_secs(840), "{far_left:?}");
        // Five minutes left: starts stop a minute before the end, not ten minutes from now.
        let near = start_deadline(t0, Some(SystemTime::now() + Duration::from_secs(300)));
        assert!(near <= t0 + Duration::from_secs(240) && near > t0 + Duration::from_secs(230), "{:?}", near - t0);
        assert_eq!(start_deadline(t0, Some(SystemTime::now())), t0);
    }
}
