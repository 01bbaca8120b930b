//! The comparison of two inventory reports, streaming their data files.
//!
//! DR's rows are held in memory as 128-bit digests of their keys (with their sizes), a hash
//! partition at a time: at most [`Budget`] of them. Each pass reads DR's files for its
//! partition, then streams the source's files past them; a source key whose digest is not
//! held is not in DR. The first pass tries one partition; if DR has more rows than the budget,
//! it counts them and the comparison starts again with enough partitions. Memory is the
//! budget's; reads are (partitions × both reports).
//!
//! Digests, not keys: 24 bytes a row whatever the key's length. The digest is the key's
//! XXH3-128: two keys share one with a probability near n²/2¹²⁹ (10⁻²⁰ for a billion keys),
//! which would hide one missing object. It is not built to resist someone who crafts colliding
//! keys; the keys are the bucket owner's own.

use std::collections::HashMap;
use std::io::{self, Read};
use std::time::Instant;

use md5::{Digest, Md5};

use super::manifest::{DataFile, Invalid, Manifest, Schema};
use crate::verify::{Entry, Found, StatusCounts, Tally};

/// DR rows held in memory at once (24 bytes each in the table; up to about 100 at peak with its
/// slack and growth: `make bench` measures 200 MB for 2,000,000).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget(pub usize);

/// Which report a data file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Source,
    Dr,
}

/// Why a comparison could not finish: a file could not be opened (`E`, the caller's error),
/// or a report says something it cannot prove.
#[derive(Debug)]
pub enum Failure<E> {
    Open(E),
    Invalid { side: Side, file: String, what: Invalid },
}

/// What the comparison found.
#[derive(Debug)]
pub struct Outcome {
    pub tally: Tally,
    /// Replication status (from the source report) of every object counted missing.
    pub statuses: StatusCounts,
    /// Every partition was compared. False when the deadline came first: the figures then
    /// cover `partitions_done` of `partitions` (a hash share of the keys).
    pub complete: bool,
    pub partitions: u64,
    pub partitions_done: u64,
}

/// The comparison. `open` gives a data file's bytes as S3 stores them (gzip'd CSV);
/// `as_of` is when the reports were taken (source objects younger than the threshold at that
/// time are in flight); `deadline` stops between files.
pub fn compare<R: Read, E>(
    source: &Manifest,
    dr: &Manifest,
    budget: Budget,
    as_of: i64,
    threshold_seconds: u64,
    deadline: Option<Instant>,
    mut open: impl FnMut(Side, &DataFile) -> Result<R, E>,
) -> Result<Outcome, Failure<E>> {
    let reports = Reports { source, dr, budget: budget.0.max(1), as_of, threshold_seconds, deadline };
    let mut partitions = 1u64;
    loop {
        match reports.attempt(partitions, &mut open)? {
            Attempt::Done(outcome) => return Ok(outcome),
            Attempt::Again(more) => partitions = more,
        }
    }
}

struct Reports<'m> {
    source: &'m Manifest,
    dr: &'m Manifest,
    budget: usize,
    as_of: i64,
    threshold_seconds: u64,
    deadline: Option<Instant>,
}

enum Attempt {
    Done(Outcome),
    /// DR has more rows than fit in a partition: start again with this many.
    Again(u64),
}

