//! The `s3-dr` replication rule: what it must look like, whether an existing one does, and how
//! to upsert it into a configuration that may hold other people's rules.

use aws_sdk_s3::types::{
    DeleteMarkerReplication, DeleteMarkerReplicationStatus, Destination, EncryptionConfiguration, Metrics,
    MetricsStatus, ReplicationConfiguration, ReplicationRule, ReplicationRuleFilter, ReplicationRuleStatus,
    ReplicationTime, ReplicationTimeStatus, ReplicationTimeValue, SourceSelectionCriteria, SseKmsEncryptedObjects,
    SseKmsEncryptedObjectsStatus, StorageClass,
};

use crate::error::DrError;

/// The id of the one rule s3-dr owns on a source bucket. Every other rule is someone else's.
pub const RULE_ID: &str = "s3-dr";
/// Replication Time Control's only threshold (and the metrics' event threshold).
const RTC_MINUTES: i32 = 15;

/// What the replica key of the rule must be. Every rule selects SSE-KMS objects and names a
/// replica key, whatever the bucket's default encryption: an object uploaded with its own
/// SSE-KMS header into an SSE-S3 bucket is otherwise skipped by replication ("By default,
/// Amazon S3 doesn't replicate objects that are stored at rest by using server-side encryption
/// with ... AWS KMS keys", https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicaKey {
    /// Re-encrypt SSE-KMS (and DSSE-KMS) objects with this DR-region key ARN.
    Key(String),
    /// Key not resolved (read-only status checks, which do not resolve aliases): any key.
    AnyKey,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    pub destination_bucket: String,
    pub storage_class: String,
    pub replica_key: ReplicaKey,
    pub replication_time_control: bool,
}

impl RuleSpec {
    pub fn destination_arn(&self) -> String {
        bucket_arn(&self.destination_bucket)
    }
}

pub fn bucket_arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

/// Ways `rule` differs from `spec`; empty when it matches.
pub fn rule_drift(rule: &ReplicationRule, spec: &RuleSpec) -> Vec<String> {
    drift(rule, spec).into_iter().map(|d| d.why).collect()
}

/// One way a rule differs from what s3-dr wants.
struct Drift {
    why: String,
    /// Objects written while the rule was like this may be missing from the destination (not
    /// merely copied differently).
    leaves_objects_behind: bool,
}

fn drift(rule: &ReplicationRule, spec: &RuleSpec) -> Vec<Drift> {
    let mut found = Vec::new();
    let mut push = |why: String, leaves_objects_behind: bool| found.push(Drift { why, leaves_objects_behind });
    if rule.status() != &ReplicationRuleStatus::Enabled {
        push(format!("rule status is {}", rule.status().as_str()), true);
    }
    if !covers_whole_bucket(rule) {
        push("rule is filtered to part of the bucket".to_owned(), true);
    }
    let delete_markers = rule.delete_marker_replication().and_then(|d| d.status());
    if delete_markers != Some(&DeleteMarkerReplicationStatus::Enabled) {
        push("delete marker replication is not enabled".to_owned(), false);
    }
    let Some(destination) = rule.destination() else {
        push("rule has no destination".to_owned(), true);
        return found;
    };
    if destination.bucket() != spec.destination_arn() {
        push(
            format!(
                "destination is {} instead of {} (objects went to another bucket)",
                destination.bucket(),
                spec.destination_arn()
            ),
            true,
        );
    }
    let storage_class = destination.storage_class().map_or("STANDARD", StorageClass::as_str);
    if storage_class != spec.storage_class {
        push(format!("storage class is {storage_class} instead of {}", spec.storage_class), false);
    }
    let replica_key = destination.encryption_configuration().and_then(|e| e.replica_kms_key_id());
    let kms_objects = rule
        .source_selection_criteria()
        .and_then(|c| c.sse_kms_encrypted_objects())
        .map(|o| o.status() == &SseKmsEncryptedObjectsStatus::Enabled)
        .unwrap_or(false);
    match (&spec.replica_key, replica_key) {
        (ReplicaKey::Key(want), got) if got != Some(want.as_str()) => {
            push(format!("replica KMS key is {} instead of {want}", got.unwrap_or("unset")), false)
        }
        (ReplicaKey::AnyKey, None) => push("replica KMS key is unset".to_owned(), false),
        _ => {}
    }
    if !kms_objects {
        push("SSE-KMS encrypted objects are not selected for replication".to_owned(), true);
    }
    let rtc_on = destination.replication_time().map(|t| t.status() == &ReplicationTimeStatus::Enabled).unwrap_or(false);
    let metrics_on = destination.metrics().map(|m| m.status() == &MetricsStatus::Enabled).unwrap_or(false);
    if spec.replication_time_control && !(rtc_on && metrics_on) {
        push("Replication Time Control or its metrics are not enabled".to_owned(), false);
    }
    if !spec.replication_time_control && rtc_on {
        push("Replication Time Control is enabled but not configured".to_owned(), false);
    }
    found
}

