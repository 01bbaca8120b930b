//! What a destination's own tags say about its backfill, and what a protect run should do about
//! it. The tags are the backfill's memory across executions: an execution can die (a deploy, a
//! quota, an operator's StopExecution) and the next one, or the sweep, must know whether the
//! existing objects are in, being copied, or abandoned half-way, and whether objects written
//! while protection was broken still have to be caught up.
//!
//! - `s3-dr:backfill=<strategy> <date>`: done (written once, when the first backfill finished;
//!   `off <date>` records a run that was asked not to backfill).
//! - `s3-dr:backfill-progress=<copy|batch>:<unix seconds>:<writer>:<cursor or job id>`: under way.
//!   The time is the last heartbeat, the writer the name of the execution that wrote it (so
//!   another run can ask Step Functions whether it still runs), the detail the copy's cursor or
//!   the Batch Replication job.
//! - `s3-dr:catch-up-owed=<unix seconds>`: a repair (a rule put back, versioning turned on again)
//!   left objects written meanwhile unreplicated; recorded before the repair, by the step that
//!   makes it, and cleared only by a scan from the start that began after that time.
//! - `s3-dr:not-replicable=<count>:<base64 of "key: reason">`: objects S3 cannot copy
//!   (archived, SSE-C), with one example, so that `status` can say so.
//!
//! S3 bucket tag values hold at most 256 characters of letters, digits, whitespace and
//! `+ - = . _ : / @` (https://docs.aws.amazon.com/AmazonS3/latest/userguide/CostAllocTagging.html,
//! which defers to the AWS tag restrictions). Object keys hold anything, so a cursor is the
//! longest prefix of the key made of those characters: resuming after a prefix of the real key
//! lists again at most the keys between the two, which the skip rule skips. It never misses one.

use serde::{Deserialize, Serialize};

use crate::backfill::Strategy;
use crate::tags::Tag;

pub const MARKER_TAG: &str = "s3-dr:backfill";
pub const PROGRESS_TAG: &str = "s3-dr:backfill-progress";
pub const CATCH_UP_TAG: &str = "s3-dr:catch-up-owed";
pub const NOT_REPLICABLE_TAG: &str = "s3-dr:not-replicable";
/// Every tag s3-dr may keep on a destination besides `s3-dr:source`.
pub const BACKFILL_TAGS: [&str; 4] = [MARKER_TAG, PROGRESS_TAG, CATCH_UP_TAG, NOT_REPLICABLE_TAG];

const MAX_TAG_VALUE: usize = 256;
/// Step Functions' limit on execution names.
const MAX_WRITER: usize = 80;
/// Room left in a progress value for the cursor or job id after the longest head,
/// `batch:<10-digit time>:<writer>:` (tests/properties.rs found `copy:`'s 17 a character short).
const MAX_CURSOR: usize = MAX_TAG_VALUE - "batch:".len() - 10 - 2 - MAX_WRITER;
/// A heartbeat older than this is taken for a dead backfill when Step Functions cannot be asked
/// about its writer. A copy writes one after each page, and a page takes at most one invocation
/// (15 minutes); with two retries of a timed-out invocation and their backoff, a live copy can
/// go about 47 minutes without one.
pub const STALLED_AFTER_SECONDS: i64 = 60 * 60;

/// The backfill tags of a destination, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackfillTags {
    /// `copy 2026-11-26`: the backfill is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Heartbeat>,
    /// When a repair left a catch-up owed (seconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catch_up_owed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_replicable: Option<NotReplicable>,
}

impl BackfillTags {
    pub fn read(tags: &[Tag]) -> BackfillTags {
        let value = |key: &str| tags.iter().find(|t| t.key == key).map(|t| t.value.as_str());
        BackfillTags {
            marker: value(MARKER_TAG).map(str::to_owned),
            progress: value(PROGRESS_TAG).and_then(Heartbeat::parse),
            catch_up_owed: value(CATCH_UP_TAG).and_then(|v| v.parse().ok()),
            not_replicable: value(NOT_REPLICABLE_TAG).and_then(NotReplicable::parse),
        }
    }

    /// The marker, if it says the existing objects were copied (`off <date>` does not).
    pub fn backfilled(&self) -> Option<&str> {
        self.marker.as_deref().filter(|m| !is_off_marker(m))
    }

