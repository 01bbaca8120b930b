//! Backfill decisions: which strategy, which objects still need a copy, how a large object is
//! cut into parts, and the progress record that travels through the workflow's loop.
//!
//! Replication copies only objects written after the rule exists; the objects that were there
//! before are copied by S3 Batch Replication (`batch`) or by the Lambda itself (`copy`).

pub mod batch;
pub mod copy;
pub mod object;
pub mod report;
pub mod shards;
pub mod state;

use serde::{Deserialize, Serialize};

use crate::error::DrError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// S3 Batch Replication job (AWS only): S3 copies, the workflow waits.
    Batch,
    /// The Lambda copies one page of objects per invocation (any S3 endpoint).
    Copy,
    Off,
}

impl Strategy {
    pub const EXPECTED: &'static str = "expected batch, copy or off";

    /// `batch`, `copy`, `off`: as configured and as serialized.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Batch => "batch",
            Strategy::Copy => "copy",
            Strategy::Off => "off",
        }
    }

    pub fn parse(text: &str) -> Option<Strategy> {
        match text.trim().to_ascii_lowercase().as_str() {
            "batch" => Some(Strategy::Batch),
            "copy" => Some(Strategy::Copy),
            "off" => Some(Strategy::Off),
            _ => None,
        }
    }
}

/// Record on a destination, before a repair closes a gap, that objects written meanwhile are
/// owed a catch-up (unless no backfill began there: the first one takes everything). The repair
/// may be the last thing its run does: the next run, or the sweep, then finds the debt. True if
/// it wrote.
pub async fn owe_catch_up(s3: &aws_sdk_s3::Client, destination: &str) -> Result<bool, DrError> {
    let now = unix_now();
    crate::bucket::update_tags(s3, destination, |current| state::with_catch_up_owed(current, now)).await
}

/// Seconds since the epoch: the clock of the backfill tags (heartbeats, owed catch-ups) and of
/// Object Lock dates.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Which objects a backfill takes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Scope {
    /// Every existing object: the first backfill of a destination, or one the operator forced.
    #[default]
    Full,
    /// What was written while protection was broken (batch: replication status NONE or
    /// FAILED; copy: a rescan that skips what is there).
    CatchUp,
}

impl Scope {
    /// The scope's part of a Batch job's request token. Spelled as the tokens of jobs already
    /// started spell it (they were once made from `Debug`): a new spelling would start a second
    /// job for a backfill under way when the new version is deployed.
    pub fn token_part(self) -> &'static str {
        match self {
            Scope::Full => "Full",
            Scope::CatchUp => "CatchUp",
        }
    }
}

/// S3's smallest part (except the last), so the smallest useful multipart threshold.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// History events a protect execution spends outside the backfill loop (the setup tasks with
/// a retry or two, the choices, the end), and per turn of the loop: a copy turn is 7 events
/// (task entered, scheduled, started, succeeded, exited; choice entered, exited) and a batch
/// turn 9 (plus the Wait); the rest is room for retries.
pub const BASE_HISTORY_EVENTS: u32 = 120;
pub const EVENTS_PER_TURN: u32 = 12;
/// The smallest budget that still allows one turn per execution.
pub const MIN_HISTORY_EVENT_BUDGET: u32 = BASE_HISTORY_EVENTS + EVENTS_PER_TURN;

/// Turns of the backfill loop one execution may make within `budget` history events.
pub fn turns_per_execution(budget: u32) -> u32 {
    (budget.saturating_sub(BASE_HISTORY_EVENTS) / EVENTS_PER_TURN).max(1)
}

