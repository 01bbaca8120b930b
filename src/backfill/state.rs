//! What a destination's own tags say about its backfill, and what a protect run should do about
//! it. The tags are the backfill's memory across executions: an execution can die (a deploy, a
//! quota, an operator's StopExecution) and the next one, or the sweep, must know whether the
//! existing objects are in, being copied, or abandoned half-way.
//!
//! - `s3-dr:backfill=<strategy> <date>`: done (written once, when the backfill finished).
//! - `s3-dr:backfill-progress=copy:<unix seconds>:<cursor>` or `batch:<unix seconds>:<job id>`:
//!   under way; the time is the last heartbeat, the cursor a key the next run may resume after.
//! - `s3-dr:not-replicable=<count>:<base64 of "reason:key">`: objects S3 cannot copy (archived,
//!   SSE-C), with one example, so that `status` can say so.
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
/// Room left in a progress value for the cursor after `copy:<10-digit time>:`.
const MAX_CURSOR: usize = MAX_TAG_VALUE - 16;
/// A copy backfill whose heartbeat is older than this is taken for dead. A page takes at most a
/// Lambda invocation (15 minutes), and the heartbeat is written after each page.
pub const STALLED_AFTER_SECONDS: i64 = 30 * 60;

/// The backfill tags of a destination, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackfillTags {
    /// `copy 2026-11-26`: the backfill is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<ProgressTag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_replicable: Option<NotReplicable>,
}

impl BackfillTags {
    pub fn read(tags: &[Tag]) -> BackfillTags {
        let value = |key: &str| tags.iter().find(|t| t.key == key).map(|t| t.value.as_str());
        BackfillTags {
            marker: value(MARKER_TAG).map(str::to_owned),
            progress: value(PROGRESS_TAG).and_then(ProgressTag::parse),
            not_replicable: value(NOT_REPLICABLE_TAG).and_then(NotReplicable::parse),
        }
    }
}

/// The heartbeat of a backfill under way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "strategy")]
pub enum ProgressTag {
    Copy { at: i64, after: String },
    Batch { at: i64, job_id: String },
}

impl ProgressTag {
    pub fn encode(&self) -> String {
        match self {
            ProgressTag::Copy { at, after } => format!("copy:{at}:{}", cursor_prefix(after)),
            ProgressTag::Batch { at, job_id } => format!("batch:{at}:{}", cursor_prefix(job_id)),
        }
    }

    pub fn parse(value: &str) -> Option<ProgressTag> {
        let mut parts = value.splitn(3, ':');
        let (strategy, at, rest) = (parts.next()?, parts.next()?.parse().ok()?, parts.next()?.to_owned());
        match strategy {
            "copy" => Some(ProgressTag::Copy { at, after: rest }),
            "batch" if !rest.is_empty() => Some(ProgressTag::Batch { at, job_id: rest }),
            _ => None,
        }
    }

    pub fn at(&self) -> i64 {
        match self {
            ProgressTag::Copy { at, .. } | ProgressTag::Batch { at, .. } => *at,
        }
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
    tags.push(Tag::new(MARKER_TAG, value(MARKER_TAG).unwrap_or_else(|| marker.to_owned())));
    let not_replicable = match not_replicable {
        Some(found) => (found.count > 0).then(|| found.encode()),
        None => value(NOT_REPLICABLE_TAG),
    };
    if let Some(found) = not_replicable {
        tags.push(Tag::new(NOT_REPLICABLE_TAG, found));
    }
    tags
}

/// The destination's tags with the heartbeat set to `progress`.
pub fn with_progress(current: &[Tag], progress: &ProgressTag) -> Vec<Tag> {
    let mut tags: Vec<Tag> = current.iter().filter(|t| t.key != PROGRESS_TAG).cloned().collect();
    tags.push(Tag::new(PROGRESS_TAG, progress.encode()));
    tags
}

/// Where a destination's backfill stands, as the sweep and `status` see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    Done,
    /// A copy heartbeat younger than [`STALLED_AFTER_SECONDS`].
    Running,
    /// A batch job is named: only S3 Control knows whether it still runs.
    JobToCheck(String),
    /// A heartbeat too old: the execution that copied died.
    Stalled {
        since: i64,
    },
    NotStarted,
}

