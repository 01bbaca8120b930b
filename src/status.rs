//! The protection state of a bucket, read without changing anything: what `s3-dr status`
//! prints. It reads what the protect workflow would set and compares.

use serde::Serialize;

use crate::bucket::{self, DefaultEncryption, Presence};
use crate::clients::Clients;
use crate::config::Config;
use crate::error::DrError;
use crate::naming;
use crate::replication::{rule_drift, ReplicaKey, RULE_ID};
use crate::tags::Tag;
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
    pub protected: bool,
    /// Set when this bucket is itself an s3-dr destination (tag `s3-dr:source`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_of: Option<String>,
    /// The destination's backfill marker (`copy 2026-11-26`), or None if not backfilled (yet).
    /// Read by `inspect` only; the sweep does not need it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backfill: Option<String>,
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
            protected: false,
            destination_of: None,
            backfill: None,
        }
    }
}

pub async fn inspect(clients: &Clients, config: &Config, name: &str) -> Result<BucketStatus, DrError> {
    let Some(region) = bucket::region(&clients.s3(&clients.home_region()), name).await? else {
        return Ok(BucketStatus::unknown(name));
    };
    let source = clients.s3(&region);
    let (tags, replication) = tokio::try_join!(bucket::tags(&source, name), bucket::replication(&source, name))?;
    let mut status = assess(clients, config, name, &region, &tags, replication.as_ref()).await?;
    if let Some(destination) = status.destination.as_ref().filter(|d| d.state == "present") {
        let destination_tags = bucket::tags(&clients.s3(&destination.region), &destination.bucket).await?;
        status.backfill =
            destination_tags.into_iter().find(|t| t.key == crate::settings::BACKFILL_TAG).map(|t| t.value);
    }
    Ok(status)
}

/// One line per tagged bucket that is not protected: why (for the CLI's exit status).
pub fn problems(statuses: &[BucketStatus]) -> Vec<String> {
    statuses
        .iter()
        .filter(|s| s.tagged && !s.protected)
        .map(|s| {
            let mut why = s.drift.clone();
            if s.versioning.as_deref() != Some("Enabled") {
                why.push(format!("versioning {}", s.versioning.as_deref().unwrap_or("unknown")));
            }
            if let Some(destination) = &s.destination {
                if destination.versioning.as_deref() != Some("Enabled") {
                    why.push(format!("destination {} is {}", destination.bucket, destination.state));
                }
            }
            if s.rule == "missing" {
                why.push("no s3-dr rule".to_owned());
            }
            format!("{}: tagged but not protected ({})", s.bucket, why.join(", "))
        })
        .collect()
}

/// The status of a bucket whose region, tags and replication are known already (the sweep
/// reads those first, for every bucket, and only the tagged ones further).
pub async fn assess(
    clients: &Clients,
    config: &Config,
    name: &str,
    region: &str,
    tags: &[Tag],
    replication: Option<&ReplicationConfiguration>,
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
    let (versioning, encryption, presence) = tokio::try_join!(
        bucket::versioning(&source, name),
        bucket::default_encryption(&source, name),
        bucket::presence(&dr, &destination_name, None),
    )?;
    let destination_versioning = match presence {
        Presence::Present { .. } => Some(bucket::versioning(&dr, &destination_name).await?),
        _ => None,
    };

    // Status does not resolve KMS aliases: any replica key counts for an SSE-KMS source.
    let replica_key =
        if encryption.as_ref().is_some_and(DefaultEncryption::is_kms) { ReplicaKey::AnyKey } else { ReplicaKey::None };
    let spec = config.rule_spec(&destination_name, replica_key);
    match replication.and_then(|c| c.rules().iter().find(|r| r.id() == Some(RULE_ID))) {
        None => status.rule = "missing",
        Some(rule) => {
            status.drift = rule_drift(rule, &spec);
            status.rule = if status.drift.is_empty() { "matching" } else { "drifted" };
        }
    }
    status.tagged = config.match_tag.matches(tags);
    status.protected = status.tagged
        && versioning == "Enabled"
        && destination_versioning.as_deref() == Some("Enabled")
        && status.rule == "matching";
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
