use super::compare::{compare, read_file, Budget, Failure, Outcome, Side};
use super::fixture::{iso, report, Object, Report, SCHEMA};
use super::manifest::{is_report_folder, Manifest};

const TAKEN: i64 = 1_795_000_000;
const HOUR: i64 = 3600;

fn object(key: &str, size: u64, age: i64, status: &'static str) -> Object {
    Object { key: key.to_owned(), size, last_modified: iso(TAKEN - age), replication_status: status }
}

fn parsed(report: &Report, needs_status: bool) -> Manifest {
    Manifest::parse(&report.manifest, needs_status).expect("a valid manifest")
}

/// Compares two reports held in memory.
fn run(source: &Report, dr: &Report, budget: usize) -> Result<Outcome, Failure<String>> {
    let (source_manifest, dr_manifest) = (parsed(source, true), parsed(dr, false));
    compare(&source_manifest, &dr_manifest, Budget(budget), TAKEN, 6 * HOUR as u64, None, |side, file| {
        let files = if side == Side::Source { &source.files } else { &dr.files };
        files
            .iter()
            .find(|(key, _)| *key == file.key)
            .map(|(_, bytes)| std::io::Cursor::new(bytes.clone()))
            .ok_or_else(|| format!("no file {}", file.key))
    })
}

fn source_objects() -> Vec<Object> {
    vec![
        object("in dr", 10, 48 * HOUR, "COMPLETED"),
        object("missing/old", 20, 30 * HOUR, "FAILED"),
        object("missing/older", 5, 50 * HOUR, ""),
        object("resized", 30, 24 * HOUR, "COMPLETED"),
        object("new", 40, HOUR, "PENDING"),
        object("caf\u{e9} 1+1", 7, 40 * HOUR, "COMPLETED"),
    ]
}

fn dr_objects() -> Vec<Object> {
    vec![
        object("in dr", 10, 48 * HOUR, "REPLICA"),
        object("resized", 31, 24 * HOUR, "REPLICA"),
        object("only in dr", 1, 2 * HOUR, "REPLICA"),
        object("caf\u{e9} 1+1", 7, 40 * HOUR, "REPLICA"),
    ]
}

#[test]
fn the_reports_give_the_figures_of_a_listing() {
    let source = report("photos", TAKEN, SCHEMA, source_objects(), 2);
    let dr = report("photos-dr", TAKEN, SCHEMA, dr_objects(), 3);
    assert_eq!(source.files.len(), 3);
    let outcome = run(&source, &dr, 1000).expect("compared");
    assert!(outcome.complete);
    assert_eq!(outcome.partitions, 1);
    let c = outcome.tally.finish();
    assert_eq!((c.source_objects, c.source_bytes, c.dr_objects), (6, 112, 4));
    assert_eq!((c.missing_in_dr, c.missing_bytes, c.size_differs), (3, 55, 1));
    assert_eq!((c.in_flight, c.in_flight_bytes, c.extra_in_dr), (1, 40, 1));
    assert_eq!(c.oldest_not_in_dr, Some(TAKEN - 50 * HOUR));
    assert_eq!(c.recovery_point_seconds(TAKEN), 50 * HOUR as u64);
    let mut keys: Vec<&str> = c.examples.iter().map(|e| e.key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["missing/old", "missing/older", "resized"]);
    // Of the three missing: one FAILED, one COMPLETED (the resized one), one without status.
    assert_eq!((outcome.statuses.failed, outcome.statuses.completed, outcome.statuses.none), (1, 1, 1));
}

