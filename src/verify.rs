//! Data-level verification: does the DR bucket hold what the source holds, and if the source
//! region went down now, what would be lost?
//!
//! Both buckets' current object versions are read in key order (S3 lists in UTF-8 binary order,
//! which is `str`'s order) and merged as they arrive, so memory holds about one page of each
//! side however large the buckets are.
//!
//! Compared: presence and size. Not the ETag: it is an MD5 of the content only for
//! single-part objects stored plain or with SSE-S3; SSE-KMS objects and multipart uploads or
//! copies (what replication and the copy backfill make of large objects) have other ETags
//! (https://docs.aws.amazon.com/AmazonS3/latest/API/API_Object.html, "ETag"), so a listing
//! cannot tell a different object from a re-encrypted one. `s3-dr drill` compares content.

pub mod listing;

use std::collections::VecDeque;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The destination's record of the last verification, which `status` shows:
/// `20261126T203015Z rp=0 missing=0 inflight=0` (` partial` when the run did not cover the
/// whole bucket).
pub const VERIFIED_TAG: &str = "s3-dr:verified";

/// One current object version as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub size: u64,
    /// Unix seconds.
    pub last_modified: i64,
}

/// What differs, for the report's examples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Problem {
    /// In the source, not in DR, older than the threshold.
    Missing,
    /// In both, with another size in DR.
    SizeDiffers,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Example {
    pub key: String,
    pub problem: Problem,
    pub last_modified: i64,
}

/// The comparison's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Comparison {
    pub source_objects: u64,
    pub source_bytes: u64,
    pub dr_objects: u64,
    /// Source objects not in DR (or there with another size) and older than the threshold:
    /// replication should have carried them and did not.
    pub missing_in_dr: u64,
    pub missing_bytes: u64,
    /// Of those, the ones there with another size.
    pub size_differs: u64,
    /// Source objects not in DR yet (or there with another size) but younger than the
    /// threshold: replication in flight.
    pub in_flight: u64,
    pub in_flight_bytes: u64,
    /// Objects in DR that the source no longer has as current versions (deleted or overwritten
    /// there since, or written to DR directly). Not a loss.
    pub extra_in_dr: u64,
    /// Last-modified time (Unix seconds) of the oldest source object not in DR, in flight or
    /// missing: what the source region's loss now would lose back to.
    pub oldest_not_in_dr: Option<i64>,
    /// The first missing objects found (at most [`MAX_EXAMPLES`]): in key order from a listing,
    /// in the inventory's order from its reports.
    pub examples: Vec<Example>,
}

pub const MAX_EXAMPLES: usize = 20;

impl Comparison {
    /// Seconds of writes that the loss of the source region now would lose: the age of the
    /// oldest source object that is not in DR; 0 when DR holds everything.
    pub fn recovery_point_seconds(&self, now: i64) -> u64 {
        self.oldest_not_in_dr.map_or(0, |oldest| now.saturating_sub(oldest).max(0) as u64)
    }

    pub fn is_complete(&self) -> bool {
        self.missing_in_dr == 0 && self.in_flight == 0
    }
}

/// Replication status of source objects not in DR: from HeadObject of the listing's examples,
/// or from the inventory's ReplicationStatus field for every missing object.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusCounts {
    /// S3 tried and failed to replicate these (a key policy, a role's permission, ...).
    pub failed: u64,
    pub pending: u64,
    pub completed: u64,
    /// No status: written before replication was configured, or not replicable (SSE-C, or
    /// the object was replicated from elsewhere); the backfill's job.
    pub none: u64,
}

impl StatusCounts {
    /// Counts one status as S3 spells it (`FAILED`, `PENDING`, `COMPLETED`/`COMPLETE`; anything
    /// else, including `REPLICA` and none, is "none").
    pub fn count(&mut self, status: &str) {
        match status {
            "FAILED" => self.failed += 1,
            "PENDING" => self.pending += 1,
            "COMPLETED" | "COMPLETE" => self.completed += 1,
            _ => self.none += 1,
        }
    }
}

/// How one source object compares with DR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    InDr,
    InFlight,
    /// Counted in `missing_in_dr` (absent, or there with another size).
    Missing,
}

/// The figures of a comparison, fed one object at a time in whatever order: the listing's
/// merge feeds it in key order, the inventory comparison partition by partition.
#[derive(Debug, Clone)]
pub struct Tally {
    /// Objects modified after this (Unix seconds) are in flight, not missing.
    settled_before: i64,
    comparison: Comparison,
}

