//! Backfill decisions: which strategy, which objects still need a copy, how a large object is
//! cut into parts, and the progress record that travels through the workflow's loop.
//!
//! Replication copies only objects written after the rule exists; the objects that were there
//! before are copied by S3 Batch Replication (`batch`) or by the Lambda itself (`copy`).

pub mod batch;
pub mod copy;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::MIN_PART_SIZE;

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

    pub fn parse(text: &str) -> Option<Strategy> {
        match text.trim().to_ascii_lowercase().as_str() {
            "batch" => Some(Strategy::Batch),
            "copy" => Some(Strategy::Copy),
            "off" => Some(Strategy::Off),
            _ => None,
        }
    }
}

/// Where the backfill stands. StartBackfill returns the first one; each CheckBackfill reads
/// the previous one from its input and returns the next, until `done`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub strategy: Option<Strategy>,
    pub done: bool,
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
    /// A one-line account of what happened, for people.
    #[serde(default)]
    pub summary: String,
    pub changed: bool,
}

pub const MAX_FAILURES_KEPT: usize = 10;

impl Progress {
    pub fn record_failure(&mut self, key: &str, reason: &str) {
        self.objects_failed += 1;
        if self.failures.len() < MAX_FAILURES_KEPT {
            self.failures.push(format!("{key}: {reason}"));
        }
    }

    pub fn summarize(&mut self) {
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
                "{} objects ({} bytes) copied, {} already there, {} failed, {} pages{}",
                self.objects_copied,
                self.bytes_copied,
                self.objects_skipped,
                self.objects_failed,
                self.pages,
                if self.done { "" } else { ", more to come" }
            ),
        };
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
/// instead of a second one. Any change of rule (destination, storage class, key) is a new job.
pub fn job_request_token(source: &str, rule_fingerprint: &str) -> String {
    let digest = Sha256::digest(format!("s3-dr/batch-replication/{source}/{rule_fingerprint}"));
    // CreateJob accepts at most 64 characters.
    digest.iter().take(32).map(|b| format!("{b:02x}")).collect()
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
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn listed(size: u64, etag: &str, last_modified: i64) -> Listed {
        Listed { key: "k".into(), size, etag: etag.into(), last_modified }
    }

    #[test]
    fn strategies_parse_case_insensitively() -> TestResult {
        assert_eq!(Strategy::parse(" Batch "), Some(Strategy::Batch));
        assert_eq!(Strategy::parse("copy"), Some(Strategy::Copy));
        assert_eq!(Strategy::parse("OFF"), Some(Strategy::Off));
        assert_eq!(Strategy::parse("sync"), None);
        assert_eq!(serde_json::to_value(Strategy::Copy)?, "copy");
        Ok(())
    }

    #[test]
    fn a_copy_is_recognised_by_etag_or_by_being_newer() {
        let source = listed(10, "\"a\"", 100);
        assert!(!already_copied(&source, None));
        assert!(already_copied(&source, Some(&listed(10, "\"a\"", 50))));
        // A multipart or SSE-KMS copy has another ETag but was written later.
        assert!(already_copied(&source, Some(&listed(10, "\"b-2\"", 150))));
        // Older and different: the source was overwritten after the copy.
        assert!(!already_copied(&source, Some(&listed(10, "\"b\"", 50))));
        assert!(!already_copied(&source, Some(&listed(11, "\"a\"", 150))));
    }

    #[test]
    fn parts_cover_the_object_exactly() {
        assert_eq!(part_ranges(10, 4), vec![(0, 3), (4, 7), (8, 9)]);
        assert_eq!(part_ranges(8, 4), vec![(0, 3), (4, 7)]);
        assert!(part_ranges(0, 4).is_empty());
        let mib = 1024 * 1024;
        assert_eq!(part_size(11 * mib, 5 * mib), 5 * mib);
        assert_eq!(part_size(6 << 30, 5 << 30), 512 * mib);
        // 5 TiB in 10,000 parts needs parts above 512 MiB.
        assert_eq!(part_size(5 << 40, 5 << 30), (5u64 << 40).div_ceil(10_000));
        assert!(part_ranges(5 << 40, part_size(5 << 40, 5 << 30)).len() <= 10_000);
    }

    #[test]
    fn copy_sources_and_tags_are_url_encoded() {
        assert_eq!(copy_source("b", "dir/a b+c?.txt"), "b/dir/a%20b%2Bc%3F.txt");
        assert_eq!(copy_source("b", "ü/%"), "b/%C3%BC/%25");
        let tags = [("team".to_owned(), "a&b".to_owned()), ("cost center".to_owned(), "1=2".to_owned())];
        assert_eq!(tagging_header(&tags), "team=a%26b&cost%20center=1%3D2");
    }

    #[test]
    fn job_tokens_are_stable_short_and_rule_specific() {
        let token = job_request_token("photos", "rule-a");
        assert_eq!(token, job_request_token("photos", "rule-a"));
        assert_ne!(token, job_request_token("photos", "rule-b"));
        assert_ne!(token, job_request_token("videos", "rule-a"));
        assert_eq!(token.len(), 64);
    }

    #[test]
    fn job_states() {
        assert_eq!(job_state("Complete"), JobState::Complete);
        assert_eq!(job_state("Failed"), JobState::Failed);
        assert_eq!(job_state("Cancelled"), JobState::Failed);
        for running in ["New", "Preparing", "Active", "Completing", "Suspended"] {
            assert_eq!(job_state(running), JobState::Running);
        }
    }

    #[test]
    fn progress_survives_the_round_trip_through_the_state_machine() -> TestResult {
        let mut progress = Progress { strategy: Some(Strategy::Copy), ..Progress::default() };
        for i in 0..20 {
            progress.record_failure(&format!("k{i}"), "AccessDenied");
        }
        progress.summarize();
        assert_eq!((progress.objects_failed, progress.failures.len()), (20, MAX_FAILURES_KEPT));
        let json = serde_json::to_value(&progress)?;
        assert_eq!(serde_json::from_value::<Progress>(json)?, progress);
        Ok(())
    }
}