/// Where the backfill stands. StartBackfill returns the first one; each CheckBackfill reads
/// the previous one from its input and returns the next, until `done`, or until this
/// execution has used its history budget (`handover`): ContinueAsNew then carries it to a new
/// execution.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub strategy: Option<Strategy>,
    #[serde(default)]
    pub scope: Scope,
    pub done: bool,
    /// Nothing was needed: the destination was backfilled already (why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_needed: Option<String>,
    /// Another execution is backfilling this destination right now (why): this one leaves the
    /// work to it and ends.
    #[serde(default)]
    pub elsewhere: bool,
    /// copy: where a later run must resume so that failed objects are tried again: the cursor
    /// before the page of the first failure (it stays while later pages go on), and the count of
    /// objects found not replicable before that cursor (the resumed run counts on from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_not_replicable: Option<u64>,
    /// When this backfill's scan from the start began (None for one resumed from a cursor): it
    /// pays a catch-up owed since before then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_started_at: Option<i64>,
    /// Turns of the loop in this execution (pages copied, or polls).
    #[serde(default)]
    pub turns: u32,
    /// This execution's history budget is used up: hand over to a new one.
    #[serde(default)]
    pub handover: bool,
    /// copy: the key an interrupted backfill was resumed after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_after: Option<String>,
    /// copy: when the heartbeat tag was last written (seconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_at: Option<i64>,
    /// batch: the S3 Batch Operations job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_status: Option<String>,
    /// copy: the last key copied or skipped; the next page starts after it (ListObjectsV2
    /// `StartAfter`, which, unlike an opaque continuation token, also positions the listing of
    /// the destination).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continue_after: Option<String>,
    #[serde(default)]
    pub pages: u32,
    #[serde(default)]
    pub objects_copied: u64,
    #[serde(default)]
    pub bytes_copied: u64,
    #[serde(default)]
    pub objects_skipped: u64,
    #[serde(default)]
    pub objects_failed: u64,
    /// The first few failures, "key: reason" (bounded: the state must stay under 256 KiB).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
    /// Objects S3 cannot copy (archived and not restored, SSE-C): reported, not retried.
    #[serde(default)]
    pub objects_not_replicable: u64,
    /// The first few of them, "key: reason".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_replicable: Vec<String>,
    /// A one-line account of what happened, for people.
    #[serde(default)]
    pub summary: String,
    pub changed: bool,
    /// copy, a shard: its range ends before this key (`continue_after` starts it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// copy, split (`S3DR_COPY_SHARDS` > 1): the shards' own progress, which the counts above
    /// add up. Empty while one Lambda copies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<Progress>,
    /// copy: the key space was probed for a split already (it may have had one range only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub split_tried: bool,
    /// copy, a shard: pages it copies in this Map round before CheckBackfill adds up.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub round_turns: u32,
    /// copy, split: shards that copy at once (the rest of `shards` are done).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub slots: u32,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

pub const MAX_FAILURES_KEPT: usize = 10;

/// What an execution hands to the one that continues its backfill (`$.continues` of the new
/// execution's input): the first execution's name and the generation, which name the next
/// execution (a retried hand-over finds the execution it started, it cannot fork), and the
/// progress to resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Continuation {
    pub root: String,
    pub generation: u32,
    pub progress: Progress,
}

impl Progress {
    /// The progress from the loop's last turn (`$.CheckBackfill`) or from its start
    /// (`$.StartBackfill`), as the state carries it.
    pub fn latest(input: &serde_json::Value) -> Result<Progress, DrError> {
        let found = input.get("CheckBackfill").or_else(|| input.get("StartBackfill")).ok_or_else(|| {
            DrError::InvalidInput("the backfill steps need StartBackfill's output at input.StartBackfill".to_owned())
        })?;
        serde_json::from_value(found.clone())
            .map_err(|e| DrError::InvalidInput(format!("the backfill progress in the input is malformed: {e}")))
    }

    /// The cursor a later run may resume after: never past an object that failed. Split, the
    /// first shard with work left (or a failure) sets it: a run resuming there lists the later
    /// shards' ranges again and skips what they copied.
    pub fn resume_cursor(&self) -> String {
        match self.resume_shard() {
            Some(shard) => shard.resume_cursor(),
            None => self.retry_from.clone().or_else(|| self.continue_after.clone()).unwrap_or_default(),
        }
    }

    /// Split: the shard with work left (or a failure) whose cursor comes first in key order
    /// (splits append shards, so the list is not in key order).
    fn resume_shard(&self) -> Option<&Progress> {
        self.shards.iter().filter(|s| !s.done || s.retry_from.is_some()).min_by_key(|s| s.resume_cursor())
    }

