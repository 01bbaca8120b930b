//! The protection state of a bucket, read without changing anything: what `s3-dr status`
//! prints. It reads what the protect workflow would set and compares.

use serde::Serialize;

use crate::backfill::state::{self, BackfillTags, Heartbeat, Liveness, NotReplicable, Work};
use crate::backfill::unix_now;
use crate::bucket::{self, Presence};
use crate::clients::Clients;
use crate::config::Config;
use crate::error::DrError;
use crate::naming;
use crate::replication::{is_ours, rule_drift, ReplicaKey};
use crate::tags::Tag;
use crate::verify::Verified;
use aws_sdk_s3::types::ReplicationConfiguration;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BucketStatus {
    pub bucket: String,
    pub exists: bool,
    pub region: Option<String>,
    pub tagged: bool,
    pub versioning: Option<String>,
    pub destination: Option<DestinationStatus>,
    /// `missing`, `matching` or `drifted`.
    pub rule: &'static str,
    pub drift: Vec<String>,
    /// Tagged, versioned on both sides, and the rule matching.
    pub configured: bool,
    /// Configured, and the existing objects backfilled.
    pub protected: bool,
    /// Set when this bucket is itself an s3-dr destination (tag `s3-dr:source`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_of: Option<String>,
    /// The destination's backfill marker (`copy 2026-11-26`), or None if not backfilled (yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backfill: Option<String>,
    /// `done`, `running ...`, `batch job ...`, `stalled ...`, `not started`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backfill_state: Option<String>,
    /// Objects S3 cannot copy (archived, SSE-C), as the last backfill counted them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_replicable: Option<NotReplicable>,
    /// What the destination's tags say of the backfill (for the sweep).
    #[serde(skip)]
    pub liveness: Option<Liveness>,
    /// The execution that wrote the backfill's heartbeat, if there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backfill_writer: Option<String>,
    /// The last data verification (`s3-dr verify`, or the weekly one), as the destination
    /// records it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_verification: Option<Verified>,
    /// The destination's failover record (`s3-dr:failover`): DR is the primary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_over: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DestinationStatus {
    pub bucket: String,
    pub region: String,
    /// `present`, `absent` or `taken` (owned by another account).
    pub state: &'static str,
    pub versioning: Option<String>,
}

impl BucketStatus {
    fn unknown(name: &str) -> BucketStatus {
        BucketStatus {
            bucket: name.to_owned(),
            exists: false,
            region: None,
            tagged: false,
            versioning: None,
            destination: None,
            rule: "missing",
            drift: Vec::new(),
            configured: false,
            protected: false,
            destination_of: None,
            backfill: None,
            backfill_state: None,
            not_replicable: None,
            liveness: None,
            backfill_writer: None,
            last_verification: None,
            failed_over: None,
        }
    }

    /// Why a tagged bucket is not protected (empty when it is): the one account of it that
    /// `status`, its exit code and the sweep share.
    pub fn problems(&self) -> Vec<String> {
        let mut why = self.drift.clone();
        if self.versioning.as_deref() != Some("Enabled") {
            why.push(format!("versioning {}", self.versioning.as_deref().unwrap_or("unknown")));
        }
        if let Some(destination) = &self.destination {
            if destination.versioning.as_deref() != Some("Enabled") {
                why.push(match destination.state {
                    "present" => format!(
                        "destination {} versioning {}",
                        destination.bucket,
                        destination.versioning.as_deref().unwrap_or("unknown")
                    ),
                    state => format!("destination {} is {state}", destination.bucket),
                });
            }
        }
        if self.rule == "missing" {
            why.push("no s3-dr rule".to_owned());
        }
        match &self.liveness {
            Some(Liveness::Done | Liveness::Off) | None => {}
            Some(_) => why.push(format!("backfill {}", self.backfill_state.as_deref().unwrap_or("not done"))),
        }
        if let Some(record) = &self.failed_over {
            why.push(format!("failed over to DR ({record}): the way back is in docs/failover.md (failback)"));
        }
        if let Some(verified) = self.last_verification.as_ref().filter(|v| v.missing_in_dr > 0) {
            why.push(format!(
                "the last verification ({}) found {} objects missing in DR",
                crate::clock::date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(verified.at.max(0) as u64)),
                verified.missing_in_dr
            ));
        }
        why
    }

    /// "protected", or "protected, 3 objects not replicable (e.g. ...)".
    pub fn summary(&self) -> String {
        match self.protected {
            true => protected_summary(self.not_replicable.as_ref()),
            false => "not protected".to_owned(),
        }
    }
}

/// "protected", or "protected, 3 objects not replicable (e.g. ...)": what `status` and
/// VerifyProtection say of a protected bucket.
pub fn protected_summary(not_replicable: Option<&NotReplicable>) -> String {
    match not_replicable {
        Some(found) => format!("protected, {}", found.describe()),
        None => "protected".to_owned(),
    }
}