impl Reports<'_> {
    fn attempt<R: Read, E>(
        &self,
        partitions: u64,
        open: &mut impl FnMut(Side, &DataFile) -> Result<R, E>,
    ) -> Result<Attempt, Failure<E>> {
        let (source, dr, budget) = (self.source, self.dr, self.budget);
        let out_of_time = || self.deadline.is_some_and(|at| Instant::now() >= at);
        let mut tally = Tally::new(self.as_of, self.threshold_seconds);
        let mut statuses = StatusCounts::default();
        for partition in 0..partitions {
            let stopped = |tally, statuses| {
                Attempt::Done(Outcome { tally, statuses, complete: false, partitions, partitions_done: partition })
            };
            let mut index = Index { partitions, partition, held: HashMap::default(), budget, rows: 0 };
            for file in &dr.files {
                if out_of_time() {
                    return Ok(stopped(tally, statuses));
                }
                let reader = open(Side::Dr, file).map_err(Failure::Open)?;
                read_file(reader, file, &dr.schema, |row| index.hold(row)).map_err(|what| Failure::Invalid {
                    side: Side::Dr,
                    file: file.key.clone(),
                    what,
                })?;
            }
            if index.held.len() >= budget && index.rows > index.held.len() as u64 {
                // More rows than fit: enough partitions for this many, with a tenth to spare for
                // uneven ones (and at least twice as many, so this ends).
                let rows = index.rows.saturating_mul(partitions);
                return Ok(Attempt::Again(rows.saturating_mul(11).div_ceil(10 * budget as u64).max(partitions * 2)));
            }
            let checkpoint = (tally.clone(), statuses.clone());
            for file in &source.files {
                if out_of_time() {
                    let (tally, statuses) = checkpoint;
                    return Ok(stopped(tally, statuses));
                }
                let reader = open(Side::Source, file).map_err(Failure::Open)?;
                read_file(reader, file, &source.schema, |row| index.compare(row, &mut tally, &mut statuses))
                    .map_err(|what| Failure::Invalid { side: Side::Source, file: file.key.clone(), what })?;
            }
            tally.dr_only(index.held.values().filter(|slot| !slot.matched()).count() as u64);
        }
        Ok(Attempt::Done(Outcome { tally, statuses, complete: true, partitions, partitions_done: partitions }))
    }
}

/// One row that counts (the latest version of an object, not a delete marker), its fields
/// parsed when asked for: a pass reads only its partition's in full.
pub struct Row<'a> {
    record: &'a csv::ByteRecord,
    schema: &'a Schema,
}

impl<'a> Row<'a> {
    fn field(&self, i: usize) -> &'a [u8] {
        self.record.get(i).unwrap_or_default()
    }

    fn text(&self, i: usize, name: &str) -> Result<&'a str, Invalid> {
        std::str::from_utf8(self.field(i)).map_err(|_| format!("its {name} is not text"))
    }

    /// As the CSV has it: URL-encoded (both reports encode alike, so they compare as they are).
    pub fn key(&self) -> &'a [u8] {
        self.field(self.schema.key)
    }

    pub fn size(&self) -> Result<u64, Invalid> {
        let size = self.text(self.schema.size, "Size")?;
        size.parse().map_err(|_| format!("its Size {size:?} is not a number of bytes"))
    }

    /// Unix seconds.
    pub fn last_modified(&self) -> Result<i64, Invalid> {
        let text = self.text(self.schema.last_modified, "LastModifiedDate")?;
        crate::clock::parse_iso_seconds(text)
            .ok_or_else(|| format!("its LastModifiedDate {text:?} is not an ISO 8601 time"))
    }

    pub fn replication_status(&self) -> &'a str {
        self.schema.replication_status.map_or("", |i| std::str::from_utf8(self.field(i)).unwrap_or(""))
    }
}

/// A DR row: its size, and (the top bit) whether a source row matched it. 8 bytes, so a held
/// row costs 24 bytes plus the table's slack (objects are at most 50 TB: the bit is free).
#[derive(Debug, Clone, Copy)]
struct Slot(u64);

const MATCHED: u64 = 1 << 63;

impl Slot {
    fn size(self) -> u64 {
        self.0 & !MATCHED
    }
    fn matched(self) -> bool {
        self.0 & MATCHED != 0
    }
}

/// DR's rows of one partition, by key digest.
struct Index {
    partitions: u64,
    partition: u64,
    held: HashMap<u128, Slot, BuildDigestHasher>,
    budget: usize,
    /// DR rows of this partition, held or not.
    rows: u64,
}

impl Index {
    fn hold(&mut self, row: Row<'_>) -> Result<(), Invalid> {
        let digest = digest(row.key());
        if (digest as u64) % self.partitions != self.partition {
            return Ok(());
        }
        self.rows += 1;
        if self.held.len() < self.budget {
            self.held.insert(digest, Slot(row.size()? & !MATCHED));
        }
        Ok(())
    }