/// Is this the rule s3-dr owns (by its fixed id)?
pub fn is_ours(rule: &ReplicationRule) -> bool {
    rule.id() == Some(RULE_ID)
}

/// The destination bucket the `s3-dr` rule of a replication configuration names, if it has one.
pub fn our_destination(configuration: Option<&ReplicationConfiguration>) -> Option<String> {
    configuration?
        .rules()
        .iter()
        .find(|r| is_ours(r))?
        .destination()
        .map(|d| d.bucket().trim_start_matches("arn:aws:s3:::").to_owned())
}

/// Why objects written while `rule` was in force may be missing from the destination, if they
/// may: no rule, a disabled or filtered rule, another destination, or SSE-KMS objects not
/// selected. A run that repairs one of these backfills what was written meanwhile; other drift
/// (storage class, replica key, Replication Time Control) changes how objects were copied, not
/// whether.
pub fn replication_gap(rule: Option<&ReplicationRule>, spec: &RuleSpec) -> Option<String> {
    let Some(rule) = rule else { return Some(format!("replication rule {RULE_ID} was missing")) };
    let gaps: Vec<String> = drift(rule, spec).into_iter().filter(|d| d.leaves_objects_behind).map(|d| d.why).collect();
    (!gaps.is_empty()).then(|| gaps.join("; "))
}

/// V2 rules select with `Filter`; an empty filter (or an empty prefix) is the whole bucket.
fn covers_whole_bucket(rule: &ReplicationRule) -> bool {
    #[allow(deprecated)] // the V1 rule-level prefix still appears in old configurations
    let rule_prefix_empty = rule.prefix().is_none_or(str::is_empty);
    let filter_empty =
        rule.filter().is_none_or(|f| f.prefix().is_none_or(str::is_empty) && f.tag().is_none() && f.and().is_none());
    rule_prefix_empty && filter_empty
}

/// A V1 rule (rule-level `Prefix`, no `Filter`); S3 refuses to mix V1 and V2 rules.
fn is_v1_rule(rule: &ReplicationRule) -> bool {
    #[allow(deprecated)]
    let has_prefix = rule.prefix().is_some();
    has_prefix && rule.filter().is_none()
}

/// The rule s3-dr wants, with `priority`.
pub fn desired_rule(spec: &RuleSpec, priority: i32) -> Result<ReplicationRule, DrError> {
    let ReplicaKey::Key(key) = &spec.replica_key else {
        return Err(internal("the DR key was not resolved to an ARN"));
    };
    let mut destination = Destination::builder()
        .bucket(spec.destination_arn())
        .storage_class(StorageClass::from(spec.storage_class.as_str()))
        .encryption_configuration(EncryptionConfiguration::builder().replica_kms_key_id(key).build());
    if spec.replication_time_control {
        destination = destination
            .replication_time(
                ReplicationTime::builder()
                    .status(ReplicationTimeStatus::Enabled)
                    .time(ReplicationTimeValue::builder().minutes(RTC_MINUTES).build())
                    .build()
                    .map_err(internal)?,
            )
            .metrics(
                Metrics::builder()
                    .status(MetricsStatus::Enabled)
                    .event_threshold(ReplicationTimeValue::builder().minutes(RTC_MINUTES).build())
                    .build()
                    .map_err(internal)?,
            );
    }
    ReplicationRule::builder()
        .id(RULE_ID)
        .priority(priority)
        .status(ReplicationRuleStatus::Enabled)
        .filter(ReplicationRuleFilter::builder().build())
        .delete_marker_replication(
            DeleteMarkerReplication::builder().status(DeleteMarkerReplicationStatus::Enabled).build(),
        )
        .destination(destination.build().map_err(internal)?)
        .source_selection_criteria(
            SourceSelectionCriteria::builder()
                .sse_kms_encrypted_objects(
                    SseKmsEncryptedObjects::builder()
                        .status(SseKmsEncryptedObjectsStatus::Enabled)
                        .build()
                        .map_err(internal)?,
                )
                .build(),
        )
        .build()
        .map_err(internal)
}

