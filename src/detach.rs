//! Detach decisions: take out only s3-dr's rule, and mark the destination as no longer
//! replicated to. Nothing here deletes a bucket, an object or a version.

use aws_sdk_s3::types::{ReplicationConfiguration, ReplicationRule};
use serde::{Deserialize, Serialize};

use crate::replication::is_ours;
use crate::tags::Tag;

pub const STATUS_TAG: &str = "s3-dr:status";
pub const DETACHED: &str = "detached";
pub const DETACHED_AT_TAG: &str = "s3-dr:detached-at";

/// ValidateDetach's findings, which the other detach steps act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetachPlan {
    /// `detach` or `skip`.
    pub action: String,
    pub bucket: String,
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub has_rule: bool,
    /// The destination (from the rule, or by the naming rule) and its region, if it exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_region: Option<String>,
    pub changed: bool,
}

/// What removing the `s3-dr` rule means for a replication configuration.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleRemoval {
    /// There is no `s3-dr` rule: nothing to do.
    Absent,
    /// Ours was the only rule: delete the configuration (S3 refuses one with no rules).
    DeleteConfiguration,
    /// Put back the other rules, byte for byte, under the same role.
    Keep(ReplicationConfiguration),
}

impl RuleRemoval {
    /// `removed rule`, `deleted configuration` or `no s3-dr rule`, as the steps report it.
    pub fn result(&self) -> &'static str {
        match self {
            RuleRemoval::Absent => "no s3-dr rule",
            RuleRemoval::DeleteConfiguration => "deleted configuration",
            RuleRemoval::Keep(_) => "removed rule",
        }
    }

    /// Write it to `bucket` (nothing when the rule is absent).
    pub async fn apply(&self, s3: &aws_sdk_s3::Client, bucket: &str) -> Result<(), crate::error::DrError> {
        match self {
            RuleRemoval::Absent => Ok(()),
            RuleRemoval::DeleteConfiguration => crate::bucket::delete_replication(s3, bucket).await,
            RuleRemoval::Keep(configuration) => crate::bucket::put_replication(s3, bucket, configuration.clone()).await,
        }
    }
}

pub fn remove_our_rule(configuration: Option<&ReplicationConfiguration>) -> RuleRemoval {
    let Some(configuration) = configuration else { return RuleRemoval::Absent };
    if !configuration.rules().iter().any(is_ours) {
        return RuleRemoval::Absent;
    }
    let others: Vec<ReplicationRule> = configuration.rules().iter().filter(|r| !is_ours(r)).cloned().collect();
    if others.is_empty() {
        return RuleRemoval::DeleteConfiguration;
    }
    let mut kept = configuration.clone();
    kept.rules = others;
    RuleRemoval::Keep(kept)
}

/// The destination bucket the `s3-dr` rule replicates to (`arn:<partition>:s3:::<name>`).
pub fn destination_of_rule(configuration: Option<&ReplicationConfiguration>) -> Option<String> {
    let rule = configuration?.rules().iter().find(|r| is_ours(r))?;
    let arn = rule.destination()?.bucket();
    arn.split_once(":s3:::").map(|(_, name)| name.to_owned()).filter(|name| !name.is_empty())
}

/// The destination's tags once detached: its own tags plus `s3-dr:status=detached` and the
/// date, or None if it is marked already (the first date is kept).
pub fn detached_tags(current: &[Tag], today: &str) -> Option<Vec<Tag>> {
    if current.iter().any(|t| t.key == STATUS_TAG && t.value == DETACHED) {
        return None;
    }
    let mut tags: Vec<Tag> =
        current.iter().filter(|t| t.key != STATUS_TAG && t.key != DETACHED_AT_TAG).cloned().collect();
    tags.push(Tag::new(STATUS_TAG, DETACHED));
    tags.push(Tag::new(DETACHED_AT_TAG, today));
    Some(tags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replication::RULE_ID;
    use aws_sdk_s3::types::{Destination, ReplicationRuleStatus};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn rule(id: &str, bucket: &str) -> Result<ReplicationRule, aws_sdk_s3::error::BuildError> {
        ReplicationRule::builder()
            .id(id)
            .status(ReplicationRuleStatus::Enabled)
            .destination(Destination::builder().bucket(format!("arn:aws:s3:::{bucket}")).build()?)
            .build()
    }

    fn configuration(rules: Vec<ReplicationRule>) -> Result<ReplicationConfiguration, aws_sdk_s3::error::BuildError> {
        ReplicationConfiguration::builder().role("arn:aws:iam::123456789012:role/r").set_rules(Some(rules)).build()
    }

    #[test]
    fn only_our_rule_goes() -> Result<(), aws_sdk_s3::error::BuildError> {
        let theirs = rule("analytics", "lake")?;
        let both = configuration(vec![theirs.clone(), rule(RULE_ID, "photos-dr")?])?;
        let RuleRemoval::Keep(kept) = remove_our_rule(Some(&both)) else { panic!() };
        assert_eq!(kept.rules(), std::slice::from_ref(&theirs));
        assert_eq!(kept.role(), both.role());
        let ours_alone = configuration(vec![rule(RULE_ID, "photos-dr")?])?;
        assert_eq!(remove_our_rule(Some(&ours_alone)), RuleRemoval::DeleteConfiguration);
        assert_eq!(remove_our_rule(Some(&configuration(vec![theirs])?)), RuleRemoval::Absent);
        assert_eq!(remove_our_rule(None), RuleRemoval::Absent);
        assert_eq!(destination_of_rule(Some(&both)).as_deref(), Some("photos-dr"));
        Ok(())
    }

    #[test]
    fn the_destination_is_marked_once_and_keeps_its_tags() -> TestResult {
        let current = vec![Tag::new("s3-dr:source", "photos"), Tag::new("team", "media")];
        let marked = detached_tags(&current, "2026-11-26").ok_or("not marked")?;
        assert_eq!(
            marked,
            vec![
                Tag::new("s3-dr:source", "photos"),
                Tag::new("team", "media"),
                Tag::new(STATUS_TAG, DETACHED),
                Tag::new(DETACHED_AT_TAG, "2026-11-26"),
            ]
        );
        assert_eq!(detached_tags(&marked, "2026-12-01"), None);
        Ok(())
    }
}