    /// Whether a repair now leaves a catch-up owed: only if a backfill was done or began (a
    /// first backfill, started after the repair, takes everything anyway).
    pub fn owes_catch_up_on_repair(&self) -> bool {
        self.backfilled().is_some() || self.progress.is_some()
    }
}

fn is_off_marker(marker: &str) -> bool {
    marker.starts_with("off ")
}

/// A backfill under way: when it last showed life, which execution wrote it, and what it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Heartbeat {
    pub at: i64,
    /// The execution's name; empty when it cannot be told (outside Step Functions, or a name a
    /// tag cannot hold): then the heartbeat's age decides whether it is alive.
    pub writer: String,
    pub work: Work,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Work {
    /// A copy, resumable after this key.
    Copy { after: String },
    /// A Batch Replication job.
    Batch { job_id: String },
}

impl Heartbeat {
    pub fn encode(&self) -> String {
        let (kind, detail) = match &self.work {
            Work::Copy { after } => ("copy", cursor_prefix(after)),
            Work::Batch { job_id } => ("batch", cursor_prefix(job_id)),
        };
        // A writer is kept whole or not at all: a cut name would name another execution.
        let writer = match self.writer.len() <= MAX_WRITER && cursor_prefix(&self.writer) == self.writer {
            true => self.writer.as_str(),
            false => "",
        };
        format!("{kind}:{}:{writer}:{detail}", self.at)
    }

    pub fn parse(value: &str) -> Option<Heartbeat> {
        let mut parts = value.splitn(4, ':');
        let (kind, at, writer, detail) =
            (parts.next()?, parts.next()?.parse().ok()?, parts.next()?.to_owned(), parts.next()?.to_owned());
        let work = match kind {
            "copy" => Work::Copy { after: detail },
            "batch" if !detail.is_empty() => Work::Batch { job_id: detail },
            _ => return None,
        };
        Some(Heartbeat { at, writer, work })
    }
}

/// The longest prefix of `key` that a tag value can hold (see the module comment).
pub fn cursor_prefix(key: &str) -> String {
    key.chars().take_while(|c| c.is_ascii_alphanumeric() || "+-=._:/@".contains(*c)).take(MAX_CURSOR).collect()
}

/// Objects that S3 cannot copy, with one example, as a tag value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotReplicable {
    pub count: u64,
    /// `photos/2019.tar: archived (GLACIER), not restored`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
}

impl NotReplicable {
    pub fn encode(&self) -> String {
        let count = self.count.to_string();
        let Some(example) = &self.example else { return count };
        // Base64's alphabet (letters, digits, + / =) is all allowed in a tag value.
        let room = (MAX_TAG_VALUE - count.len() - 1) / 4 * 3;
        let mut end = example.len().min(room);
        while !example.is_char_boundary(end) {
            end -= 1;
        }
        format!("{count}:{}", aws_smithy_types::base64::encode(&example.as_bytes()[..end]))
    }

    pub fn parse(value: &str) -> Option<NotReplicable> {
        let (count, example) = match value.split_once(':') {
            Some((count, encoded)) => {
                let bytes = aws_smithy_types::base64::decode(encoded).ok()?;
                (count, Some(String::from_utf8_lossy(&bytes).into_owned()))
            }
            None => (value, None),
        };
        Some(NotReplicable { count: count.parse().ok()?, example })
    }

    pub fn describe(&self) -> String {
        match &self.example {
            Some(example) => format!("{} objects not replicable (e.g. {example})", self.count),
            None => format!("{} objects not replicable", self.count),
        }
    }
}

/// `copy 2026-11-26`
pub fn marker_value(strategy: Strategy, date: &str) -> String {
    format!("{} {date}", strategy.name())
}

/// How a finished backfill leaves the destination's tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finish<'a> {
    /// The marker to write, unless one (not `off`) is there already: the first stays.
    pub marker: &'a str,
    /// `Some` replaces the not-replicable count (a count of 0 removes it); `None` (a run that
    /// did not look at every object) keeps what was there.
    pub not_replicable: Option<&'a NotReplicable>,
    /// When this backfill's scan from the start began, if it scanned from the start: an owed
    /// catch-up recorded at or before that time is paid.
    pub scanned_from_start_since: Option<i64>,
}