impl Tally {
    /// `now` and `threshold_seconds` in seconds: a source object younger than the threshold and
    /// absent in DR is in flight.
    pub fn new(now: i64, threshold_seconds: u64) -> Tally {
        Tally {
            settled_before: now.saturating_sub(threshold_seconds.min(i64::MAX as u64) as i64),
            comparison: Comparison::default(),
        }
    }

    /// A source object that DR does not have.
    pub fn source_only(&mut self, source: Entry) -> Found {
        self.count_source(&source);
        self.not_in_dr(source, Problem::Missing)
    }

    /// A source object and DR's object of the same key.
    pub fn both(&mut self, source: Entry, dr_size: u64) -> Found {
        self.count_source(&source);
        self.comparison.dr_objects += 1;
        if source.size != dr_size {
            return self.not_in_dr(source, Problem::SizeDiffers);
        }
        Found::InDr
    }

    /// A source object that DR has with the same size (nothing else to record: cheaper than
    /// [`Tally::both`] where the key need not be kept).
    pub fn present(&mut self, size: u64) {
        self.comparison.source_objects += 1;
        self.comparison.source_bytes += size;
        self.comparison.dr_objects += 1;
    }

    /// `count` DR objects the source does not have as current versions.
    pub fn dr_only(&mut self, count: u64) {
        self.comparison.dr_objects += count;
        self.comparison.extra_in_dr += count;
    }

    pub fn comparison(&self) -> &Comparison {
        &self.comparison
    }

    pub fn finish(self) -> Comparison {
        self.comparison
    }

    fn count_source(&mut self, source: &Entry) {
        self.comparison.source_objects += 1;
        self.comparison.source_bytes += source.size;
    }

    fn not_in_dr(&mut self, source: Entry, problem: Problem) -> Found {
        let c = &mut self.comparison;
        c.oldest_not_in_dr = Some(c.oldest_not_in_dr.map_or(source.last_modified, |o| o.min(source.last_modified)));
        // Younger than the threshold, absent or with another size: replication of a new object
        // or of an overwrite may still be on its way.
        if source.last_modified > self.settled_before {
            c.in_flight += 1;
            c.in_flight_bytes += source.size;
            return Found::InFlight;
        }
        c.missing_in_dr += 1;
        c.missing_bytes += source.size;
        if problem == Problem::SizeDiffers {
            c.size_differs += 1;
        }
        if c.examples.len() < MAX_EXAMPLES {
            c.examples.push(Example { key: source.key, problem, last_modified: source.last_modified });
        }
        Found::Missing
    }
}

/// What a merge of two key-ordered listings does with each key: on one side only, or on both.
/// [`Tally`] counts what DR lacks; failback's homecoming counts what the source lacks.
pub trait Sides {
    fn only_in_source(&mut self, source: Entry);
    fn in_both(&mut self, source: Entry, dr: Entry);
    fn only_in_dr(&mut self, dr: Entry);
}

impl Sides for Tally {
    fn only_in_source(&mut self, source: Entry) {
        self.source_only(source);
    }

    fn in_both(&mut self, source: Entry, dr: Entry) {
        self.both(source, dr.size);
    }

    fn only_in_dr(&mut self, _: Entry) {
        self.dr_only(1);
    }
}

/// The merge of two key-ordered listings, fed a page at a time from either side.
#[derive(Debug)]
pub struct Merge<S = Tally> {
    source: VecDeque<Entry>,
    dr: VecDeque<Entry>,
    source_done: bool,
    dr_done: bool,
    tally: S,
    /// The last source key compared: the figures cover the keys up to it.
    last_compared: Option<String>,
}

/// Which side the merge needs read next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Source,
    Dr,
    Done,
}

impl Merge<Tally> {
    /// `now` and `threshold_seconds` in seconds: a source object younger than the threshold and
    /// absent in DR is in flight.
    pub fn new(now: i64, threshold_seconds: u64) -> Merge {
        Merge::over(Tally::new(now, threshold_seconds))
    }

    /// The figures so far (all of them once `next()` is `Done`).
    pub fn comparison(&self) -> &Comparison {
        self.tally.comparison()
    }

    pub fn finish(self) -> Comparison {
        self.tally.finish()
    }
}

