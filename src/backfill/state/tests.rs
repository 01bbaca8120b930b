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
    let found = NotReplicable { count: 12, example: Some("photos/ü ?#.tar: archived (GLACIER), not restored".into()) };
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
        assert_eq!(decide(strategy, false, &done, None, None), Start::AlreadyDone { marker: "copy 2026-11-26".into() });
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
    let dead = tags(Some("copy 2026-11-26"), heartbeat(NOW - 2 * STALLED_AFTER_SECONDS, "theirs", copy_at("k")), None);
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
    assert_eq!(liveness(&tags(None, heartbeat(old, "o", copy_at("k")), None), NOW), Liveness::Stalled { since: old });
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
    let beating = with_heartbeat(&again, &Heartbeat { at: 5, writer: "o".into(), work: copy_at("x") }, Some(&found));
    assert_eq!(beating.iter().filter(|t| t.key == PROGRESS_TAG || t.key == NOT_REPLICABLE_TAG).count(), 2);
}
