//! Failback's pure decisions: which objects written in DR during a failover must be brought
//! home to the source, and what a comparison of the two buckets says once they have been.
//!
//! The rule (`brings_home`): an object DR holds that was written since the failover goes home
//! unless the source's object of that key is at least as new. Written in the margin before the
//! failover record (or since the operator's `since`), it goes home only where the source lacks
//! the key or holds another size. So:
//! - a replica of the source's own object (S3 gives it the source's metadata, creation time
//!   included: https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication.html) or the
//!   copy backfill's copy of it (made before the failover, same size) stays where it is;
//! - a write made in DR during the outage goes home, once: the copy is newer than it;
//! - a key written at the source after routing came home keeps the source's write: the newer
//!   write wins, whichever side made it.
//!
//! Not carried: deletions made in DR during the outage (a delete marker is not an object a
//! listing shows; the source keeps its object and the comparison counts it `onlyAtHome`).

use serde::{Deserialize, Serialize};

use crate::failover::Route;
use crate::verify::{Entry, Sides};

/// What ValidateFailback found, which every later failback step acts on.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub bucket: String,
    pub source_region: String,
    pub destination: String,
    pub dr_region: String,
    /// The destination's failover record, as written.
    pub record: String,
    /// When DR's objects count as the application's writes.
    pub window: Window,
    /// The source's versioning status: a copy home must not overwrite an unversioned object.
    pub source_versioning: String,
    /// The source has Object Lock: retention and legal holds travel home.
    pub source_locked: bool,
    /// The access point whose routing goes home, and its routes now.
    pub mrap: Option<String>,
    #[serde(default)]
    pub routes: Vec<Route>,
}

/// DR objects written this long before the recorded failover may still be the application's:
/// it may have been pointed at DR a little before `s3-dr failover` ran, and the record is the
/// Lambda's clock, Last-Modified S3's. (Longer: the operator's `since`.)
pub const BEFORE_FAILOVER_MARGIN_SECONDS: i64 = 900;

/// Seconds to wait after switching an access point's routes home before the last pass: S3
/// applies a route change "within about 2 minutes"
/// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/MrapFailover.html), and writes that
/// reach DR meanwhile must be brought home too.
pub const ROUTES_SETTLE_SECONDS: u64 = 150;

/// When DR's objects count as the application's: from `since` (the margin before the record,
/// or the operator's time), and surely after `failed_over_at` (Unix seconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Window {
    pub since: i64,
    pub failed_over_at: i64,
}

impl Window {
    /// The record's time (None: it does not parse) and the operator's `since`, or None when
    /// neither says when.
    pub fn new(failed_over_at: Option<i64>, since: Option<i64>) -> Option<Window> {
        let failed_over_at = failed_over_at.or(since)?;
        let since = since.unwrap_or(failed_over_at - BEFORE_FAILOVER_MARGIN_SECONDS).min(failed_over_at);
        Some(Window { since, failed_over_at })
    }
}

/// Whether DR's object (Last-Modified in Unix seconds, size) must be copied to the source,
/// whose object of the same key is `home` (None: it has none).
pub fn brings_home(dr: (i64, u64), home: Option<(i64, u64)>, window: Window) -> bool {
    let (dr_modified, dr_size) = dr;
    if dr_modified < window.since {
        return false;
    }
    match home {
        None => true,
        Some((home_modified, _)) if home_modified > dr_modified => false,
        // The same second (Last-Modified has no finer resolution): the copy made in that second,
        // unless the sizes say DR was written again after it.
        Some((home_modified, home_size)) if home_modified == dr_modified => home_size != dr_size,
        // Before the record: the source's own object (a replica or a backfill copy of it) is
        // the same size; another size is a write the application made in DR.
        // The record's own second belongs to the margin: a backfill copy made just before the
        // failover can share it.
        Some((_, home_size)) => dr_modified > window.failed_over_at || home_size != dr_size,
    }
}

/// At most this many keys not home are named.
pub const MAX_EXAMPLES: usize = 20;

/// DR (the primary during the failover) compared with the source (home), key by key: the merge
/// is fed DR as its "source" side and home as its "dr" side.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Homecoming {
    pub window: Window,
    pub dr_objects: u64,
    pub home_objects: u64,
    /// DR's objects written during the failover.
    pub written_in_dr: u64,
    /// Of those, the ones the source does not hold yet (absent, or older there).
    pub not_home: u64,
    pub not_home_bytes: u64,
    /// Of those, the first few keys.
    pub examples: Vec<String>,
    /// Keys written in DR during the failover and again at home since: the newer write, at
    /// home, is kept.
    pub newer_at_home: u64,
    /// Keys the source holds and DR does not: deleted in DR during the failover, or written at
    /// home since routing came back. Left as they are.
    pub only_at_home: u64,
    /// DR objects older than the failover that the source does not hold (deleted at the source
    /// before its outage, the deletion not yet replicated): left in DR, not brought home.
    pub older_only_in_dr: u64,
}

impl Homecoming {
    pub fn new(window: Window) -> Homecoming {
        Homecoming { window, ..Homecoming::default() }
    }

    /// Everything written in DR during the failover is home.
    pub fn is_home(&self) -> bool {
        self.not_home == 0
    }

    /// Add a later stretch of keys (a verification resumed after a deadline).
    pub fn add(&mut self, more: &Homecoming) {
        self.dr_objects += more.dr_objects;
        self.home_objects += more.home_objects;
        self.written_in_dr += more.written_in_dr;
        self.not_home += more.not_home;
        self.not_home_bytes += more.not_home_bytes;
        self.newer_at_home += more.newer_at_home;
        self.only_at_home += more.only_at_home;
        self.older_only_in_dr += more.older_only_in_dr;
        let room = MAX_EXAMPLES.saturating_sub(self.examples.len());
        self.examples.extend(more.examples.iter().take(room).cloned());
    }