impl<S: Sides> Merge<S> {
    pub fn over(sides: S) -> Merge<S> {
        Merge {
            source: VecDeque::new(),
            dr: VecDeque::new(),
            source_done: false,
            dr_done: false,
            tally: sides,
            last_compared: None,
        }
    }

    /// A page of the source; `last` when the listing has no more.
    pub fn add_source(&mut self, page: impl IntoIterator<Item = Entry>, last: bool) {
        self.source.extend(page);
        self.source_done = last;
        self.drain();
    }

    pub fn add_dr(&mut self, page: impl IntoIterator<Item = Entry>, last: bool) {
        self.dr.extend(page);
        self.dr_done = last;
        self.drain();
    }

    /// The side to read next: the one whose buffer ran dry while it has more.
    pub fn next(&self) -> Next {
        if self.source.is_empty() && !self.source_done {
            Next::Source
        } else if self.dr.is_empty() && !self.dr_done {
            Next::Dr
        } else {
            Next::Done
        }
    }

    /// What the sides found, and the last source key compared (the figures cover the keys up
    /// to it when a run stops early).
    pub fn finish_early(self) -> (S, Option<String>) {
        (self.tally, self.last_compared)
    }

    fn drain(&mut self) {
        loop {
            let order = match (self.source.front(), self.dr.front()) {
                (Some(s), Some(d)) => s.key.cmp(&d.key),
                (Some(_), None) if self.dr_done => std::cmp::Ordering::Less,
                (None, Some(_)) if self.source_done => std::cmp::Ordering::Greater,
                _ => return,
            };
            match order {
                std::cmp::Ordering::Less => {
                    if let Some(source) = self.source.pop_front() {
                        self.last_compared = Some(source.key.clone());
                        self.tally.only_in_source(source);
                    }
                }
                std::cmp::Ordering::Greater => {
                    if let Some(dr) = self.dr.pop_front() {
                        // Every source key before it is compared too.
                        self.last_compared = Some(dr.key.clone());
                        self.tally.only_in_dr(dr);
                    }
                }
                std::cmp::Ordering::Equal => {
                    if let (Some(source), Some(dr)) = (self.source.pop_front(), self.dr.pop_front()) {
                        self.last_compared = Some(source.key.clone());
                        self.tally.in_both(source, dr);
                    }
                }
            }
        }
    }
}

/// The last verification, as the destination's [`VERIFIED_TAG`] records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verified {
    /// Unix seconds.
    pub at: i64,
    pub recovery_point_seconds: u64,
    pub missing_in_dr: u64,
    pub in_flight: u64,
    /// The run covered both buckets to the end.
    pub complete: bool,
}

impl Verified {
    pub fn tag_value(&self) -> String {
        let at = UNIX_EPOCH + Duration::from_secs(self.at.max(0) as u64);
        format!(
            "{} rp={} missing={} inflight={}{}",
            crate::clock::second_stamp(at),
            self.recovery_point_seconds,
            self.missing_in_dr,
            self.in_flight,
            if self.complete { "" } else { " partial" }
        )
    }

    /// The tag's value read back; None if it is not one s3-dr wrote.
    pub fn parse(value: &str) -> Option<Verified> {
        let mut parts = value.split(' ');
        let at = crate::clock::parse_second_stamp(parts.next()?)?;
        let mut verified = Verified { at, recovery_point_seconds: 0, missing_in_dr: 0, in_flight: 0, complete: true };
        let mut seen = 0;
        for part in parts {
            match part.split_once('=') {
                Some(("rp", n)) => verified.recovery_point_seconds = n.parse().ok()?,
                Some(("missing", n)) => verified.missing_in_dr = n.parse().ok()?,
                Some(("inflight", n)) => verified.in_flight = n.parse().ok()?,
                None if part == "partial" => verified.complete = false,
                _ => return None,
            }
            seen += 1;
        }
        (seen >= 3).then_some(verified)
    }

    /// Nothing missing, in a run that covered everything.
    pub fn is_clean(&self) -> bool {
        self.complete && self.missing_in_dr == 0
    }
}

/// The destination's record of its last verification, from its tags.
pub fn recorded(tags: &[crate::tags::Tag]) -> Option<Verified> {
    tags.iter().find(|t| t.key == VERIFIED_TAG).and_then(|t| Verified::parse(&t.value))
}

const DAY: i64 = 86_400;
/// A last verification this old is overdue: the weekly one, and a day's grace.
pub const OVERDUE_SECONDS: i64 = 8 * DAY;