#[derive(Debug, Clone, PartialEq)]
pub enum Merge {
    /// The configuration already holds a matching `s3-dr` rule and our role: write nothing.
    Unchanged,
    /// Write this configuration; `reasons` say why.
    Write { configuration: ReplicationConfiguration, reasons: Vec<String> },
}

/// Upsert the `s3-dr` rule into `existing` (None = no configuration), keeping every other
/// rule exactly as it is. Refuses what would break someone else's replication: a different
/// role (one role serves every rule of a bucket) or V1 rules (S3 will not mix schemas).
pub fn merge(
    bucket: &str,
    existing: Option<&ReplicationConfiguration>,
    role: &str,
    spec: &RuleSpec,
) -> Result<Merge, DrError> {
    let rules = existing.map(|c| c.rules()).unwrap_or_default();
    let ours = rules.iter().find(|r| is_ours(r));
    let foreign: Vec<&ReplicationRule> = rules.iter().filter(|r| !is_ours(r)).collect();
    let current_role = existing.map(|c| c.role());
    let conflict = |detail: String| DrError::ReplicationConflict { bucket: bucket.to_owned(), detail };

    if !foreign.is_empty() {
        let ids: Vec<&str> = foreign.iter().map(|r| r.id().unwrap_or("(no id)")).collect();
        if let Some(current) = current_role.filter(|r| *r != role) {
            return Err(conflict(format!(
                "its rules {ids:?} replicate with role {current}, and one role serves every rule of a bucket; s3-dr is configured with {role}. Either set S3DR_REPLICATION_ROLE_ARN={current} and let that role write to the DR bucket, or move those rules to {role}"
            )));
        }
        if foreign.iter().any(|r| is_v1_rule(r)) {
            return Err(conflict(format!(
                "its rules {ids:?} use the V1 schema (rule-level Prefix), and S3 does not allow V1 and V2 rules together. Rewrite them with a Filter"
            )));
        }
    }

    let mut reasons = Vec::new();
    match ours {
        None => reasons.push(format!("add rule {RULE_ID}")),
        Some(rule) => reasons.extend(rule_drift(rule, spec)),
    }
    if current_role.is_some_and(|r| r != role) {
        reasons.push(format!("role is {} instead of {role}", current_role.unwrap_or_default()));
    }
    if reasons.is_empty() {
        return Ok(Merge::Unchanged);
    }

    // Keep our priority if we have one; otherwise take one above every other rule's, since
    // S3 requires priorities to be unique within a configuration.
    let priority = ours
        .and_then(ReplicationRule::priority)
        .unwrap_or_else(|| foreign.iter().filter_map(|r| r.priority()).max().map_or(1, |p| p + 1));
    let desired = desired_rule(spec, priority)?;
    let mut new_rules: Vec<ReplicationRule> =
        rules.iter().map(|r| if is_ours(r) { desired.clone() } else { r.clone() }).collect();
    if ours.is_none() {
        new_rules.push(desired);
    }
    let configuration =
        ReplicationConfiguration::builder().role(role).set_rules(Some(new_rules)).build().map_err(internal)?;
    Ok(Merge::Write { configuration, reasons })
}

fn internal(error: impl std::fmt::Display) -> DrError {
    DrError::Internal(format!("building a replication rule: {error}"))
}

#[cfg(test)]
mod tests;