/// The destination's tags once a backfill is done: the marker, no heartbeat, the count, and the
/// owed catch-up unless this backfill paid it.
pub fn finished_tags(current: &[Tag], finish: &Finish<'_>) -> Vec<Tag> {
    let value = |key: &str| current.iter().find(|t| t.key == key).map(|t| t.value.clone());
    let mut tags: Vec<Tag> = current.iter().filter(|t| !BACKFILL_TAGS.contains(&t.key.as_str())).cloned().collect();
    let kept = value(MARKER_TAG).filter(|m| !is_off_marker(m));
    tags.push(Tag::new(MARKER_TAG, kept.unwrap_or_else(|| finish.marker.to_owned())));
    let owed = value(CATCH_UP_TAG).filter(|owed| match (owed.parse::<i64>(), finish.scanned_from_start_since) {
        (Ok(owed), Some(since)) => owed > since,
        _ => true,
    });
    if let Some(owed) = owed {
        tags.push(Tag::new(CATCH_UP_TAG, owed));
    }
    let not_replicable = match finish.not_replicable {
        Some(found) => (found.count > 0).then(|| found.encode()),
        None => value(NOT_REPLICABLE_TAG),
    };
    if let Some(found) = not_replicable {
        tags.push(Tag::new(NOT_REPLICABLE_TAG, found));
    }
    tags
}

/// The destination's tags with the heartbeat, and the objects found not replicable so far (so
/// that a run resuming after this one goes on counting from there; `None` keeps the tag).
pub fn with_heartbeat(current: &[Tag], heartbeat: &Heartbeat, not_replicable: Option<&NotReplicable>) -> Vec<Tag> {
    let mut tags: Vec<Tag> = current
        .iter()
        .filter(|t| t.key != PROGRESS_TAG && (not_replicable.is_none() || t.key != NOT_REPLICABLE_TAG))
        .cloned()
        .collect();
    tags.push(Tag::new(PROGRESS_TAG, heartbeat.encode()));
    if let Some(found) = not_replicable.filter(|n| n.count > 0) {
        tags.push(Tag::new(NOT_REPLICABLE_TAG, found.encode()));
    }
    tags
}

/// The destination's tags with a catch-up owed since `now`, if a repair now owes one (the
/// earliest owed time stays: everything since then must be caught up).
pub fn with_catch_up_owed(current: &[Tag], now: i64) -> Vec<Tag> {
    let tags = BackfillTags::read(current);
    if !tags.owes_catch_up_on_repair() || tags.catch_up_owed.is_some() {
        return current.to_vec();
    }
    let mut owed = current.to_vec();
    owed.push(Tag::new(CATCH_UP_TAG, now.to_string()));
    owed
}

/// The destination's tags once a Batch Replication job ended without copying everything: no
/// heartbeat (the job is not followed again) and a catch-up owed (the objects that failed are
/// marked FAILED, which a catch-up job takes), the earliest owed time kept.
pub fn after_failed_job(current: &[Tag], now: i64) -> Vec<Tag> {
    let mut tags: Vec<Tag> = current.iter().filter(|t| t.key != PROGRESS_TAG).cloned().collect();
    if BackfillTags::read(&tags).catch_up_owed.is_none() {
        tags.push(Tag::new(CATCH_UP_TAG, now.to_string()));
    }
    tags
}

/// Where a destination's backfill stands, as the sweep and `status` see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    Done,
    /// Marked `off`: a run was asked not to copy the existing objects.
    Off,
    /// A heartbeat younger than [`STALLED_AFTER_SECONDS`] (a full backfill or a catch-up).
    Running,
    /// A batch job is named: only S3 Control knows whether it still runs.
    JobToCheck(String),
    /// A heartbeat too old: the execution that did the work died.
    Stalled {
        since: i64,
    },
    /// A repair left a catch-up owed, and nothing does it.
    CatchUpOwed {
        since: i64,
    },
    NotStarted,
}

pub fn liveness(tags: &BackfillTags, now: i64) -> Liveness {
    match (&tags.progress, &tags.catch_up_owed, &tags.marker) {
        (Some(Heartbeat { work: Work::Batch { job_id }, .. }), _, _) => Liveness::JobToCheck(job_id.clone()),
        (Some(heartbeat), _, _) if now - heartbeat.at < STALLED_AFTER_SECONDS => Liveness::Running,
        (Some(heartbeat), _, _) => Liveness::Stalled { since: heartbeat.at },
        (None, Some(since), _) => Liveness::CatchUpOwed { since: *since },
        (None, None, Some(marker)) if is_off_marker(marker) => Liveness::Off,
        (None, None, Some(_)) => Liveness::Done,
        (None, None, None) => Liveness::NotStarted,
    }
}