    /// Split: the counts and the state of the whole from the shards' (each holds its own, the
    /// first also what was counted before the split).
    pub fn add_up_shards(&mut self) {
        if self.shards.is_empty() {
            return;
        }
        let sum = |count: fn(&Progress) -> u64| self.shards.iter().map(count).sum::<u64>();
        self.objects_copied = sum(|s| s.objects_copied);
        self.bytes_copied = sum(|s| s.bytes_copied);
        self.objects_skipped = sum(|s| s.objects_skipped);
        self.objects_failed = sum(|s| s.objects_failed);
        self.objects_not_replicable = sum(|s| s.objects_not_replicable);
        self.pages = self.shards.iter().map(|s| s.pages).sum();
        self.failures = self.shards.iter().flat_map(|s| s.failures.clone()).take(MAX_FAILURES_KEPT).collect();
        self.not_replicable =
            self.shards.iter().flat_map(|s| s.not_replicable.clone()).take(MAX_FAILURES_KEPT).collect();
        self.done = self.shards.iter().all(|s| s.done);
        // The furthest cursor in key order (split shards are appended, not in key order).
        self.continue_after = self.shards.iter().filter_map(|s| s.continue_after.clone()).max();
    }

    pub fn record_failure(&mut self, key: &str, reason: &str) {
        self.objects_failed += 1;
        if self.failures.len() < MAX_FAILURES_KEPT {
            self.failures.push(format!("{key}: {reason}"));
        }
    }

    pub fn record_not_replicable(&mut self, key: &str, why: &object::NotCopyable) {
        self.objects_not_replicable += 1;
        if self.not_replicable.len() < MAX_FAILURES_KEPT {
            self.not_replicable.push(format!("{key}: {}", why.describe()));
        }
    }

    /// The not-replicable count and an example, for the destination's tag.
    pub fn not_replicable_tag(&self) -> state::NotReplicable {
        state::NotReplicable { count: self.objects_not_replicable, example: self.not_replicable.first().cloned() }
    }

    /// The count as of the resume cursor: a run resuming there counts the objects after it
    /// (split: the shards before the first unfinished one, and what it found before its cursor).
    pub fn not_replicable_at_resume(&self) -> state::NotReplicable {
        let count = match self.resume_shard() {
            Some(resumed) => {
                // The shards done whose whole range lies before the cursor are not listed again.
                let cursor = resumed.resume_cursor();
                let before: u64 = self
                    .shards
                    .iter()
                    .filter(|s| s.done && s.retry_from.is_none())
                    // A range ends before `until`; the next starts just below it (`below`).
                    .filter(|s| s.until.as_deref().is_some_and(|until| shards::below(until) <= cursor))
                    .map(|s| s.objects_not_replicable)
                    .sum();
                before + resumed.not_replicable_at_resume().count
            }
            None => self.retry_not_replicable.unwrap_or(self.objects_not_replicable),
        };
        state::NotReplicable { count, example: self.not_replicable.first().cloned() }
    }

    pub fn summarize(&mut self) {
        if let Some(why) = &self.not_needed {
            self.summary = match self.elsewhere {
                true => format!("left to another execution: {why}"),
                false => format!("nothing to copy: {why}"),
            };
            return;
        }
        let not_replicable = match self.objects_not_replicable {
            0 => String::new(),
            n => format!(", {n} not replicable"),
        };
        self.summary = match (self.strategy, &self.job_id) {
            (Some(Strategy::Off), _) | (None, _) => "off: existing objects are not copied".to_owned(),
            (Some(Strategy::Copy), _) if self.pages == 0 && !self.done => {
                "copy: the Lambda copies existing objects page by page".to_owned()
            }
            (Some(Strategy::Batch), Some(job)) => format!(
                "batch job {job} {}: {} copied, {} failed",
                self.job_status.as_deref().unwrap_or("created"),
                self.objects_copied,
                self.objects_failed
            ),
            _ => format!(
                "{} objects ({} bytes) copied, {} already there, {} failed{not_replicable}, {} pages{}{}",
                self.objects_copied,
                self.bytes_copied,
                self.objects_skipped,
                self.objects_failed,
                self.pages,
                match &self.resumed_after {
                    Some(after) => format!(", resumed after {after:?}"),
                    None => String::new(),
                },
                if self.done { "" } else { ", more to come" }
            ),
        };
        if !self.shards.is_empty() {
            let at_once = match self.slots {
                0 => self.shards.len(),
                slots => (slots as usize).min(self.shards.len()),
            };
            self.summary.push_str(&format!(" ({at_once} shards at once)"));
        }
    }
}

