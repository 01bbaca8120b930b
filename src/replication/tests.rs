use super::*;

const ROLE: &str = "arn:aws:iam::123456789012:role/s3-dr-replication";

/// Tests return errors (a builder's, or the merge's) instead of unwrapping them.
type TestResult = Result<(), Box<dyn std::error::Error>>;

const DR_KEY: &str = "arn:aws:kms:us-east-2:123456789012:key/dr";

fn spec() -> RuleSpec {
    RuleSpec {
        destination_bucket: "photos-dr".into(),
        storage_class: "STANDARD".into(),
        replica_key: ReplicaKey::Key(DR_KEY.into()),
        replication_time_control: false,
    }
}

fn foreign_rule(id: &str, priority: i32) -> Result<ReplicationRule, aws_sdk_s3::error::BuildError> {
    ReplicationRule::builder()
        .id(id)
        .priority(priority)
        .status(ReplicationRuleStatus::Enabled)
        .filter(ReplicationRuleFilter::builder().prefix("logs/").build())
        .delete_marker_replication(
            DeleteMarkerReplication::builder().status(DeleteMarkerReplicationStatus::Disabled).build(),
        )
        .destination(Destination::builder().bucket("arn:aws:s3:::analytics").build()?)
        .build()
}

fn config(role: &str, rules: Vec<ReplicationRule>) -> Result<ReplicationConfiguration, aws_sdk_s3::error::BuildError> {
    ReplicationConfiguration::builder().role(role).set_rules(Some(rules)).build()
}

fn written(merge: Merge) -> ReplicationConfiguration {
    match merge {
        Merge::Write { configuration, .. } => configuration,
        Merge::Unchanged => panic!("expected a write"),
    }
}

#[test]
fn empty_bucket_gets_one_whole_bucket_rule() -> TestResult {
    let c = written(merge("photos", None, ROLE, &spec())?);
    assert_eq!(c.role(), ROLE);
    let [rule] = c.rules() else { panic!("{c:?}") };
    assert_eq!(rule.id(), Some(RULE_ID));
    assert_eq!(rule.priority(), Some(1));
    assert!(rule_drift(rule, &spec()).is_empty());
    assert_eq!(rule.destination().map(Destination::bucket), Some("arn:aws:s3:::photos-dr"));
    assert!(rule.filter().is_some(), "V2 schema needs a Filter element");
    Ok(())
}

#[test]
fn a_matching_rule_is_left_alone() -> TestResult {
    let existing = written(merge("photos", None, ROLE, &spec())?);
    assert_eq!(merge("photos", Some(&existing), ROLE, &spec())?, Merge::Unchanged);
    Ok(())
}

#[test]
fn foreign_rules_are_kept_in_place_and_our_priority_is_unique() -> TestResult {
    let existing = config(ROLE, vec![foreign_rule("analytics", 5)?, foreign_rule("audit", 7)?])?;
    let c = written(merge("photos", Some(&existing), ROLE, &spec())?);
    let ids: Vec<_> = c.rules().iter().map(ReplicationRule::id).collect();
    assert_eq!(ids, [Some("analytics"), Some("audit"), Some(RULE_ID)]);
    assert_eq!(c.rules()[0], existing.rules()[0]);
    assert_eq!(c.rules()[1], existing.rules()[1]);
    assert_eq!(c.rules()[2].priority(), Some(8));
    Ok(())
}

#[test]
fn a_drifted_rule_is_replaced_keeping_its_priority() -> TestResult {
    let mut changed = spec();
    changed.destination_bucket = "elsewhere".into();
    let drifted = desired_rule(&changed, 3)?;
    let existing = config(ROLE, vec![foreign_rule("analytics", 5)?, drifted])?;
    let Merge::Write { configuration, reasons } = merge("photos", Some(&existing), ROLE, &spec())? else { panic!() };
    assert!(reasons[0].contains("destination is arn:aws:s3:::elsewhere"), "{reasons:?}");
    assert_eq!(configuration.rules().len(), 2);
    assert_eq!(configuration.rules()[1].priority(), Some(3));
    assert!(rule_drift(&configuration.rules()[1], &spec()).is_empty());
    Ok(())
}

#[test]
fn a_foreign_role_is_a_conflict_not_an_overwrite() -> TestResult {
    let existing = config("arn:aws:iam::123456789012:role/theirs", vec![foreign_rule("analytics", 1)?])?;
    let error = merge("photos", Some(&existing), ROLE, &spec()).unwrap_err();
    assert_eq!(error.error_type(), "ReplicationConflict");
    assert!(error.to_string().contains("S3DR_REPLICATION_ROLE_ARN=arn:aws:iam::123456789012:role/theirs"));
    Ok(())
}

#[test]
fn our_own_rule_alone_may_change_role() -> TestResult {
    let existing = config("arn:aws:iam::123456789012:role/old", vec![desired_rule(&spec(), 1)?])?;
    let c = written(merge("photos", Some(&existing), ROLE, &spec())?);
    assert_eq!(c.role(), ROLE);
    Ok(())
}