/// What StartBackfill does, decided from the request, the destination's tags and what the
/// earlier steps of this run repaired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// The destination is backfilled and nothing calls for more: no AWS call at all.
    AlreadyDone { marker: String },
    /// Another execution copies right now (its heartbeat, and Step Functions says it runs, or
    /// when that cannot be asked, the heartbeat is fresh): leave it the work, rather than copy
    /// the same keys twice. A catch-up this run's repair owes is recorded on the destination.
    UnderWay { since: i64, writer: String },
    /// Asked to force a backfill while another execution copies: refused, by name.
    ForceRefused { writer: String },
    /// Every existing object; `after` resumes an interrupted copy after that key.
    Full { after: Option<String> },
    /// A scan from the start for what was written while protection was broken (`why`): batch
    /// takes the objects S3 marks NONE or FAILED, copy rescans and skips what is there.
    CatchUp { why: String },
    /// A Batch Replication job an earlier execution started: follow it.
    FollowJob { job_id: String },
}

/// Another execution's copy heartbeat (a batch job is followed, whoever started it).
fn another_copy<'a>(tags: &'a BackfillTags, me: &str) -> Option<&'a Heartbeat> {
    tags.progress.as_ref().filter(|h| h.writer != me && matches!(h.work, Work::Copy { .. }))
}

/// The execution whose heartbeat should be checked before a run takes over the work: another
/// execution's copy, if the heartbeat names it.
pub fn other_writer<'a>(tags: &'a BackfillTags, me: &str) -> Option<&'a str> {
    another_copy(tags, me).map(|h| h.writer.as_str()).filter(|writer| !writer.is_empty())
}

/// `force`: the operator asked for a new backfill. `gap`: this run repaired protection that was
/// broken (see `replication::replication_gap`), so objects written meanwhile may be missing.
/// `me`: this execution's name. `writer_runs`: whether the execution that wrote another copy
/// heartbeat still runs, as Step Functions answered (None: not asked, or it could not tell;
/// the heartbeat's age decides). `now`: seconds since the epoch.
pub fn decide_start(
    strategy: Strategy,
    force: bool,
    tags: &BackfillTags,
    gap: Option<&str>,
    me: &str,
    writer_runs: Option<bool>,
    now: i64,
) -> Start {
    if let Some(heartbeat) = another_copy(tags, me) {
        if writer_runs.unwrap_or(now - heartbeat.at < STALLED_AFTER_SECONDS) {
            return match force {
                true => Start::ForceRefused { writer: heartbeat.writer.clone() },
                false => Start::UnderWay { since: heartbeat.at, writer: heartbeat.writer.clone() },
            };
        }
    }
    if force {
        return Start::Full { after: None };
    }
    let owed =
        gap.map(str::to_owned).or_else(|| tags.catch_up_owed.map(|_| "a repair left a catch-up owed".to_owned()));
    match (&tags.progress, owed, tags.backfilled()) {
        // A job is followed, whoever started it; what is owed beyond it stays recorded.
        (Some(Heartbeat { work: Work::Batch { job_id }, .. }), None, _) if strategy == Strategy::Batch => {
            Start::FollowJob { job_id: job_id.clone() }
        }
        // Owed: a scan from the start (a cursor taken before the gap would skip keys before it).
        (_, Some(why), _) => Start::CatchUp { why },
        // A catch-up that died (its heartbeat on a marked destination): again from the start.
        (Some(_), None, Some(_)) => Start::CatchUp { why: "an earlier catch-up did not finish".to_owned() },
        (None, None, Some(marker)) => Start::AlreadyDone { marker: marker.to_owned() },
        (Some(Heartbeat { work: Work::Copy { after }, .. }), None, None) if strategy == Strategy::Copy => {
            Start::Full { after: (!after.is_empty()).then(|| after.clone()) }
        }
        (_, None, None) => Start::Full { after: None },
    }
}

#[cfg(test)]
mod tests;