/// One object as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub size: u64,
    pub etag: String,
    /// Seconds since the epoch.
    pub last_modified: i64,
}

/// Is `destination` already a copy of `source`? Same size, and either the same ETag, or
/// written after the source was. The second case is needed because an ETag is not a content
/// hash for SSE-KMS objects or multipart copies, so a correct copy can carry another ETag; a
/// destination object that is newer than the source and of the same size was copied (or
/// replicated) from this version. A source overwritten since is newer, so it is copied again.
pub fn already_copied(source: &Listed, destination: Option<&Listed>) -> bool {
    destination.is_some_and(|copy| {
        copy.size == source.size && (copy.etag == source.etag || copy.last_modified >= source.last_modified)
    })
}

/// Part size for a multipart copy: at least S3's 5 MiB minimum and at most 10,000 parts, and no
/// larger than needed (512 MiB parts keep each UploadPartCopy well inside its time limits).
pub fn part_size(object_size: u64, threshold: u64) -> u64 {
    const MAX_PARTS: u64 = 10_000;
    const COMFORTABLE_PART: u64 = 512 * 1024 * 1024;
    threshold.clamp(MIN_PART_SIZE, COMFORTABLE_PART).max(object_size.div_ceil(MAX_PARTS))
}

/// Inclusive byte ranges (`bytes=first-last`) of each part.
pub fn part_ranges(object_size: u64, part_size: u64) -> Vec<(u64, u64)> {
    if object_size == 0 || part_size == 0 {
        return Vec::new();
    }
    (0..object_size.div_ceil(part_size)).map(|i| (i * part_size, ((i + 1) * part_size).min(object_size) - 1)).collect()
}

/// CopyObject's `x-amz-copy-source`: bucket and key, the key URL-encoded (keys may hold any
/// UTF-8, including `?`, `#`, `%` and spaces).
pub fn copy_source(bucket: &str, key: &str) -> String {
    format!("{bucket}/{}", percent_encoding::utf8_percent_encode(key, KEY_ESCAPES))
}

/// The `x-amz-tagging` header of a multipart upload: `k1=v1&k2=v2`, URL-encoded.
pub fn tagging_header(tags: &[(String, String)]) -> String {
    tags.iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                percent_encoding::utf8_percent_encode(k, QUERY_ESCAPES),
                percent_encoding::utf8_percent_encode(v, QUERY_ESCAPES)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Keep `/` in keys readable; escape everything else that is not unreserved.
const KEY_ESCAPES: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'/').remove(b'-').remove(b'_').remove(b'.').remove(b'~');
const QUERY_ESCAPES: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// CreateJob's `ClientRequestToken`: the same for every attempt at backfilling this bucket to
/// this destination under this rule, so a retried or re-run step gets the job that exists
/// instead of a second one. `fingerprint` names what else makes a job different (the rule's
/// destination, storage class and key, the scope, the execution).
pub fn job_request_token(source: &str, fingerprint: &str) -> String {
    // CreateJob accepts at most 64 characters.
    crate::naming::hex_digest(&format!("s3-dr/batch-replication/{source}/{fingerprint}"), 64)
}

/// How a Batch Operations job status reads for the workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Running,
    Complete,
    Failed,
}

pub fn job_state(status: &str) -> JobState {
    match status {
        "Complete" => JobState::Complete,
        "Failed" | "Cancelled" => JobState::Failed,
        // New, Preparing, Ready, Active, Pausing, Paused, Completing, Failing, Cancelling,
        // Suspended (awaiting confirmation: s3-dr creates jobs without it).
        _ => JobState::Running,
    }
}

#[cfg(test)]
mod tests;
