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
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    const NOW: i64 = 1_795_670_100;

    fn heartbeat(at: i64, writer: &str, work: Work) -> Option<Heartbeat> {
        Some(Heartbeat { at, writer: writer.into(), work })
    }

    fn copy_at(after: &str) -> Work {
        Work::Copy { after: after.into() }
    }

    fn tags(marker: Option<&str>, progress: Option<Heartbeat>, owed: Option<i64>) -> BackfillTags {
        BackfillTags { marker: marker.map(str::to_owned), progress, catch_up_owed: owed, not_replicable: None }
    }

    fn decide(strategy: Strategy, force: bool, tags: &BackfillTags, gap: Option<&str>, runs: Option<bool>) -> Start {
        decide_start(strategy, force, tags, gap, "mine", runs, NOW)
    }

    #[test]
    fn cursors_are_safe_prefixes_that_fit_a_tag() {
        assert_eq!(cursor_prefix("data/01/object-00042.bin"), "data/01/object-00042.bin");
        assert_eq!(cursor_prefix("odd names/ü + ? # 0.txt"), "odd");
        assert_eq!(cursor_prefix("?starts-odd"), "");
        let long = "k".repeat(1024);
        let tag = Heartbeat { at: NOW, writer: "w".repeat(80), work: copy_at(&long) }.encode();
        assert!(tag.len() <= MAX_TAG_VALUE, "{}", tag.len());
        // A prefix sorts at or before the key: resuming after it misses nothing.
        for key in ["odd names/ü + ? # 0.txt", long.as_str(), "a?b"] {
            assert!(cursor_prefix(key).as_str() <= key);
        }
    }

    #[test]
    fn tags_round_trip() -> TestResult {
        let writer = "protect-photos-20261126T0515-g2".to_owned();
        for work in [copy_at("data/01/x:y"), Work::Batch { job_id: "f2b1c3d4-0000-4000-8000-000000000001".into() }] {
            let beat = Heartbeat { at: 42, writer: writer.clone(), work };
            assert_eq!(Heartbeat::parse(&beat.encode()), Some(beat));
        }
        // A writer a tag cannot hold whole is not cut into another execution's name.
        let unicode = Heartbeat { at: 1, writer: "protect-fotos-ü".into(), work: copy_at("k") };
        assert_eq!(Heartbeat::parse(&unicode.encode()).map(|h| h.writer), Some(String::new()));
        assert_eq!(Heartbeat::parse("copy:notatime:o:x"), None);
        assert_eq!(Heartbeat::parse("rsync:1:o:x"), None);
        assert_eq!(Heartbeat::parse("copy:1:x"), None, "a format without a writer");
        let found =
            NotReplicable { count: 12, example: Some("photos/ü ?#.tar: archived (GLACIER), not restored".into()) };
        let encoded = found.encode();
        assert!(encoded.len() <= MAX_TAG_VALUE);
        assert!(encoded.chars().all(|c| c.is_ascii_alphanumeric() || "+/=:".contains(c)), "{encoded}");
        assert_eq!(NotReplicable::parse(&encoded), Some(found));
        let huge = NotReplicable { count: 3, example: Some("é".repeat(400)) };
        let parsed = NotReplicable::parse(&huge.encode()).ok_or("unparsed")?;
        assert!(huge.encode().len() <= MAX_TAG_VALUE && parsed.example.is_some_and(|e| e.starts_with('é')));
        assert_eq!(BackfillTags::read(&[Tag::new(CATCH_UP_TAG, "17")]).catch_up_owed, Some(17));
        Ok(())
    }

    #[test]
    fn a_marked_destination_needs_nothing_unless_forced_or_repaired() {
        let done = tags(Some("copy 2026-11-26"), None, None);
        for strategy in [Strategy::Copy, Strategy::Batch] {
            assert_eq!(
                decide(strategy, false, &done, None, None),
                Start::AlreadyDone { marker: "copy 2026-11-26".into() }
            );
            assert_eq!(decide(strategy, true, &done, None, None), Start::Full { after: None });
            assert_eq!(
                decide(strategy, false, &done, Some("rule was missing"), None),
                Start::CatchUp { why: "rule was missing".into() }
            );
        }
    }

    #[test]
    fn an_owed_catch_up_is_not_forgotten_and_always_scans_from_the_start() {
        // The run that repaired recorded it, then died: the next run still catches up.
        let owed = tags(Some("copy 2026-11-26"), None, Some(NOW - 7200));
        assert!(matches!(decide(Strategy::Copy, false, &owed, None, None), Start::CatchUp { .. }));
        assert!(matches!(decide(Strategy::Batch, false, &owed, None, None), Start::CatchUp { .. }));
        assert_eq!(liveness(&owed, NOW), Liveness::CatchUpOwed { since: NOW - 7200 });
        // Owed during a full copy that died: a cursor from before the gap would skip keys.
        let mid_copy = tags(None, heartbeat(NOW - 2 * STALLED_AFTER_SECONDS, "theirs", copy_at("m")), Some(NOW - 60));
        assert!(matches!(decide(Strategy::Copy, false, &mid_copy, None, None), Start::CatchUp { .. }));
        // Owed while a batch job runs: a catch-up job of its own, not the old job's manifest.
        let job = tags(Some("batch 2026-11-26"), heartbeat(NOW, "theirs", Work::Batch { job_id: "j".into() }), None);
        assert_eq!(decide(Strategy::Batch, false, &job, None, None), Start::FollowJob { job_id: "j".into() });
        assert!(matches!(decide(Strategy::Batch, false, &job, Some("rule was missing"), None), Start::CatchUp { .. }));
        // A dead catch-up: again from the start.
        let dead =
            tags(Some("copy 2026-11-26"), heartbeat(NOW - 2 * STALLED_AFTER_SECONDS, "theirs", copy_at("k")), None);
        assert!(matches!(decide(Strategy::Copy, false, &dead, None, None), Start::CatchUp { .. }));
    }

    #[test]
    fn an_interrupted_backfill_resumes_with_its_own_strategy() {
        let stale = NOW - STALLED_AFTER_SECONDS;
        let copying = tags(None, heartbeat(stale, "theirs", copy_at("data/07")), None);
        assert_eq!(decide(Strategy::Copy, false, &copying, None, None), Start::Full { after: Some("data/07".into()) });
        assert_eq!(decide(Strategy::Batch, false, &copying, None, None), Start::Full { after: None });
        let started = tags(None, heartbeat(stale, "theirs", copy_at("")), None);
        assert_eq!(decide(Strategy::Copy, false, &started, None, None), Start::Full { after: None });
        let job = tags(None, heartbeat(stale, "theirs", Work::Batch { job_id: "job-1".into() }), None);
        assert_eq!(decide(Strategy::Batch, false, &job, None, None), Start::FollowJob { job_id: "job-1".into() });
        assert_eq!(decide(Strategy::Batch, true, &job, None, None), Start::Full { after: None });
        assert_eq!(decide(Strategy::Copy, false, &BackfillTags::default(), None, None), Start::Full { after: None });
    }

    #[test]
    fn a_copy_under_way_elsewhere_is_left_to_it_and_forcing_it_is_refused() {
        let fresh = tags(None, heartbeat(NOW - 60, "theirs", copy_at("k")), None);
        assert_eq!(
            decide(Strategy::Copy, false, &fresh, Some("rule was missing"), None),
            Start::UnderWay { since: NOW - 60, writer: "theirs".into() }
        );
        assert_eq!(decide(Strategy::Copy, true, &fresh, None, None), Start::ForceRefused { writer: "theirs".into() });
        // This execution's own heartbeat (a retried step): carry on.
        let own = tags(None, heartbeat(NOW - 60, "mine", copy_at("k")), None);
        assert_eq!(decide(Strategy::Copy, false, &own, None, None), Start::Full { after: Some("k".into()) });
        // Step Functions knows better than the clock: a fresh heartbeat of a dead execution is
        // taken over, an old one of a live execution is not.
        assert_eq!(decide(Strategy::Copy, false, &fresh, None, Some(false)), Start::Full { after: Some("k".into()) });
        let old = tags(None, heartbeat(NOW - 2 * STALLED_AFTER_SECONDS, "theirs", copy_at("k")), None);
        assert!(matches!(decide(Strategy::Copy, false, &old, None, Some(true)), Start::UnderWay { .. }));
        assert_eq!(other_writer(&old, "mine"), Some("theirs"));
        assert_eq!(other_writer(&old, "theirs"), None);
    }

    #[test]
    fn an_off_marker_holds_only_for_a_run_that_is_off_and_owes_no_catch_up() {
        let off = tags(Some("off 2026-11-26"), None, None);
        assert_eq!(decide(Strategy::Copy, false, &off, None, None), Start::Full { after: None });
        assert_eq!(liveness(&off, NOW), Liveness::Off);
        assert!(!off.owes_catch_up_on_repair());
        let current = [Tag::new(MARKER_TAG, "off 2026-11-26")];
        assert_eq!(with_catch_up_owed(&current, NOW), current.to_vec());
    }

    #[test]
    fn liveness_reads_the_heartbeat_then_the_owed_catch_up_then_the_marker() {
        assert_eq!(liveness(&tags(Some("copy 2026-11-26"), None, None), NOW), Liveness::Done);
        assert_eq!(liveness(&tags(None, None, None), NOW), Liveness::NotStarted);
        assert_eq!(liveness(&tags(None, heartbeat(NOW - 60, "o", copy_at("k")), None), NOW), Liveness::Running);
        let old = NOW - STALLED_AFTER_SECONDS;
        assert_eq!(
            liveness(&tags(None, heartbeat(old, "o", copy_at("k")), None), NOW),
            Liveness::Stalled { since: old }
        );
        let job = heartbeat(0, "o", Work::Batch { job_id: "j".into() });
        assert_eq!(liveness(&tags(Some("batch 2026-11-26"), job, None), NOW), Liveness::JobToCheck("j".into()));
        assert_eq!(
            liveness(&tags(Some("copy 2026-11-26"), heartbeat(NOW, "o", copy_at("")), Some(5)), NOW),
            Liveness::Running
        );
    }

    #[test]
    fn a_repair_records_the_earliest_owed_time_once_a_backfill_began() {
        let fresh: Vec<Tag> = vec![Tag::new("s3-dr:source", "p")];
        assert_eq!(with_catch_up_owed(&fresh, NOW), fresh, "no backfill yet: the first one takes everything");
        let done = vec![Tag::new(MARKER_TAG, "copy 2026-11-26")];
        let owed = with_catch_up_owed(&done, NOW);
        assert!(owed.contains(&Tag::new(CATCH_UP_TAG, NOW.to_string())));
        assert_eq!(with_catch_up_owed(&owed, NOW + 100), owed, "the earliest time stays");
        let copying = vec![Tag::new(PROGRESS_TAG, "copy:1:w:k")];
        assert!(BackfillTags::read(&with_catch_up_owed(&copying, NOW)).catch_up_owed.is_some());
    }

    #[test]
    fn a_failed_job_is_not_followed_again_and_leaves_a_catch_up_owed() {
        let job = vec![Tag::new("s3-dr:source", "p"), Tag::new(PROGRESS_TAG, "batch:1:w:job-1")];
        let after = after_failed_job(&job, NOW);
        assert_eq!(after, vec![Tag::new("s3-dr:source", "p"), Tag::new(CATCH_UP_TAG, NOW.to_string())]);
        assert_eq!(
            decide(Strategy::Batch, false, &BackfillTags::read(&after), None, None),
            Start::CatchUp { why: "a repair left a catch-up owed".into() }
        );
        // An earlier debt keeps its time: everything since then is owed.
        let owed = vec![Tag::new(CATCH_UP_TAG, "100"), Tag::new(PROGRESS_TAG, "batch:1:w:job-1")];
        assert_eq!(after_failed_job(&owed, NOW), vec![Tag::new(CATCH_UP_TAG, "100")]);
    }

    #[test]
    fn finishing_keeps_the_first_marker_drops_the_heartbeat_and_pays_only_what_it_scanned_for() {
        let current = vec![
            Tag::new("team", "media"),
            Tag::new(PROGRESS_TAG, "copy:1:o:k"),
            Tag::new("s3-dr:source", "photos"),
            Tag::new(CATCH_UP_TAG, "100"),
        ];
        let found = NotReplicable { count: 2, example: None };
        let finish = |since: Option<i64>, not_replicable| Finish {
            marker: "copy 2026-11-26",
            not_replicable,
            scanned_from_start_since: since,
        };
        let tags = finished_tags(&current, &finish(Some(100), Some(&found)));
        assert_eq!(
            tags,
            vec![
                Tag::new("team", "media"),
                Tag::new("s3-dr:source", "photos"),
                Tag::new(MARKER_TAG, "copy 2026-11-26"),
                Tag::new(NOT_REPLICABLE_TAG, "2"),
            ]
        );
        // A scan that began before the repair, or resumed from a cursor, does not pay for it.
        for since in [Some(99), None] {
            assert!(finished_tags(&current, &finish(since, None)).contains(&Tag::new(CATCH_UP_TAG, "100")));
        }
        // A batch catch-up does not count: what was known stays.
        let kept = finished_tags(
            &tags,
            &Finish { marker: "batch 2026-12-01", not_replicable: None, scanned_from_start_since: None },
        );
        assert!(kept.contains(&Tag::new(NOT_REPLICABLE_TAG, "2")), "{kept:?}");
        // A later full count of 0 clears it; the first marker stays.
        let zero = NotReplicable { count: 0, example: None };
        let again = finished_tags(
            &tags,
            &Finish { marker: "copy 2026-12-01", not_replicable: Some(&zero), scanned_from_start_since: None },
        );
        assert!(again.contains(&Tag::new(MARKER_TAG, "copy 2026-11-26")), "{again:?}");
        assert!(!again.iter().any(|t| t.key == NOT_REPLICABLE_TAG));
        // An `off` marker gives way to the first real one.
        let real = finished_tags(&[Tag::new(MARKER_TAG, "off 2026-11-20")], &finish(None, None));
        assert_eq!(real, vec![Tag::new(MARKER_TAG, "copy 2026-11-26")]);
        // A heartbeat carries the count found so far.
        let beating =
            with_heartbeat(&again, &Heartbeat { at: 5, writer: "o".into(), work: copy_at("x") }, Some(&found));
        assert_eq!(beating.iter().filter(|t| t.key == PROGRESS_TAG || t.key == NOT_REPLICABLE_TAG).count(), 2);
    }
}
