//! What a destination's own tags say about its backfill, and what a protect run should do about
//! it. The tags are the backfill's memory across executions: an execution can die (a deploy, a
//! quota, an operator's StopExecution) and the next one, or the sweep, must know whether the
//! existing objects are in, being copied, or abandoned half-way.
//!
//! - `s3-dr:backfill=<strategy> <date>`: done (written once, when the first backfill finished;
//!   `off <date>` records a run that was asked not to backfill).
//! - `s3-dr:backfill-progress=<work>:<unix seconds>:<writer>:<detail>`: under way (also on a
//!   marked destination: a catch-up after a repair). The time is the last heartbeat, the writer
//!   the name of the execution that wrote it (so another run can ask Step Functions whether it
//!   still runs), the detail the copy's cursor (`copy`), the job id (`batch`), or nothing
//!   (`pending`: a catch-up owed by a repair, written before the repair).
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
pub const NOT_REPLICABLE_TAG: &str = "s3-dr:not-replicable";
/// Every tag s3-dr may keep on a destination besides `s3-dr:source`.
pub const BACKFILL_TAGS: [&str; 3] = [MARKER_TAG, PROGRESS_TAG, NOT_REPLICABLE_TAG];

const MAX_TAG_VALUE: usize = 256;
/// Step Functions' limit on execution names (letters, digits, `-`, `_`: all allowed in a tag).
const MAX_WRITER: usize = 80;
/// Room left in a progress value for the cursor after `copy:<10-digit time>:<writer>:`.
const MAX_CURSOR: usize = MAX_TAG_VALUE - 17 - MAX_WRITER;
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_replicable: Option<NotReplicable>,
}

impl BackfillTags {
    pub fn read(tags: &[Tag]) -> BackfillTags {
        let value = |key: &str| tags.iter().find(|t| t.key == key).map(|t| t.value.as_str());
        BackfillTags {
            marker: value(MARKER_TAG).map(str::to_owned),
            progress: value(PROGRESS_TAG).and_then(Heartbeat::parse),
            not_replicable: value(NOT_REPLICABLE_TAG).and_then(NotReplicable::parse),
        }
    }

    /// The marker, if it says the existing objects were copied (`off <date>` does not).
    fn backfilled(&self) -> Option<&str> {
        self.marker.as_deref().filter(|m| !is_off_marker(m))
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
    /// The execution's name (empty outside Step Functions).
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
    /// A catch-up a repair owes, written before the repair (nothing copied yet).
    Pending,
}

impl Heartbeat {
    pub fn encode(&self) -> String {
        let (kind, detail) = match &self.work {
            Work::Copy { after } => ("copy", cursor_prefix(after)),
            Work::Batch { job_id } => ("batch", cursor_prefix(job_id)),
            Work::Pending => ("pending", String::new()),
        };
        let writer: String = cursor_prefix(&self.writer).chars().take(MAX_WRITER).collect();
        format!("{kind}:{}:{writer}:{detail}", self.at)
    }