/// Whether the weekly verification of `bucket` is due at `now` (Unix seconds): never within 6
/// days of the last; on the bucket's own day of the week (a hash of its name spreads a fleet
/// over the week); on any day once the last is 8 days old (a sweep missed its day).
pub fn is_due(bucket: &str, last: Option<&Verified>, now: i64) -> bool {
    match last.map(|v| now - v.at) {
        Some(age) if age < 6 * DAY => false,
        Some(age) if age >= OVERDUE_SECONDS => true,
        _ => day_of(bucket) == now.div_euclid(DAY).rem_euclid(7),
    }
}

/// The bucket's day, 0 to 6 (FNV-1a of its name: stable across releases, unlike std's hasher).
fn day_of(bucket: &str) -> i64 {
    let hash = bucket.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    (hash % 7) as i64
}

/// `3d 4h`, `2h 5m`, `40s`.
pub fn duration(seconds: u64) -> String {
    let (days, hours, minutes) = (seconds / 86_400, seconds % 86_400 / 3600, seconds % 3600 / 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, m) => format!("{m}m {}s", seconds % 60),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

pub fn unix_seconds(at: SystemTime) -> i64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(duration(0), "0s");
        assert_eq!(duration(59), "59s");
        assert_eq!(duration(61), "1m 1s");
        assert_eq!(duration(7_500), "2h 5m");
        assert_eq!(duration(3 * 86_400 + 4 * 3600 + 5), "3d 4h");
    }

    #[test]
    fn the_verification_tag_round_trips_and_fits_a_tag_value() {
        let verified = Verified {
            at: 1_795_725_015,
            recovery_point_seconds: 86_400,
            missing_in_dr: 3,
            in_flight: 1,
            complete: false,
        };
        let value = verified.tag_value();
        assert_eq!(value, "20261126T203015Z rp=86400 missing=3 inflight=1 partial");
        assert_eq!(Verified::parse(&value), Some(verified.clone()));
        let big = Verified {
            at: i64::from(i32::MAX),
            recovery_point_seconds: u64::MAX,
            missing_in_dr: u64::MAX,
            in_flight: u64::MAX,
            ..verified
        };
        assert!(big.tag_value().len() <= 256);
        assert!(!big.is_clean());
        for bad in [
            "",
            "yesterday",
            "20261126T203015Z",
            "20261126T203015Z rp=x missing=0 inflight=0",
            "20261126T203015Z rp=1 missing=0 inflight=0 extra",
        ] {
            assert_eq!(Verified::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn each_bucket_is_due_once_a_week_on_its_own_day_and_a_fleet_spreads_over_the_week() {
        let verified =
            |at: i64| Verified { at, recovery_point_seconds: 0, missing_in_dr: 0, in_flight: 0, complete: true };
        let start = 1_795_665_600; // a midnight
        let due_days: Vec<i64> = (0..14).filter(|d| is_due("photos", None, start + d * DAY + 3600)).collect();
        assert_eq!(due_days.len(), 2, "{due_days:?}");
        assert_eq!(due_days[1] - due_days[0], 7);
        let first = start + due_days[0] * DAY + 3600;
        assert!(!is_due("photos", Some(&verified(first)), first + DAY), "verified yesterday");
        assert!(is_due("photos", Some(&verified(first)), first + 7 * DAY), "its day again");
        assert!(!is_due("photos", Some(&verified(first)), first + 6 * DAY + 12 * 3600), "6.5 days: not its day");
        assert!(is_due("photos", Some(&verified(first)), first + 8 * DAY + DAY), "a week and more: any day");
        let mut per_day = [0; 7];
        for i in 0..7000 {
            per_day[day_of(&format!("bucket-{i}")) as usize] += 1;
        }
        assert!(per_day.iter().all(|n| (850..1150).contains(n)), "{per_day:?}");
    }

    fn entry(key: &str, size: u64, last_modified: i64) -> Entry {
        Entry { key: key.to_owned(), size, last_modified }
    }

    const NOW: i64 = 1_000_000;
    const HOUR: u64 = 3600;

    /// Feeds the pages as a reader would (whichever side `next()` asks for).
    fn run(source_pages: Vec<Vec<Entry>>, dr_pages: Vec<Vec<Entry>>) -> Comparison {
        let mut merge = Merge::new(NOW, HOUR);
        let (mut source, mut dr) = (source_pages.into_iter().peekable(), dr_pages.into_iter().peekable());
        loop {
            match merge.next() {
                Next::Source => {
                    let page = source.next().unwrap_or_default();
                    let last = source.peek().is_none();
                    merge.add_source(page, last);
                }
                Next::Dr => {
                    let page = dr.next().unwrap_or_default();
                    let last = dr.peek().is_none();
                    merge.add_dr(page, last);
                }
                Next::Done => return merge.finish(),
            }
        }
    }

    #[test]
    fn identical_buckets_are_complete_with_a_zero_recovery_point() {
        let objects = vec![entry("a", 1, 0), entry("b", 2, 0), entry("c", 3, 0)];
        let comparison = run(vec![objects.clone()], vec![objects]);
        assert!(comparison.is_complete());
        assert_eq!((comparison.source_objects, comparison.source_bytes, comparison.dr_objects), (3, 6, 3));
        assert_eq!(comparison.recovery_point_seconds(NOW), 0);
    }

    #[test]
    fn missing_old_objects_count_with_their_bytes_and_set_the_recovery_point() {
        let source = vec![entry("a", 10, NOW - 7200), entry("b", 20, NOW - 86_400), entry("c", 30, NOW - 60)];
        let comparison = run(vec![source], vec![vec![entry("a", 10, NOW)]]);
        assert_eq!((comparison.missing_in_dr, comparison.missing_bytes), (1, 20));
        assert_eq!((comparison.in_flight, comparison.in_flight_bytes), (1, 30));
        assert_eq!(comparison.recovery_point_seconds(NOW), 86_400);
        assert_eq!(
            comparison.examples,
            vec![Example { key: "b".into(), problem: Problem::Missing, last_modified: NOW - 86_400 }]
        );
        assert!(!comparison.is_complete());
    }

    #[test]
    fn a_size_difference_is_missing_once_settled_in_flight_before_and_extra_dr_objects_are_no_loss() {
        // "a" was overwritten 2 hours ago, "c" 10 s ago (its replication may still be on its way).
        let source = vec![entry("a", 10, NOW - 2 * HOUR as i64), entry("b", 20, NOW - 10), entry("c", 30, NOW - 10)];
        let dr = vec![entry("a", 11, NOW), entry("b", 20, NOW), entry("c", 31, NOW), entry("z", 5, NOW)];
        let comparison = run(vec![source], vec![dr]);
        assert_eq!((comparison.missing_in_dr, comparison.size_differs, comparison.in_flight), (1, 1, 1));
        assert_eq!(comparison.extra_in_dr, 1);
        assert_eq!(comparison.dr_objects, 4);
        assert_eq!(comparison.recovery_point_seconds(NOW), 2 * HOUR);
    }

    #[test]
    fn pages_of_any_split_give_the_same_figures() {
        let source: Vec<Entry> = (0..50).map(|i| entry(&format!("k{i:03}"), i, NOW - 7200)).collect();
        let dr: Vec<Entry> = source.iter().filter(|e| e.size % 3 != 0).cloned().collect();
        let whole = run(vec![source.clone()], vec![dr.clone()]);
        for (source_page, dr_page) in [(1, 1), (7, 3), (50, 1), (1, 50), (13, 13)] {
            let split = |all: &[Entry], n: usize| all.chunks(n).map(<[Entry]>::to_vec).collect::<Vec<_>>();
            assert_eq!(run(split(&source, source_page), split(&dr, dr_page)), whole, "{source_page}/{dr_page}");
        }
        assert_eq!(whole.missing_in_dr, 17);
    }

    #[test]
    fn empty_sides() {
        assert!(run(vec![vec![]], vec![vec![]]).is_complete());
        let only_dr = run(vec![vec![]], vec![vec![entry("a", 1, 0)]]);
        assert_eq!((only_dr.extra_in_dr, only_dr.missing_in_dr), (1, 0));
        let only_source = run(vec![vec![entry("a", 1, 0)]], vec![vec![]]);
        assert_eq!(only_source.missing_in_dr, 1);
    }

    #[test]
    fn examples_are_bounded() {
        let source: Vec<Entry> = (0..100).map(|i| entry(&format!("k{i:03}"), 1, 0)).collect();
        let comparison = run(vec![source], vec![vec![]]);
        assert_eq!(comparison.missing_in_dr, 100);
        assert_eq!(comparison.examples.len(), MAX_EXAMPLES);
    }
}