#[test]
fn a_small_budget_partitions_and_finds_the_same() {
    let source: Vec<Object> = (0..5000).map(|i| object(&format!("k/{i}"), i, 10 * HOUR, "COMPLETED")).collect();
    let dr: Vec<Object> =
        (0..5000).filter(|i| i % 100 != 7).map(|i| object(&format!("k/{i}"), i, 10 * HOUR, "REPLICA")).collect();
    let (source, dr) = (report("big", TAKEN, SCHEMA, source, 1000), report("big-dr", TAKEN, SCHEMA, dr, 700));
    let whole = run(&source, &dr, 1_000_000).expect("compared");
    let parts = run(&source, &dr, 300).expect("compared");
    assert_eq!(whole.partitions, 1);
    assert!(parts.partitions >= 17, "{} partitions for 4950 rows at 300 each", parts.partitions);
    assert!(parts.complete);
    let (whole, parts) = (whole.tally.finish(), parts.tally.finish());
    assert_eq!((parts.missing_in_dr, parts.source_objects, parts.dr_objects), (50, 5000, 4950));
    assert_eq!((whole.missing_in_dr, whole.missing_bytes), (parts.missing_in_dr, parts.missing_bytes));
}

#[test]
fn all_versions_reports_count_only_latest_versions_that_are_not_delete_markers() {
    let schema =
        ["Bucket", "Key", "VersionId", "IsLatest", "IsDeleteMarker", "Size", "LastModifiedDate", "ReplicationStatus"];
    let mut source = report("v", TAKEN, &schema, vec![object("a", 1, 10 * HOUR, "COMPLETED")], 10);
    let csv = "\"v\",\"a\",\"1\",\"true\",\"false\",\"1\",\"2026-11-20T00:00:00.000Z\",\"COMPLETED\"\n\
               \"v\",\"a\",\"0\",\"false\",\"false\",\"9\",\"2026-11-19T00:00:00.000Z\",\"COMPLETED\"\n\
               \"v\",\"gone\",\"2\",\"true\",\"true\",\"\",\"2026-11-19T00:00:00.000Z\",\"\"\n";
    source.files = vec![(source.files[0].0.clone(), gzip(csv.as_bytes()))];
    source.manifest = super::fixture::manifest("v", TAKEN, &schema, &source.files);
    let dr = report("v-dr", TAKEN, SCHEMA, vec![object("a", 1, 10 * HOUR, "REPLICA")], 10);
    let c = run(&source, &dr, 10).expect("compared").tally.finish();
    assert_eq!((c.source_objects, c.missing_in_dr, c.dr_objects, c.extra_in_dr), (1, 0, 1, 0));
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

fn invalid(result: Result<Outcome, Failure<String>>) -> (Side, String) {
    match result {
        Err(Failure::Invalid { side, what, .. }) => (side, what),
        Err(Failure::Open(e)) => panic!("open failed: {e}"),
        Ok(outcome) => panic!("a bad report compared as {:?}", outcome.tally.finish()),
    }
}

#[test]
fn a_truncated_or_altered_file_is_never_complete() {
    let source = report("photos", TAKEN, SCHEMA, source_objects(), 100);
    let dr = report("photos-dr", TAKEN, SCHEMA, dr_objects(), 100);

    // Cut short: the gzip stream ends early.
    let mut cut = source.clone();
    let bytes = &cut.files[0].1;
    cut.files[0].1 = bytes[..bytes.len() / 2].to_vec();
    let (side, what) = invalid(run(&cut, &dr, 100));
    assert_eq!(side, Side::Source);
    assert!(what.contains("truncated"), "{what}");

    // Whole gzip members but fewer of them than the manifest counted: its size and MD5 catch it.
    let mut short = dr.clone();
    let mut two = gzip(b"\"photos-dr\",\"in+dr\",\"10\",\"2026-11-20T00:00:00.000Z\",\"REPLICA\"\n");
    two.extend(gzip(b"\"photos-dr\",\"x\",\"1\",\"2026-11-20T00:00:00.000Z\",\"REPLICA\"\n"));
    short.files[0].1 = two.clone();
    short.manifest = super::fixture::manifest("photos-dr", TAKEN, SCHEMA, &short.files);
    short.files[0].1 = two[..two.len() / 2 + 1].to_vec();
    assert!(run(&source, &short, 100).is_err());
    short.files[0].1 = gzip(b"\"photos-dr\",\"in+dr\",\"10\",\"2026-11-20T00:00:00.000Z\",\"REPLICA\"\n");
    let (side, what) = invalid(run(&source, &short, 100));
    assert_eq!(side, Side::Dr);
    assert!(what.contains("the manifest says"), "{what}");

    // Same size, other bytes.
    let mut altered = source.clone();
    let last = altered.files[0].1.len() - 5;
    altered.files[0].1[last] ^= 0xff;
    assert!(run(&altered, &dr, 100).is_err());

    // A row with a field too few.
    let mut ragged = source.clone();
    ragged.files = vec![(ragged.files[0].0.clone(), gzip(b"\"photos\",\"a\",\"1\",\"2026-11-20T00:00:00.000Z\"\n"))];
    ragged.manifest = super::fixture::manifest("photos", TAKEN, SCHEMA, &ragged.files);
    let (_, what) = invalid(run(&ragged, &dr, 100));
    assert!(what.contains("4 fields, the fileSchema names 5"), "{what}");
}

#[test]
fn a_manifest_must_name_the_fields_the_comparison_needs() {
    let without_status = report("photos", TAKEN, &["Bucket", "Key", "Size", "LastModifiedDate"], source_objects(), 10);
    let error =
        Manifest::parse(&without_status.manifest, true).expect_err("the source's report needs ReplicationStatus");
    assert!(error.contains("no ReplicationStatus field"), "{error}");
    assert!(Manifest::parse(&without_status.manifest, false).is_ok(), "DR's does not");
    let without_size =
        report("photos", TAKEN, &["Bucket", "Key", "LastModifiedDate", "ReplicationStatus"], source_objects(), 10);
    assert!(Manifest::parse(&without_size.manifest, false).expect_err("Size is needed").contains("no Size field"));
    let parquet = String::from_utf8_lossy(&without_status.manifest).replace("\"CSV\"", "\"Parquet\"");
    assert!(Manifest::parse(parquet.as_bytes(), false).expect_err("CSV only").contains("Parquet"));
    assert!(Manifest::parse(b"{\"sourceBucket\": \"photos\"", false).is_err());
    let manifest = parsed(&report("photos", TAKEN, SCHEMA, source_objects(), 10), true);
    assert_eq!((manifest.taken_at, manifest.source_bucket.as_str()), (TAKEN, "photos"));
}

#[test]
fn reports_too_old_or_too_far_apart_are_not_compared() {
    let now = TAKEN + 3 * HOUR;
    assert_eq!(super::staleness(now, TAKEN, TAKEN + HOUR), None);
    assert!(super::staleness(now + 48 * HOUR, TAKEN, TAKEN).unwrap().contains("stopped"));
    assert!(super::staleness(TAKEN + 40 * HOUR, TAKEN, TAKEN + 37 * HOUR).unwrap().contains("apart"));
}

#[test]
fn report_folders_are_the_timestamped_ones() {
    assert!(is_report_folder("2026-11-26T01-00Z"));
    assert_eq!(super::fixture::folder_name(0), "1970-01-01T00-00Z");
    for other in ["data", "hive", "2026-11-26T01-00", "2026-11-26T01:00Z"] {
        assert!(!is_report_folder(other), "{other}");
    }
}

#[test]
fn keys_are_url_decoded_for_the_report() {
    assert_eq!(super::compare::decoded_key(b"caf%C3%A9+1%2B1/x"), "caf\u{e9} 1+1/x");
}

#[test]
fn read_file_counts_rows() {
    let report = report("photos", TAKEN, SCHEMA, source_objects(), 100);
    let manifest = parsed(&report, true);
    let mut seen = 0;
    let rows = read_file(std::io::Cursor::new(&report.files[0].1), &manifest.files[0], &manifest.schema, |_| {
        seen += 1;
        Ok(())
    });
    assert_eq!((rows, seen), (Ok(6), 6));
}