pub async fn inspect(clients: &Clients, config: &Config, name: &str) -> Result<BucketStatus, DrError> {
    let Some(region) = bucket::region(&clients.s3(&clients.home_region()), name).await? else {
        return Ok(BucketStatus::unknown(name));
    };
    let source = clients.s3(&region);
    let (tags, replication) = tokio::try_join!(bucket::tags(&source, name), bucket::replication(&source, name))?;
    let mut status = assess(clients, config, name, &region, &tags, replication.as_ref(), None).await?;
    // What an operator reads: a bucket whose last verification found objects missing in DR is
    // not protected. (The sweep assesses the setup only: a repair run cannot fix missing data,
    // the next verification tells.)
    if status.last_verification.as_ref().is_some_and(|v| v.missing_in_dr > 0) || status.failed_over.is_some() {
        status.protected = false;
    }
    Ok(status)
}

/// One line per bucket asked about that does not exist, and per tagged bucket that is not
/// protected: why (for the CLI's exit status).
pub fn problems(statuses: &[BucketStatus]) -> Vec<String> {
    statuses
        .iter()
        .filter_map(|s| match (s.exists, s.tagged && !s.protected) {
            (false, _) => Some(format!("{}: no such bucket (or not visible to these credentials)", s.bucket)),
            (true, true) => Some(format!("{}: tagged but not protected ({})", s.bucket, s.problems().join(", "))),
            (true, false) => None,
        })
        .collect()
}

/// The status of a bucket whose region, tags and replication are known already (the sweep
/// reads those first, for every bucket, and only the tagged ones further). The destination's
/// tags are read unless given (the sweep has them from its listing).
pub async fn assess(
    clients: &Clients,
    config: &Config,
    name: &str,
    region: &str,
    tags: &[Tag],
    replication: Option<&ReplicationConfiguration>,
    destination_tags: Option<&[Tag]>,
) -> Result<BucketStatus, DrError> {
    let mut status = BucketStatus {
        exists: true,
        region: Some(region.to_owned()),
        destination_of: crate::tags::destination_of(tags).map(str::to_owned),
        ..BucketStatus::unknown(name)
    };
    let source = clients.s3(region);
    let destination_name = naming::destination_bucket_name(name, &config.destination_suffix);
    let dr = clients.s3(&config.dr_region);
    let (versioning, presence) =
        tokio::try_join!(bucket::versioning(&source, name), bucket::presence(&dr, &destination_name, None))?;
    let (destination_versioning, destination_tags) = match (&presence, destination_tags) {
        (Presence::Present { .. }, Some(known)) => {
            (Some(bucket::versioning(&dr, &destination_name).await?), known.to_vec())
        }
        (Presence::Present { .. }, None) => {
            let (versioning, tags) =
                tokio::try_join!(bucket::versioning(&dr, &destination_name), bucket::tags(&dr, &destination_name))?;
            (Some(versioning), tags)
        }
        _ => (None, Vec::new()),
    };

    // Status does not resolve KMS aliases: any replica key counts.
    let spec = config.rule_spec(&destination_name, ReplicaKey::AnyKey);
    match replication.and_then(|c| c.rules().iter().find(|r| is_ours(r))) {
        None => status.rule = "missing",
        Some(rule) => {
            status.drift = rule_drift(rule, &spec);
            status.rule = if status.drift.is_empty() { "matching" } else { "drifted" };
        }
    }
    status.tagged = config.match_tag.matches(tags);
    status.configured = status.tagged
        && versioning == "Enabled"
        && destination_versioning.as_deref() == Some("Enabled")
        && status.rule == "matching";
    if destination_versioning.is_some() {
        let backfill = BackfillTags::read(&destination_tags);
        let liveness = state::liveness(&backfill, unix_now());
        status.backfill_state = Some(describe_liveness(&liveness, &backfill));
        status.backfill_writer = backfill.progress.as_ref().map(|h| h.writer.clone());
        status.backfill = backfill.marker;
        status.not_replicable = backfill.not_replicable;
        status.liveness = Some(liveness);
        status.last_verification = crate::verify::recorded(&destination_tags);
        status.failed_over = crate::failover::record(&destination_tags).map(str::to_owned);
    }
    status.protected = status.configured && matches!(status.liveness, Some(Liveness::Done | Liveness::Off));
    status.versioning = Some(versioning);
    status.destination = Some(DestinationStatus {
        bucket: destination_name,
        region: config.dr_region.clone(),
        state: match presence {
            Presence::Absent => "absent",
            Presence::Forbidden => "taken",
            Presence::Present { .. } | Presence::ElsewhereRegion => "present",
        },
        versioning: destination_versioning,
    });
    Ok(status)
}

fn describe_liveness(liveness: &Liveness, tags: &BackfillTags) -> String {
    let now = unix_now();
    let kind = if tags.marker.is_some() { "catch-up" } else { "backfill" };
    match (liveness, &tags.progress) {
        (Liveness::Done, _) => "done".to_owned(),
        (Liveness::Off, _) => "off: the existing objects were not copied".to_owned(),
        (Liveness::Running, Some(Heartbeat { at, work: Work::Copy { after }, .. })) => {
            format!("{kind} running (copy, after {after:?}, heartbeat {} s ago)", now - at)
        }
        (Liveness::JobToCheck(job), _) => format!("{kind}: batch job {job}"),
        (Liveness::CatchUpOwed { since }, _) => {
            format!("catch-up owed (a repair {} min ago left objects written meanwhile to copy)", (now - since) / 60)
        }
        (Liveness::Stalled { since }, _) => format!("{kind} stalled (no heartbeat for {} min)", (now - since) / 60),
        _ => "not started".to_owned(),
    }
}