    pub fn parse(value: &str) -> Option<Heartbeat> {
        let mut parts = value.splitn(4, ':');
        let (kind, at, writer, detail) =
            (parts.next()?, parts.next()?.parse().ok()?, parts.next()?.to_owned(), parts.next()?.to_owned());
        let work = match kind {
            "copy" => Work::Copy { after: detail },
            "batch" if !detail.is_empty() => Work::Batch { job_id: detail },
            "pending" => Work::Pending,
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
    /// `archived (GLACIER): photos/2019.tar`
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

/// The destination's tags once a backfill is done: the marker (the first one is kept), no
/// heartbeat, and the not-replicable count: `Some` replaces it (a count of 0 removes it),
/// `None` (a run that did not look at every object) keeps what was there.
pub fn finished_tags(current: &[Tag], marker: &str, not_replicable: Option<&NotReplicable>) -> Vec<Tag> {
    let value = |key: &str| current.iter().find(|t| t.key == key).map(|t| t.value.clone());
    let mut tags: Vec<Tag> = current.iter().filter(|t| !BACKFILL_TAGS.contains(&t.key.as_str())).cloned().collect();
    let kept = value(MARKER_TAG).filter(|m| !is_off_marker(m));
    tags.push(Tag::new(MARKER_TAG, kept.unwrap_or_else(|| marker.to_owned())));
    let not_replicable = match not_replicable {
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
    NotStarted,
}

pub fn liveness(tags: &BackfillTags, now: i64) -> Liveness {
    match (&tags.progress, &tags.marker) {
        (Some(Heartbeat { work: Work::Batch { job_id }, .. }), _) => Liveness::JobToCheck(job_id.clone()),
        (Some(heartbeat), _) if now - heartbeat.at < STALLED_AFTER_SECONDS => Liveness::Running,
        (Some(heartbeat), _) => Liveness::Stalled { since: heartbeat.at },
        (None, Some(marker)) if is_off_marker(marker) => Liveness::Off,
        (None, Some(_)) => Liveness::Done,
        (None, None) => Liveness::NotStarted,
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
    /// the same keys twice.
    UnderWay { since: i64, writer: String },
    /// Every existing object; `after` resumes an interrupted copy after that key.
    Full { after: Option<String> },
    /// The objects written while protection was broken (`why`): batch takes those S3 marks
    /// NONE or FAILED, copy rescans (from `after`, if an earlier catch-up got that far) and
    /// skips what is there.
    CatchUp { why: String, after: Option<String> },
    /// A Batch Replication job an earlier execution started: follow it.
    FollowJob { job_id: String },
}

/// The execution whose heartbeat should be checked before a run takes over the work: another
/// execution's copy or pending catch-up (a batch job is followed, whoever started it).
pub fn other_writer<'a>(tags: &'a BackfillTags, me: &str) -> Option<&'a str> {
    tags.progress
        .as_ref()
        .filter(|h| h.writer != me && !matches!(h.work, Work::Batch { .. }))
        .map(|h| h.writer.as_str())
        .filter(|writer| !writer.is_empty())
}

/// `force`: the operator asked for a new backfill. `gap`: this run repaired protection that was
/// broken (see `replication::replication_gap`), so objects written meanwhile may be missing.
/// `me`: this execution's name. `writer_runs`: whether the execution that wrote another
/// heartbeat still runs, as Step Functions answered (None: not asked; the heartbeat's age
/// decides). `now`: seconds since the epoch.
pub fn decide_start(
    strategy: Strategy,
    force: bool,
    tags: &BackfillTags,
    gap: Option<&str>,
    me: &str,
    writer_runs: Option<bool>,
    now: i64,
) -> Start {
    if let Some(heartbeat) = &tags.progress {
        let theirs = heartbeat.writer != me && !matches!(heartbeat.work, Work::Batch { .. });
        let alive = writer_runs.unwrap_or(now - heartbeat.at < STALLED_AFTER_SECONDS);
        if theirs && alive {
            return Start::UnderWay { since: heartbeat.at, writer: heartbeat.writer.clone() };
        }
    }
    if force {
        return Start::Full { after: None };
    }
    let cursor = match &tags.progress {
        Some(Heartbeat { work: Work::Copy { after }, .. }) if strategy == Strategy::Copy && !after.is_empty() => {
            Some(after.clone())
        }
        _ => None,
    };
    match (tags.backfilled(), gap, &tags.progress) {
        (_, _, Some(Heartbeat { work: Work::Batch { job_id }, .. })) if strategy == Strategy::Batch => {
            Start::FollowJob { job_id: job_id.clone() }
        }
        (Some(_), _, Some(_)) => {
            Start::CatchUp { why: gap.unwrap_or("an earlier catch-up did not finish").to_owned(), after: cursor }
        }
        (Some(_), Some(why), None) => Start::CatchUp { why: why.to_owned(), after: None },
        (Some(marker), None, None) => Start::AlreadyDone { marker: marker.to_owned() },
        (None, _, _) => Start::Full { after: cursor },
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
        for work in [
            copy_at("data/01/x:y"),
            Work::Batch { job_id: "f2b1c3d4-0000-4000-8000-000000000001".into() },
            Work::Pending,
        ] {
            let beat = Heartbeat { at: 42, writer: writer.clone(), work };
            assert_eq!(Heartbeat::parse(&beat.encode()), Some(beat));
        }
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
        Ok(())
    }

    fn tags(marker: Option<&str>, progress: Option<Heartbeat>) -> BackfillTags {
        BackfillTags { marker: marker.map(str::to_owned), progress, not_replicable: None }
    }

    #[test]
    fn a_marked_destination_needs_nothing_unless_forced_or_repaired() {
        let done = tags(Some("copy 2026-11-26"), None);
        for strategy in [Strategy::Copy, Strategy::Batch] {
            assert_eq!(
                decide_start(strategy, false, &done, None, "mine", None, NOW),
                Start::AlreadyDone { marker: "copy 2026-11-26".into() }
            );
            assert_eq!(decide_start(strategy, true, &done, None, "mine", None, NOW), Start::Full { after: None });
            assert_eq!(
                decide_start(strategy, false, &done, Some("rule was missing"), "mine", None, NOW),
                Start::CatchUp { why: "rule was missing".into(), after: None }
            );
        }
    }

    #[test]
    fn a_catch_up_owed_or_unfinished_is_not_forgotten() {
        // The run that repaired wrote "pending" first, then died: the next run still catches up.
        let owed = tags(Some("copy 2026-11-26"), heartbeat(NOW - 2 * STALLED_AFTER_SECONDS, "theirs", Work::Pending));
        assert!(matches!(decide_start(Strategy::Copy, false, &owed, None, "mine", None, NOW), Start::CatchUp { .. }));
        assert!(matches!(decide_start(Strategy::Batch, false, &owed, None, "mine", None, NOW), Start::CatchUp { .. }));
        assert_eq!(liveness(&owed, NOW), Liveness::Stalled { since: NOW - 2 * STALLED_AFTER_SECONDS });
        let copying = tags(Some("copy 2026-11-26"), heartbeat(NOW, "mine", copy_at("k")));
        assert_eq!(
            decide_start(Strategy::Copy, false, &copying, None, "mine", None, NOW),
            Start::CatchUp { why: "an earlier catch-up did not finish".into(), after: Some("k".into()) }
        );
        let job = tags(Some("batch 2026-11-26"), heartbeat(NOW, "theirs", Work::Batch { job_id: "j".into() }));
        assert_eq!(
            decide_start(Strategy::Batch, false, &job, None, "mine", None, NOW),
            Start::FollowJob { job_id: "j".into() }
        );
    }

    #[test]
    fn an_interrupted_backfill_resumes_with_its_own_strategy() {
        let stale = NOW - STALLED_AFTER_SECONDS;
        let copying = tags(None, heartbeat(stale, "theirs", copy_at("data/07")));
        assert_eq!(
            decide_start(Strategy::Copy, false, &copying, None, "mine", None, NOW),
            Start::Full { after: Some("data/07".into()) }
        );
        assert_eq!(
            decide_start(Strategy::Batch, false, &copying, None, "mine", None, NOW),
            Start::Full { after: None }
        );
        let started = tags(None, heartbeat(stale, "theirs", copy_at("")));
        assert_eq!(decide_start(Strategy::Copy, false, &started, None, "mine", None, NOW), Start::Full { after: None });
        let job = tags(None, heartbeat(stale, "theirs", Work::Batch { job_id: "job-1".into() }));
        assert_eq!(
            decide_start(Strategy::Batch, false, &job, None, "mine", None, NOW),
            Start::FollowJob { job_id: "job-1".into() }
        );
        assert_eq!(decide_start(Strategy::Batch, true, &job, None, "mine", None, NOW), Start::Full { after: None });
        assert_eq!(
            decide_start(Strategy::Copy, false, &BackfillTags::default(), None, "mine", None, NOW),
            Start::Full { after: None }
        );
    }

    #[test]
    fn a_copy_under_way_elsewhere_is_left_to_it_even_when_forced() {
        let fresh = tags(None, heartbeat(NOW - 60, "theirs", copy_at("k")));
        for force in [false, true] {
            assert_eq!(
                decide_start(Strategy::Copy, force, &fresh, None, "mine", None, NOW),
                Start::UnderWay { since: NOW - 60, writer: "theirs".into() }
            );
        }
        // Step Functions knows better than the clock: a fresh heartbeat of a dead execution is
        // taken over, an old one of a live execution is not.
        assert_eq!(
            decide_start(Strategy::Copy, false, &fresh, None, "mine", Some(false), NOW),
            Start::Full { after: Some("k".into()) }
        );
        let old = tags(None, heartbeat(NOW - 2 * STALLED_AFTER_SECONDS, "theirs", copy_at("k")));
        assert!(matches!(
            decide_start(Strategy::Copy, false, &old, None, "mine", Some(true), NOW),
            Start::UnderWay { .. }
        ));
        assert_eq!(other_writer(&old, "mine"), Some("theirs"));
        assert_eq!(other_writer(&old, "theirs"), None);
        // This chain's own heartbeat (a retried step, a continuation): carry on.
        let own = tags(None, heartbeat(NOW - 60, "mine", copy_at("k")));
        assert_eq!(
            decide_start(Strategy::Copy, false, &own, None, "mine", None, NOW),
            Start::Full { after: Some("k".into()) }
        );
    }

    #[test]
    fn an_off_marker_holds_only_for_a_run_that_is_off() {
        let off = tags(Some("off 2026-11-26"), None);
        assert_eq!(decide_start(Strategy::Copy, false, &off, None, "mine", None, NOW), Start::Full { after: None });
        assert_eq!(liveness(&off, NOW), Liveness::Off);
    }

    #[test]
    fn liveness_reads_the_heartbeat() {
        assert_eq!(liveness(&tags(Some("copy 2026-11-26"), None), NOW), Liveness::Done);
        assert_eq!(liveness(&tags(None, None), NOW), Liveness::NotStarted);
        assert_eq!(liveness(&tags(None, heartbeat(NOW - 60, "o", copy_at("k"))), NOW), Liveness::Running);
        let old = NOW - STALLED_AFTER_SECONDS;
        assert_eq!(liveness(&tags(None, heartbeat(old, "o", copy_at("k"))), NOW), Liveness::Stalled { since: old });
        let job = heartbeat(0, "o", Work::Batch { job_id: "j".into() });
        assert_eq!(liveness(&tags(Some("batch 2026-11-26"), job), NOW), Liveness::JobToCheck("j".into()));
        // A catch-up under way on a marked destination: not done.
        assert_eq!(
            liveness(&tags(Some("copy 2026-11-26"), heartbeat(NOW, "o", Work::Pending)), NOW),
            Liveness::Running
        );
    }

    #[test]
    fn finishing_keeps_the_first_marker_and_drops_the_heartbeat() {
        let current =
            vec![Tag::new("team", "media"), Tag::new(PROGRESS_TAG, "copy:1:o:k"), Tag::new("s3-dr:source", "photos")];
        let found = NotReplicable { count: 2, example: None };
        let tags = finished_tags(&current, "copy 2026-11-26", Some(&found));
        assert_eq!(
            tags,
            vec![
                Tag::new("team", "media"),
                Tag::new("s3-dr:source", "photos"),
                Tag::new(MARKER_TAG, "copy 2026-11-26"),
                Tag::new(NOT_REPLICABLE_TAG, "2"),
            ]
        );
        // A batch catch-up does not count: what was known stays.
        let kept = finished_tags(&tags, "batch 2026-12-01", None);
        assert!(kept.contains(&Tag::new(NOT_REPLICABLE_TAG, "2")), "{kept:?}");
        // A later full count of 0 clears it; the first marker stays.
        let again = finished_tags(&tags, "copy 2026-12-01", Some(&NotReplicable { count: 0, example: None }));
        assert!(again.contains(&Tag::new(MARKER_TAG, "copy 2026-11-26")), "{again:?}");
        assert!(!again.iter().any(|t| t.key == NOT_REPLICABLE_TAG));
        // An `off` marker gives way to the first real one.
        let real = finished_tags(&[Tag::new(MARKER_TAG, "off 2026-11-20")], "copy 2026-11-26", None);
        assert_eq!(real, vec![Tag::new(MARKER_TAG, "copy 2026-11-26")]);
        // A heartbeat carries the count found so far.
        let beating =
            with_heartbeat(&again, &Heartbeat { at: 5, writer: "o".into(), work: copy_at("x") }, Some(&found));
        assert_eq!(beating.iter().filter(|t| t.key == PROGRESS_TAG || t.key == NOT_REPLICABLE_TAG).count(), 2);
    }
}