#[test]
fn v1_foreign_rules_are_a_conflict() -> TestResult {
    #[allow(deprecated)]
    let v1 = ReplicationRule::builder()
        .id("legacy")
        .prefix("")
        .status(ReplicationRuleStatus::Enabled)
        .destination(Destination::builder().bucket("arn:aws:s3:::old").build()?)
        .build()?;
    let error = merge("photos", Some(&config(ROLE, vec![v1])?), ROLE, &spec()).unwrap_err();
    assert!(error.to_string().contains("V1 schema"));
    Ok(())
}

#[test]
fn every_rule_replicates_sse_kms_objects_with_the_dr_key() -> TestResult {
    // Also for a bucket whose default encryption is SSE-S3: an object uploaded with its own
    // SSE-KMS header is replicated only if the rule selects SSE-KMS objects.
    let rule = desired_rule(&spec(), 1)?;
    let destination = rule.destination().ok_or("the rule has no destination")?;
    assert_eq!(destination.encryption_configuration().and_then(|e| e.replica_kms_key_id()), Some(DR_KEY));
    let selected = rule.source_selection_criteria().and_then(|c| c.sse_kms_encrypted_objects()).map(|o| o.status());
    assert_eq!(selected, Some(&SseKmsEncryptedObjectsStatus::Enabled));
    // A rule without them (what s3-dr wrote for SSE-S3 buckets before) is drift, and a gap.
    let mut without = rule.clone();
    without.source_selection_criteria = None;
    assert!(rule_drift(&without, &spec()).iter().any(|d| d.contains("SSE-KMS")), "{:?}", rule_drift(&without, &spec()));
    assert!(replication_gap(Some(&without), &spec()).is_some());
    // Without a resolved key there is no rule to write.
    assert!(desired_rule(&RuleSpec { replica_key: ReplicaKey::AnyKey, ..spec() }, 1).is_err());
    Ok(())
}

#[test]
fn rtc_and_the_replica_key_are_part_of_the_rule() -> TestResult {
    let rtc = RuleSpec { replication_time_control: true, ..spec() };
    let rule = desired_rule(&rtc, 1)?;
    assert!(rule_drift(&rule, &rtc).is_empty());
    let destination = rule.destination().ok_or("the rule has no destination")?;
    assert_eq!(destination.replication_time().and_then(|t| t.time()).and_then(|t| t.minutes()), Some(15));
    assert_eq!(destination.metrics().map(|m| m.status()), Some(&MetricsStatus::Enabled));
    assert!(!rule_drift(&desired_rule(&spec(), 1)?, &rtc).is_empty());
    assert!(!rule_drift(&rule, &spec()).is_empty());
    let other_key =
        RuleSpec { replica_key: ReplicaKey::Key("arn:aws:kms:us-east-2:1:key/other".into()), ..rtc.clone() };
    assert!(!rule_drift(&rule, &other_key).is_empty());
    assert!(rule_drift(&rule, &RuleSpec { replica_key: ReplicaKey::AnyKey, ..rtc.clone() }).is_empty());
    // How objects are copied changed, not whether: no gap to backfill.
    assert_eq!(replication_gap(Some(&rule), &other_key), None);
    Ok(())
}

#[test]
fn gaps_are_what_left_objects_unreplicated() -> TestResult {
    assert!(replication_gap(None, &spec()).is_some_and(|why| why.contains("missing")));
    let mut disabled = desired_rule(&spec(), 1)?;
    disabled.status = ReplicationRuleStatus::Disabled;
    assert!(replication_gap(Some(&disabled), &spec()).is_some_and(|why| why.contains("status")));
    let mut filtered = desired_rule(&spec(), 1)?;
    filtered.filter = Some(ReplicationRuleFilter::builder().prefix("only/").build());
    assert!(replication_gap(Some(&filtered), &spec()).is_some());
    let elsewhere = desired_rule(&RuleSpec { destination_bucket: "other-dr".into(), ..spec() }, 1)?;
    assert!(replication_gap(Some(&elsewhere), &spec()).is_some_and(|why| why.contains("another bucket")));
    let standard_ia = desired_rule(&RuleSpec { storage_class: "STANDARD_IA".into(), ..spec() }, 1)?;
    assert_eq!(replication_gap(Some(&standard_ia), &spec()), None);
    Ok(())
}

#[test]
fn prefix_filtered_or_disabled_rules_are_drift() -> TestResult {
    let mut rule = desired_rule(&spec(), 1)?;
    rule.filter = Some(ReplicationRuleFilter::builder().prefix("only/").build());
    rule.status = ReplicationRuleStatus::Disabled;
    let drift = rule_drift(&rule, &spec());
    assert_eq!(drift.len(), 2, "{drift:?}");
    let mut empty_prefix = desired_rule(&spec(), 1)?;
    empty_prefix.filter = Some(ReplicationRuleFilter::builder().prefix("").build());
    assert!(rule_drift(&empty_prefix, &spec()).is_empty(), "an empty prefix is the whole bucket");
    Ok(())
}
