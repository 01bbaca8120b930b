//! A large bucket's copy backfill split into key ranges that Lambdas copy at once (the protect
//! workflow's `CopyShards` Map, `S3DR_COPY_SHARDS` or the request's `copyShards`).
//!
//! S3 lists keys in UTF-8 binary order and nowhere says how many keys lie in a range, so the
//! split is made from the key space's shape: probing with `ListObjectsV2` (`MaxKeys=1`,
//! `StartAfter` just past everything under the unit found last) names each distinct character
//! that follows the keys' common prefix, and the shards take runs of those characters of equal
//! length. Hashed, numbered, dated and UUID keys spread evenly over those characters; a bucket
//! whose keys crowd under one of them gets shards of unequal work (never a missed key).
//!
//! The split does not know how many keys each character holds, so it is also made again as the
//! copy goes: after each round, a shard whose range is done gives its Lambda to the shards still
//! copying, whose remaining ranges are split the same way ([`rebalance`]); a bucket whose keys
//! crowd under one prefix ends up split inside it.
//!
//! Correct whatever the probes find: the ranges touch or overlap and together cover every key
//! of the range split ([`ranges`]); an overlap (a key written inside a probed gap meanwhile) is
//! listed by two shards and the second finds it copied (the skip rule). Keys written after
//! the rule exists are replication's, not the backfill's.

use crate::backfill::Progress;
use crate::error::{AwsResultExt, DrError};

/// At most this many probes (one ListObjectsV2 each, one after the other) to plan a split:
/// about 100 characters of common prefix, or 99 distinct units.
pub const MAX_PROBES: usize = 100;

/// Shard records a backfill keeps at most (the finished ones stay, for their counts): splits
/// stop there. The records travel in the execution's state, which holds 256 KiB at most, twice
/// (CheckBackfill's and the Map's results): with keys of S3's longest (1,024 bytes) a record's
/// cursors and one kept failure take about 4 kB.
pub const MAX_SHARD_RECORDS: usize = 32;

/// Seconds after which a shard takes no new page in this round. A page takes at most an
/// invocation (15 minutes), so a round ends within about 35 minutes, and the heartbeat written
/// between rounds stays well inside `state::STALLED_AFTER_SECONDS` (an hour).
pub const MAX_ROUND_SECONDS: i64 = 20 * 60;

/// Serialized size of the shard records past which no shard is split again: they travel in
/// the execution's state (256 KiB at most) several times (the continued request, ValidateSource's
/// plan, StartBackfill's, CheckBackfill's and the Map's results).
pub const SHARD_STATE_BUDGET: usize = 24 * 1024;

/// Pages a shard copies before the Map round ends and CheckBackfill adds the shards up and
/// writes the heartbeat (the history budget may ask for fewer).
pub const MAX_ROUND_TURNS: u32 = 10;

/// The highest character: `jump(unit)` sorts after every key under `unit` (but one that
/// continues with it, which a shard then lists twice).
const TOP: char = char::MAX;

/// The `StartAfter` that skips every key under `unit` (a key prefix).
pub fn jump(unit: &str) -> String {
    format!("{unit}{TOP}")
}

/// A `StartAfter` just below `boundary`: its last character one lower, then the top character.
/// Only keys that continue that with the top character lie between the two (a shard lists them
/// twice); a key that is a prefix of the boundary (`big/` below `big/0`) is below both.
pub fn below(boundary: &str) -> String {
    let mut chars = boundary.chars();
    match chars.next_back() {
        Some(last) => {
            let rest = chars.as_str();
            // The code point below, skipping the surrogates (no `char` is one).
            let lower = (0..u32::from(last)).rev().find_map(char::from_u32);
            match lower {
                Some(lower) => format!("{rest}{lower}{TOP}"),
                None => rest.to_owned(),
            }
        }
        None => String::new(),
    }
}

/// One shard's key range: keys after `after` (None: from the first) and before `until`
/// (None: to the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRange {
    pub after: Option<String>,
    pub until: Option<String>,
}

impl KeyRange {
    pub fn holds(&self, key: &str) -> bool {
        self.after.as_deref().is_none_or(|after| key > after) && self.until.as_deref().is_none_or(|until| key < until)
    }
}

/// The shards' ranges of the keys in (`after`, `until`) from what the probes found: `units`,
/// key prefixes in order, none a prefix of another, under which the keys lie. Up to `shards`
/// runs of consecutive units of (nearly) equal length. The boundary between two shards is the
/// first unit of the second: the first ends before it, the second starts after the string just
/// below it ([`below`]). Fewer than 2 units: one range, the whole.
pub fn ranges(after: Option<&str>, until: Option<&str>, units: &[String], shards: usize) -> Vec<KeyRange> {
    let count = shards.clamp(1, units.len().max(1));
    // First unit index of each shard: an even split of the units.
    let starts: Vec<usize> = (0..count).map(|i| i * units.len() / count).collect();
    starts
        .iter()
        .enumerate()
        .map(|(i, &start)| KeyRange {
            after: match i {
                0 => after.map(str::to_owned),
                _ => Some(below(&units[start])),
            },
            until: match starts.get(i + 1) {
                Some(&next) => Some(units[next].clone()),
                None => until.map(str::to_owned),
            },
        })
        .collect()
}

