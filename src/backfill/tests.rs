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
    assert_eq!((Scope::Full.token_part(), Scope::CatchUp.token_part()), ("Full", "CatchUp"));
    let token = job_request_token("photos", "rule-a");
    assert_eq!(token, job_request_token("photos", "rule-a"));
    assert_ne!(token, job_request_token("photos", "rule-b"));
    assert_ne!(token, job_request_token("videos", "rule-a"));
    assert_eq!(token.len(), 64);
}

#[test]
fn the_history_budget_bounds_the_turns_of_one_execution() {
    assert_eq!(turns_per_execution(20_000), (20_000 - BASE_HISTORY_EVENTS) / EVENTS_PER_TURN);
    // Even the worst turn of a full budget stays under Step Functions' 25,000 events.
    assert!(BASE_HISTORY_EVENTS + turns_per_execution(25_000) * EVENTS_PER_TURN <= 25_000);
    assert_eq!(turns_per_execution(MIN_HISTORY_EVENT_BUDGET), 1);
    assert_eq!(turns_per_execution(0), 1);
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