pub fn liveness(tags: &BackfillTags, now: i64) -> Liveness {
    match (&tags.marker, &tags.progress) {
        (Some(_), _) => Liveness::Done,
        (None, Some(ProgressTag::Batch { job_id, .. })) => Liveness::JobToCheck(job_id.clone()),
        (None, Some(ProgressTag::Copy { at, .. })) if now - at < STALLED_AFTER_SECONDS => Liveness::Running,
        (None, Some(ProgressTag::Copy { at, .. })) => Liveness::Stalled { since: *at },
        (None, None) => Liveness::NotStarted,
    }
}

/// What StartBackfill does, decided from the request, the destination's tags and what the
/// earlier steps of this run repaired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// The destination is backfilled and nothing calls for more: no AWS call at all.
    AlreadyDone { marker: String },
    /// Every existing object; `after` resumes an interrupted copy after that key.
    Full { after: Option<String> },
    /// The objects written while protection was broken (`why`): batch takes those S3 marks
    /// NONE or FAILED, copy rescans and skips what is there.
    CatchUp { why: String },
    /// A Batch Replication job an earlier execution started: follow it.
    FollowJob { job_id: String },
}

/// `force`: the operator asked for a new backfill. `gap`: this run repaired protection that was
/// broken (see `replication::replication_gap`), so objects written meanwhile may be missing.
pub fn decide_start(strategy: Strategy, force: bool, tags: &BackfillTags, gap: Option<&str>) -> Start {
    if force {
        return Start::Full { after: None };
    }
    match (&tags.marker, gap, &tags.progress) {
        (Some(_), Some(why), _) => Start::CatchUp { why: why.to_owned() },
        (Some(marker), None, _) => Start::AlreadyDone { marker: marker.clone() },
        (None, _, Some(ProgressTag::Copy { after, .. })) if strategy == Strategy::Copy => {
            Start::Full { after: (!after.is_empty()).then(|| after.clone()) }
        }
        (None, _, Some(ProgressTag::Batch { job_id, .. })) if strategy == Strategy::Batch => {
            Start::FollowJob { job_id: job_id.clone() }
        }
        (None, _, _) => Start::Full { after: None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn cursors_are_safe_prefixes_that_fit_a_tag() {
        assert_eq!(cursor_prefix("data/01/object-00042.bin"), "data/01/object-00042.bin");
        assert_eq!(cursor_prefix("odd names/ü + ? # 0.txt"), "odd");
        assert_eq!(cursor_prefix("?starts-odd"), "");
        let long = "k".repeat(1024);
        let tag = ProgressTag::Copy { at: 1_795_670_100, after: long.clone() }.encode();
        assert!(tag.len() <= MAX_TAG_VALUE, "{}", tag.len());
        // A prefix sorts at or before the key: resuming after it misses nothing.
        for key in ["odd names/ü + ? # 0.txt", long.as_str(), "a?b"] {
            assert!(cursor_prefix(key).as_str() <= key);
        }
    }

    #[test]
    fn tags_round_trip() -> TestResult {
        let copy = ProgressTag::Copy { at: 42, after: "data/01/x:y".into() };
        assert_eq!(ProgressTag::parse(&copy.encode()), Some(copy));
        let batch = ProgressTag::Batch { at: 42, job_id: "f2b1c3d4-0000-4000-8000-000000000001".into() };
        assert_eq!(ProgressTag::parse(&batch.encode()), Some(batch));
        assert_eq!(ProgressTag::parse("copy:notatime:x"), None);
        assert_eq!(ProgressTag::parse("rsync:1:x"), None);
        let found = NotReplicable { count: 12, example: Some("archived (GLACIER): photos/ü ?#.tar".into()) };
        let encoded = found.encode();
        assert!(encoded.len() <= MAX_TAG_VALUE);
        assert!(encoded.chars().all(|c| c.is_ascii_alphanumeric() || "+/=:".contains(c)), "{encoded}");
        assert_eq!(NotReplicable::parse(&encoded), Some(found));
        let huge = NotReplicable { count: 3, example: Some("é".repeat(400)) };
        let parsed = NotReplicable::parse(&huge.encode()).ok_or("unparsed")?;
        assert!(huge.encode().len() <= MAX_TAG_VALUE && parsed.example.is_some_and(|e| e.starts_with('é')));
        Ok(())
    }

    #[test]
    fn a_marked_destination_needs_nothing_unless_forced_or_repaired() {
        let done = BackfillTags { marker: Some("copy 2026-11-26".into()), ..BackfillTags::default() };
        for strategy in [Strategy::Copy, Strategy::Batch] {
            assert_eq!(
                decide_start(strategy, false, &done, None),
                Start::AlreadyDone { marker: "copy 2026-11-26".into() }
            );
            assert_eq!(decide_start(strategy, true, &done, None), Start::Full { after: None });
            assert_eq!(
                decide_start(strategy, false, &done, Some("rule was missing")),
                Start::CatchUp { why: "rule was missing".into() }
            );
        }
    }

    #[test]
    fn an_interrupted_backfill_resumes_with_its_own_strategy() {
        let copying = BackfillTags {
            progress: Some(ProgressTag::Copy { at: 1, after: "data/07".into() }),
            ..BackfillTags::default()
        };
        assert_eq!(decide_start(Strategy::Copy, false, &copying, None), Start::Full { after: Some("data/07".into()) });
        assert_eq!(decide_start(Strategy::Batch, false, &copying, None), Start::Full { after: None });
        let started = BackfillTags {
            progress: Some(ProgressTag::Copy { at: 1, after: String::new() }),
            ..BackfillTags::default()
        };
        assert_eq!(decide_start(Strategy::Copy, false, &started, None), Start::Full { after: None });
        let job = BackfillTags {
            progress: Some(ProgressTag::Batch { at: 1, job_id: "job-1".into() }),
            ..BackfillTags::default()
        };
        assert_eq!(decide_start(Strategy::Batch, false, &job, None), Start::FollowJob { job_id: "job-1".into() });
        assert_eq!(decide_start(Strategy::Batch, true, &job, None), Start::Full { after: None });
        assert_eq!(decide_start(Strategy::Copy, false, &BackfillTags::default(), None), Start::Full { after: None });
    }

    #[test]
    fn liveness_reads_the_heartbeat() {
        let now = 10_000;
        let tags = |progress: Option<ProgressTag>, marker: Option<&str>| BackfillTags {
            marker: marker.map(str::to_owned),
            progress,
            not_replicable: None,
        };
        assert_eq!(liveness(&tags(None, Some("copy 2026-11-26")), now), Liveness::Done);
        assert_eq!(liveness(&tags(None, None), now), Liveness::NotStarted);
        let fresh = ProgressTag::Copy { at: now - 60, after: "k".into() };
        assert_eq!(liveness(&tags(Some(fresh), None), now), Liveness::Running);
        let old = ProgressTag::Copy { at: now - STALLED_AFTER_SECONDS, after: "k".into() };
        assert_eq!(liveness(&tags(Some(old), None), now), Liveness::Stalled { since: now - STALLED_AFTER_SECONDS });
        let job = ProgressTag::Batch { at: 0, job_id: "j".into() };
        assert_eq!(liveness(&tags(Some(job), None), now), Liveness::JobToCheck("j".into()));
    }

    #[test]
    fn finishing_keeps_the_first_marker_and_drops_the_heartbeat() {
        let current =
            vec![Tag::new("team", "media"), Tag::new(PROGRESS_TAG, "copy:1:k"), Tag::new("s3-dr:source", "photos")];
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
        let beating = with_progress(&again, &ProgressTag::Copy { at: 5, after: "x".into() });
        assert_eq!(beating.iter().filter(|t| t.key == PROGRESS_TAG).count(), 1);
    }
}