/// The split of the keys in (`after`, `until`) of `bucket` into at most `shards` ranges, found
/// by probing (at most [`MAX_PROBES`] calls): from the whole key space, each unit is replaced by
/// the units one character longer under it, level after level, until there are `shards` units
/// or the probes run out. The probes made, for the call count.
pub async fn split(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    after: Option<&str>,
    until: Option<&str>,
    shards: usize,
) -> Result<(Vec<KeyRange>, usize), DrError> {
    let probe = Probe { s3, bucket, after, until };
    let mut units = vec![String::new()];
    let mut probes = 0;
    loop {
        let mut deeper = Vec::with_capacity(units.len());
        let mut changed = false;
        for unit in &units {
            let children = match probes < MAX_PROBES {
                true => probe.children(unit, &mut probes).await?,
                false => Vec::new(),
            };
            // No key longer than the unit (or no probes left): it stays as it is.
            changed |= !children.is_empty();
            match children.is_empty() {
                true => deeper.push(unit.clone()),
                false => deeper.extend(children),
            }
        }
        units = deeper;
        if !changed || units.len() >= shards || probes >= MAX_PROBES {
            units.retain(|unit| !unit.is_empty());
            return Ok((ranges(after, until, &units, shards), probes));
        }
    }
}

/// What the probes of one split read.
struct Probe<'a> {
    s3: &'a aws_sdk_s3::Client,
    bucket: &'a str,
    after: Option<&'a str>,
    until: Option<&'a str>,
}

impl Probe<'_> {
    /// The units one character longer than `unit` that keys in the range lie under, in order:
    /// one ListObjectsV2 (`MaxKeys=1`) each, and one that finds no more.
    async fn children(&self, unit: &str, probes: &mut usize) -> Result<Vec<String>, DrError> {
        let mut children: Vec<String> = Vec::new();
        let mut cursor = match self.after {
            Some(after) if after > unit => after.to_owned(),
            _ => unit.to_owned(),
        };
        while *probes < MAX_PROBES {
            *probes += 1;
            let found = self
                .s3
                .list_objects_v2()
                .bucket(self.bucket)
                .prefix(unit)
                .set_start_after((!cursor.is_empty()).then(|| cursor.clone()))
                .max_keys(1)
                .send()
                .await
                .aws(self.bucket, "ListObjectsV2")?;
            let in_range = |key: &&str| self.until.is_none_or(|until| *key < until);
            let child = found.contents().first().and_then(|o| o.key()).filter(in_range).and_then(|key| {
                let next = key.strip_prefix(unit)?.chars().next()?;
                Some(format!("{unit}{next}"))
            });
            // A unit seen again: a key that continues with the top character; stop here.
            let Some(child) = child.filter(|c| children.last() != Some(c)) else { break };
            cursor = jump(&child);
            children.push(child);
        }
        Ok(children)
    }
}

/// After a round: the Lambdas of the shards that are done go to the shards still copying, whose
/// remaining ranges (after their cursor, to their end) are split again, so that `slots` shards
/// copy at once while there is work to split. A split shard keeps the first part; the others
/// are new shards at the end of the list. The probes made.
pub async fn rebalance(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    shards: &mut Vec<Progress>,
    slots: usize,
) -> Result<usize, DrError> {
    let copying: Vec<usize> = (0..shards.len()).filter(|&i| !shards[i].done).collect();
    let free = slots.saturating_sub(copying.len());
    let mut probes = 0;
    if copying.is_empty() || free == 0 {
        return Ok(0);
    }
    for (turn, &index) in copying.iter().enumerate() {
        let extra = free / copying.len() + usize::from(turn < free % copying.len());
        let room = MAX_SHARD_RECORDS.saturating_sub(shards.len());
        if extra == 0 || room == 0 {
            continue;
        }
        let shard = &shards[index];
        let (after, until) = (shard.continue_after.clone(), shard.until.clone());
        let (parts, made) = split(s3, bucket, after.as_deref(), until.as_deref(), extra.min(room) + 1).await?;
        probes += made;
        let Some((first, rest)) = parts.split_first() else { continue };
        shards[index].until = first.until.clone();
        let fresh = Progress { strategy: shards[index].strategy, scope: shards[index].scope, ..Progress::default() };
        shards.extend(rest.iter().map(|part| Progress {
            continue_after: part.after.clone(),
            until: part.until.clone(),
            ..fresh.clone()
        }));
    }
    Ok(probes)
}