    fn dr_object(&mut self, dr: &Entry, home: Option<&Entry>) {
        self.dr_objects += 1;
        let during = dr.last_modified > self.window.failed_over_at;
        self.written_in_dr += u64::from(during);
        let home_object = home.map(|h| (h.last_modified, h.size));
        if brings_home((dr.last_modified, dr.size), home_object, self.window) {
            self.not_home += 1;
            self.not_home_bytes += dr.size;
            if self.examples.len() < MAX_EXAMPLES {
                self.examples.push(dr.key.clone());
            }
        } else if during && home.is_some_and(|h| h.last_modified > dr.last_modified && h.size != dr.size) {
            self.newer_at_home += 1;
        } else if dr.last_modified < self.window.since && home.is_none() {
            self.older_only_in_dr += 1;
        }
    }
}

impl Sides for Homecoming {
    fn only_in_source(&mut self, dr: Entry) {
        self.dr_object(&dr, None);
    }

    fn in_both(&mut self, dr: Entry, home: Entry) {
        self.home_objects += 1;
        self.dr_object(&dr, Some(&home));
    }

    fn only_in_dr(&mut self, _home: Entry) {
        self.home_objects += 1;
        self.only_at_home += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::Merge;

    const FAILOVER: i64 = 1_795_000_000;
    const DAY: i64 = 86_400;

    fn entry(key: &str, size: u64, last_modified: i64) -> Entry {
        Entry { key: key.into(), size, last_modified }
    }

    #[test]
    fn only_what_dr_wrote_during_the_failover_goes_home_and_the_newer_write_wins() {
        let window = Window::new(Some(FAILOVER), None).unwrap();
        assert_eq!(window, Window { since: FAILOVER - 900, failed_over_at: FAILOVER });
        // A replica keeps the source's Last-Modified; a backfill copy is newer, but older than
        // the failover and of the same size: neither goes home.
        assert!(!brings_home((FAILOVER - DAY, 5), Some((FAILOVER - DAY, 5)), window));
        assert!(!brings_home((FAILOVER - 60, 5), Some((FAILOVER - DAY, 5)), window));
        // Written in DR during the outage: home once, and not again after the copy.
        assert!(brings_home((FAILOVER + 60, 5), None, window));
        assert!(brings_home((FAILOVER + 60, 5), Some((FAILOVER - DAY, 5)), window));
        assert!(!brings_home((FAILOVER + 60, 5), Some((FAILOVER + 900, 5)), window));
        // The record's second, and the margin before it: a new key, or another size, is the
        // application's; the same size is the source's own object.
        assert!(!brings_home((FAILOVER, 5), Some((FAILOVER - 1, 5)), window));
        assert!(brings_home((FAILOVER, 6), Some((FAILOVER - 1, 5)), window));
        assert!(brings_home((FAILOVER - 60, 5), None, window));
        assert!(brings_home((FAILOVER - 60, 7), Some((FAILOVER - DAY, 5)), window));
        // Written at home later than in DR: the home write is kept.
        assert!(!brings_home((FAILOVER + 60, 5), Some((FAILOVER + 61, 9)), window));
        // The same second: home unless DR was written again with another size.
        assert!(!brings_home((FAILOVER + 60, 5), Some((FAILOVER + 60, 5)), window));
        assert!(brings_home((FAILOVER + 60, 7), Some((FAILOVER + 60, 5)), window));
        // Before the window: the source's business, whatever it holds.
        assert!(!brings_home((FAILOVER - 7200, 5), None, window));
        // An operator's `since` widens the window; without a readable record it is the record.
        let wider = Window::new(Some(FAILOVER), Some(FAILOVER - 10_000)).unwrap();
        assert!(brings_home((FAILOVER - 7200, 5), None, wider));
        assert_eq!(Window::new(None, Some(FAILOVER)), Some(Window { since: FAILOVER, failed_over_at: FAILOVER }));
        assert_eq!(Window::new(None, None), None);
    }

    #[test]
    fn the_homecoming_counts_what_is_not_home_and_what_is_left_alone() {
        let window = Window::new(Some(FAILOVER), None).unwrap();
        let mut merge = Merge::over(Homecoming::new(window));
        let dr = vec![
            entry("a-old", 5, FAILOVER - DAY),
            entry("b-new", 3, FAILOVER + 10),
            entry("c-copied", 3, FAILOVER + 10),
            entry("d-deleted-at-home-before", 1, FAILOVER - DAY),
            entry("e-newer-at-home", 2, FAILOVER + 10),
        ];
        let home = vec![
            entry("a-old", 5, FAILOVER - DAY),
            entry("c-copied", 3, FAILOVER + 500),
            entry("e-newer-at-home", 9, FAILOVER + 600),
            entry("f-only-at-home", 4, FAILOVER + 700),
        ];
        merge.add_source(dr, true);
        merge.add_dr(home, true);
        let (found, _) = merge.finish_early();
        assert_eq!(
            found,
            Homecoming {
                dr_objects: 5,
                home_objects: 4,
                written_in_dr: 3,
                not_home: 1,
                not_home_bytes: 3,
                examples: vec!["b-new".into()],
                newer_at_home: 1,
                only_at_home: 1,
                older_only_in_dr: 1,
                ..Homecoming::new(window)
            }
        );
        assert!(!found.is_home());
        let mut total = Homecoming::new(window);
        total.add(&found);
        total.add(&found);
        assert_eq!((total.not_home, total.examples.len(), total.dr_objects), (2, 2, 10));
    }
}