    fn compare(&mut self, row: Row<'_>, tally: &mut Tally, statuses: &mut StatusCounts) -> Result<(), Invalid> {
        let digest = digest(row.key());
        if (digest as u64) % self.partitions != self.partition {
            return Ok(());
        }
        let (size, last_modified) = (row.size()?, row.last_modified()?);
        let found = match self.held.get_mut(&digest) {
            Some(slot) => {
                slot.0 |= MATCHED;
                let size_in_dr = slot.size();
                if size_in_dr == size {
                    tally.present(size);
                    return Ok(());
                }
                tally.both(Entry { key: decoded_key(row.key()), size, last_modified }, size_in_dr)
            }
            None => tally.source_only(Entry { key: decoded_key(row.key()), size, last_modified }),
        };
        if found == Found::Missing {
            statuses.count(row.replication_status());
        }
        Ok(())
    }
}

/// The table's hash of a digest: its high half (the low half picks the partition). The digest
/// is already uniform, so hashing it again would only cost time.
#[derive(Default, Clone, Copy)]
struct BuildDigestHasher;

#[derive(Default)]
struct DigestHasher(u64);

impl std::hash::BuildHasher for BuildDigestHasher {
    type Hasher = DigestHasher;
    fn build_hasher(&self) -> DigestHasher {
        DigestHasher(0)
    }
}

impl std::hash::Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u128 keys are hashed (write_u128); a fallback that still spreads.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u128(&mut self, digest: u128) {
        self.0 = (digest >> 64) as u64;
    }
}

fn digest(key: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(key)
}

/// The key as S3 stores it: inventory CSVs URL-encode keys, with `+` for a space
/// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory.html, "Key").
pub fn decoded_key(encoded: &[u8]) -> String {
    let spaced: Vec<u8> = encoded.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
    percent_encoding::percent_decode(&spaced).decode_utf8_lossy().into_owned()
}

/// Streams one data file: gunzip, CSV, each row that counts to `each`; then checks that the
/// bytes read are the manifest's (size and MD5), so a file cut short is never read as whole.
pub fn read_file<R: Read>(
    reader: R,
    file: &DataFile,
    schema: &Schema,
    mut each: impl FnMut(Row<'_>) -> Result<(), Invalid>,
) -> Result<u64, Invalid> {
    let decoder = flate2::read::MultiGzDecoder::new(Checked { inner: reader, md5: Md5::new(), bytes: 0 });
    let mut csv = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(decoder);
    let mut record = csv::ByteRecord::new();
    let mut rows = 0u64;
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(error) => return Err(format!("after {rows} rows: {}", read_error(&error))),
        }
        rows += 1;
        if let Some(row) = counted(&record, schema).map_err(|what| format!("row {rows}: {what}"))? {
            each(row).map_err(|what| format!("row {rows}: {what}"))?;
        }
    }
    let mut checked = csv.into_inner().into_inner();
    io::copy(&mut checked, &mut io::sink()).map_err(|e| format!("reading it: {e}"))?;
    if checked.bytes != file.size {
        return Err(format!("it has {} bytes, the manifest says {}: truncated or replaced", checked.bytes, file.size));
    }
    let md5: String = checked.md5.finalize().iter().map(|b| format!("{b:02x}")).collect();
    if md5 != file.md5 {
        return Err(format!("its MD5 is {md5}, the manifest says {}: corrupt or replaced", file.md5));
    }
    Ok(rows)
}

fn read_error(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::Io(io) if io.kind() == io::ErrorKind::UnexpectedEof => {
            "the gzip stream ends early (truncated file)".to_owned()
        }
        csv::ErrorKind::Io(io) => format!("it is not gzip'd CSV ({io})"),
        _ => format!("it is not CSV ({error})"),
    }
}

/// The row, or None for a row that does not count (an older version, a delete marker).
fn counted<'r>(record: &'r csv::ByteRecord, schema: &'r Schema) -> Result<Option<Row<'r>>, Invalid> {
    if record.len() != schema.columns {
        return Err(format!("{} fields, the fileSchema names {}", record.len(), schema.columns));
    }
    let field = |i: usize| record.get(i).unwrap_or_default();
    if schema.is_latest.is_some_and(|i| field(i) != b"true")
        || schema.is_delete_marker.is_some_and(|i| field(i) == b"true")
    {
        return Ok(None);
    }
    Ok(Some(Row { record, schema }))
}

/// The compressed bytes as they are read: their count and MD5.
struct Checked<R> {
    inner: R,
    md5: Md5,
    bytes: u64,
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.md5.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}