/// Pages each of the `copying` shards copies in one Map round, and the turns the round costs:
/// a round must fit the turns an execution may make (`turns_per_execution`), one page at
/// least. Each of the `records` shards (done ones included) costs the Map about one turn of
/// events, and the merge one.
pub fn round_turns(turns_per_execution: u32, copying: usize, records: usize) -> (u32, u32) {
    let (copying, records) = ((copying as u32).max(1), records as u32);
    let pages = (turns_per_execution.saturating_sub(records + 1) / copying).clamp(1, MAX_ROUND_TURNS);
    (pages, copying * pages + records + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn covering(ranges: &[KeyRange], key: &str) -> usize {
        ranges.iter().filter(|r| r.holds(key)).count()
    }

    fn units(prefix: &str, chars: &[char]) -> Vec<String> {
        chars.iter().map(|c| format!("{prefix}{c}")).collect()
    }

    #[test]
    fn hex_units_split_evenly() {
        let hex: Vec<char> = "0123456789abcdef".chars().collect();
        let split = ranges(None, None, &units("logs/", &hex), 4);
        assert_eq!(split.len(), 4);
        assert_eq!(split[0], KeyRange { after: None, until: Some("logs/4".into()) });
        assert_eq!(split[1], KeyRange { after: Some(jump("logs/3")), until: Some("logs/8".into()) });
        assert_eq!(split[3], KeyRange { after: Some(jump("logs/b")), until: None });
        for key in ["logs/0", "logs/3zz", "logs/3\u{10FFFF}", "logs/4", "logs/7", "logs/8", "logs/f/x"] {
            assert_eq!(covering(&split, key), 1, "{key}");
        }
    }

    #[test]
    fn fewer_units_than_shards_makes_fewer_shards() {
        assert_eq!(ranges(Some("k"), None, &units("", &['a', 'b']), 8).len(), 2);
        assert_eq!(
            ranges(Some("k"), None, &units("", &['a']), 8),
            vec![KeyRange { after: Some("k".into()), until: None }]
        );
        assert_eq!(ranges(None, None, &[], 4), vec![KeyRange { after: None, until: None }]);
        assert_eq!(below("big/0"), format!("big//{TOP}"));
        assert_eq!(below("a\u{e000}"), format!("a\u{d7ff}{TOP}"));
        assert_eq!(below("a\0"), "a");
        // Units of several levels: `big/` split inside, next to single characters.
        let mixed: Vec<String> = ["a", "big/0", "big/1", "big/2", "z"].map(String::from).to_vec();
        let split = ranges(None, None, &mixed, 3);
        for key in ["a/1", "big/", "big/07", "big/1", "big/2x", "c", "z", "zz", "é"] {
            assert_eq!(covering(&split, key), 1, "{key} in {split:?}");
        }
        // A shard's remaining range split again keeps its end.
        let again = ranges(Some("d/5"), Some("o"), &units("d/", &['5', '6', '7']), 2);
        assert_eq!(again[0], KeyRange { after: Some("d/5".into()), until: Some("d/6".into()) });
        assert_eq!(again[1], KeyRange { after: Some(jump("d/5")), until: Some("o".into()) });
    }

    #[test]
    fn rounds_fit_the_history_budget() {
        assert_eq!(round_turns(1656, 4, 4), (MAX_ROUND_TURNS, 45));
        assert_eq!(round_turns(12, 4, 4), (1, 9));
        assert_eq!(round_turns(12, 2, 4), (3, 11));
        assert_eq!(round_turns(1, 16, 16), (1, 33));
    }

    proptest! {
        /// Whatever the probes found (even units that are wrong, or keys written since), no key
        /// after the cursor falls outside every range.
        #[test]
        fn every_key_after_the_cursor_is_in_a_range(
            keys in proptest::collection::vec("[a-d/\u{e9}\u{10FFFF}]{0,4}", 0..40),
            mut units in proptest::collection::vec(proptest::char::range('a', 'e'), 0..6),
            prefix in "[a-c]{0,1}",
            after in proptest::option::of("[a-d]{0,3}"),
            until in proptest::option::of("[a-e]{1,3}"),
            shards in 1usize..6,
        ) {
            units.sort();
            units.dedup();
            let split = ranges(after.as_deref(), until.as_deref(), &super::tests::units(&prefix, &units), shards);
            let whole = KeyRange { after: after.clone(), until: until.clone() };
            for key in keys.iter().filter(|k| whole.holds(k)) {
                prop_assert!(covering(&split, key) >= 1, "{key:?} in none of {split:?}");
            }
        }

        /// When the probes saw the keys as they are, each key is in exactly one range.
        #[test]
        fn probed_units_give_each_key_one_range(
            keys in proptest::collection::btree_set("[a-e][a-e/]{0,3}", 1..60),
            shards in 1usize..6,
        ) {
            let mut firsts: Vec<char> = keys.iter().filter_map(|k| k.chars().next()).collect();
            firsts.dedup();
            let split = ranges(None, None, &units("", &firsts), shards);
            for key in &keys {
                prop_assert_eq!(covering(&split, key), 1, "{:?} in {:?}", key, split);
            }
        }
    }
}
