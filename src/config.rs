//! Configuration, read once from the environment (the Lambda's, or the operator's shell).
//! Endpoints are not configured here: the SDK reads the standard `AWS_ENDPOINT_URL`, so the same
//! binary talks to AWS or to the local stack.

use crate::backfill::{Strategy, MIN_PART_SIZE};
use crate::error::DrError;
use crate::naming;
use crate::replication::{ReplicaKey, RuleSpec};
use crate::tags::MatchTag;

pub const DEFAULT_DR_REGION: &str = "us-east-2";
pub const DEFAULT_SUFFIX: &str = "-dr";
pub const DEFAULT_MATCH_TAG: &str = "dr=true";
pub const DEFAULT_STORAGE_CLASS: &str = "STANDARD";
pub const DEFAULT_BATCH_REPORT_PREFIX: &str = "s3-dr/batch-reports";
/// CopyObject's own limit: larger objects must be copied in parts.
pub const DEFAULT_MULTIPART_THRESHOLD: u64 = 5 * 1024 * 1024 * 1024;
pub const DEFAULT_COPY_PAGE_SIZE: i32 = 1000;
pub const DEFAULT_COPY_CONCURRENCY: usize = 16;
/// Copy shards at most: each holds a Lambda slot while it copies.
pub const MAX_COPY_SHARDS: u32 = 16;
/// A page of the copy backfill stops taking objects once it holds this many bytes, so that one
/// invocation stays well inside Lambda's 15 minutes whatever the object sizes.
pub const DEFAULT_COPY_PAGE_BYTES: u64 = 50 * 1024 * 1024 * 1024;
/// The customer-managed key the deployment creates in the DR region (cdk/: `DrKeyStack`). S3
/// replication re-encrypts SSE-KMS objects only with a customer-managed key (API reference,
/// `EncryptionConfiguration.ReplicaKmsKeyID`: "the customer managed AWS KMS key ... for the
/// destination bucket"), and any bucket may hold SSE-KMS objects, so there is always one.
pub const DEFAULT_DR_KMS_KEY: &str = "alias/s3-dr";
/// Step Functions ends a Standard execution at 25,000 history events
/// (https://docs.aws.amazon.com/step-functions/latest/dg/bp-history-limit.html); the backfill
/// hands over to a new execution before its estimate reaches this budget.
pub const DEFAULT_HISTORY_EVENT_BUDGET: u32 = 20_000;

/// Storage classes a replication destination accepts.
const REPLICA_STORAGE_CLASSES: &[&str] = &[
    "STANDARD",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "GLACIER_IR",
    "DEEP_ARCHIVE",
    "REDUCED_REDUNDANCY",
];

mod settings;
pub use settings::SETTINGS;

/// The workflows the Lambda itself starts (the sweep, and an event that calls for a detach).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workflow {
    Protect,
    Detach,
    Verify,
}

impl Workflow {
    pub fn name(self) -> &'static str {
        match self {
            Workflow::Protect => "protect",
            Workflow::Detach => "detach",
            Workflow::Verify => "verify",
        }
    }
}

/// How the destination's public access block is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicAccess {
    /// All four settings on, whatever the source has.
    BlockAll,
    /// The source's settings (an explicit choice for buckets that serve public content).
    SameAsSource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub dr_region: String,
    pub destination_suffix: String,
    pub match_tag: MatchTag,
    pub replication_role_arn: Option<String>,
    pub storage_class: String,
    pub dr_kms_key: String,
    pub replication_time_control: bool,
    pub public_access: PublicAccess,
    pub backfill: Strategy,
    pub batch_role_arn: Option<String>,
    pub batch_report_bucket: Option<String>,
    pub batch_report_prefix: String,
    pub copy_multipart_threshold: u64,
    pub copy_page_size: i32,
    pub copy_concurrency: usize,
    pub copy_page_bytes: u64,
    pub history_event_budget: u32,
    pub step_role_arn: Option<String>,
    pub protect_state_machine_arn: Option<String>,
    pub detach_state_machine_arn: Option<String>,
    pub verify_state_machine_arn: Option<String>,
    pub verify_threshold_seconds: u64,
    pub verify_max_objects: u64,
    /// DR inventory rows held in memory at once by the inventory comparison.
    pub verify_inventory_rows: u64,
    pub sweep_concurrency: usize,
    pub sweep_start_rate: u32,
    /// Shards of the sweep, run at once (buckets are dealt by a hash of their name).
    pub sweep_shards: u32,
    /// Key ranges a large bucket's copy backfill is split into (1: one Lambda copies).
    pub copy_shards: u32,
    /// The step Lambda's reserved concurrency, if it has one (0: none, or not told).
    pub reserved_concurrency: u32,
    /// Buckets per ListBuckets page the sweep reads.
    pub sweep_page_size: i32,
    /// Seconds one sweep invocation starts new pages for before it hands the cursor over.
    pub sweep_invocation_seconds: u64,
}

impl Config {
    pub fn from_env() -> Result<Config, DrError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Build from any variable lookup; empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, DrError> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let invalid =
            |name: &str, value: &str, why: &str| DrError::InvalidConfig(format!("{name}={value:?} is invalid: {why}"));

        let dr_region = get("S3DR_DR_REGION").unwrap_or_else(|| DEFAULT_DR_REGION.to_owned());
        if !is_region_name(&dr_region) {
            return Err(invalid("S3DR_DR_REGION", &dr_region, "expected a region name such as us-east-2"));
        }

        let destination_suffix = get("S3DR_DESTINATION_SUFFIX").unwrap_or_else(|| DEFAULT_SUFFIX.to_owned());
        naming::check_suffix(&destination_suffix)
            .map_err(|why| invalid("S3DR_DESTINATION_SUFFIX", &destination_suffix, &why))?;

        let match_tag_text = get("S3DR_MATCH_TAG").unwrap_or_else(|| DEFAULT_MATCH_TAG.to_owned());
        let match_tag = MatchTag::parse(&match_tag_text)
            .ok_or_else(|| invalid("S3DR_MATCH_TAG", &match_tag_text, "expected KEY=VALUE with a non-empty key"))?;

        let replication_role_arn = get("S3DR_REPLICATION_ROLE_ARN");
        if let Some(arn) = &replication_role_arn {
            if !is_role_arn(arn) {
                return Err(invalid(
                    "S3DR_REPLICATION_ROLE_ARN",
                    arn,
                    "expected arn:aws:iam::<12-digit account>:role/<name>",
                ));
            }
        }

        let storage_class = get("S3DR_STORAGE_CLASS")
            .map(|v| v.to_ascii_uppercase())
            .unwrap_or_else(|| DEFAULT_STORAGE_CLASS.to_owned());
        if !REPLICA_STORAGE_CLASSES.contains(&storage_class.as_str()) {
            return Err(invalid(
                "S3DR_STORAGE_CLASS",
                &storage_class,
                &format!("expected one of {}", REPLICA_STORAGE_CLASSES.join(", ")),
            ));
        }

        let dr_kms_key = get("S3DR_DR_KMS_KEY").unwrap_or_else(|| DEFAULT_DR_KMS_KEY.to_owned());
        if dr_kms_key.starts_with("arn:") && dr_kms_key.split(':').nth(3) != Some(dr_region.as_str()) {
            return Err(invalid(
                "S3DR_DR_KMS_KEY",
                &dr_kms_key,
                &format!("the key ARN must be in the DR region {dr_region}"),
            ));
        }

        let replication_time_control = match get("S3DR_RTC").map(|v| v.to_ascii_lowercase()) {
            None => false,
            Some(v) if matches!(v.as_str(), "true" | "1" | "yes" | "on") => true,
            Some(v) if matches!(v.as_str(), "false" | "0" | "no" | "off") => false,
            Some(v) => return Err(invalid("S3DR_RTC", &v, "expected true or false")),
        };

        let public_access = match get("S3DR_PUBLIC_ACCESS").map(|v| v.to_ascii_lowercase()).as_deref() {
            None | Some("block-all") => PublicAccess::BlockAll,
            Some("same-as-source") => PublicAccess::SameAsSource,
            Some(other) => return Err(invalid("S3DR_PUBLIC_ACCESS", other, "expected block-all or same-as-source")),
        };

        let backfill = match get("S3DR_BACKFILL") {
            None => Strategy::Batch,
            Some(text) => Strategy::parse(&text).ok_or_else(|| invalid("S3DR_BACKFILL", &text, Strategy::EXPECTED))?,
        };

        let batch_role_arn = get("S3DR_BATCH_ROLE_ARN");
        if let Some(arn) = &batch_role_arn {
            if !is_role_arn(arn) {
                return Err(invalid(
                    "S3DR_BATCH_ROLE_ARN",
                    arn,
                    "expected arn:aws:iam::<12-digit account>:role/<name>",
                ));
            }
        }
        let batch_report_bucket = get("S3DR_BATCH_REPORT_BUCKET");
        if let Some(bucket) = &batch_report_bucket {
            let longest = bucket.replace("{region}", "ap-southeast-5").replace("{account}", "123456789012");
            if !naming::is_valid_bucket_name(&longest) {
                return Err(invalid(
                    "S3DR_BATCH_REPORT_BUCKET",
                    bucket,
                    "expected a bucket name (may contain {region} and {account}) that stays valid with them filled in",
                ));
            }
        }
        let batch_report_prefix = get("S3DR_BATCH_REPORT_PREFIX")
            .map(|p| p.trim_matches('/').to_owned())
            .unwrap_or_else(|| DEFAULT_BATCH_REPORT_PREFIX.to_owned());

        let number = |name: &str, default: u64, min: u64, max: u64| -> Result<u64, DrError> {
            match get(name) {
                None => Ok(default),
                Some(text) => text
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (min..=max).contains(n))
                    .ok_or_else(|| invalid(name, &text, &format!("expected a whole number from {min} to {max}"))),
            }
        };
        let copy_multipart_threshold = number(
            "S3DR_COPY_MULTIPART_THRESHOLD",
            DEFAULT_MULTIPART_THRESHOLD,
            MIN_PART_SIZE,
            DEFAULT_MULTIPART_THRESHOLD,
        )?;
        let copy_page_size = number("S3DR_COPY_PAGE_SIZE", DEFAULT_COPY_PAGE_SIZE as u64, 1, 1000)? as i32;
        let copy_concurrency = number("S3DR_COPY_CONCURRENCY", DEFAULT_COPY_CONCURRENCY as u64, 1, 64)? as usize;
        let copy_page_bytes = number("S3DR_COPY_PAGE_BYTES", DEFAULT_COPY_PAGE_BYTES, MIN_PART_SIZE, 5 << 40)?;
        let history_event_budget = number(
            "S3DR_HISTORY_EVENT_BUDGET",
            u64::from(DEFAULT_HISTORY_EVENT_BUDGET),
            u64::from(crate::backfill::MIN_HISTORY_EVENT_BUDGET),
            25_000,
        )? as u32;
        let step_role_arn = get("S3DR_STEP_ROLE_ARN");
        if let Some(arn) = &step_role_arn {
            if !is_role_arn(arn) {
                return Err(invalid("S3DR_STEP_ROLE_ARN", arn, "expected arn:aws:iam::<12-digit account>:role/<name>"));
            }
        }

        let state_machine = |name: &str| -> Result<Option<String>, DrError> {
            match get(name) {
                Some(arn)
                    if !(arn.starts_with("arn:") && arn.contains(":states:") && arn.contains(":stateMachine:")) =>
                {
                    Err(invalid(name, &arn, "expected arn:aws:states:<region>:<account>:stateMachine:<name>"))
                }
                other => Ok(other),
            }
        };
        let protect_state_machine_arn = state_machine("S3DR_PROTECT_STATE_MACHINE_ARN")?;
        let detach_state_machine_arn = state_machine("S3DR_DETACH_STATE_MACHINE_ARN")?;
        let verify_state_machine_arn = state_machine("S3DR_VERIFY_STATE_MACHINE_ARN")?;
        // AWS: "Most objects replicate within 15 minutes, but sometimes replication can take a
        // couple of hours"; with RTC, 99.99% within 15 minutes
        // (https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-time-control.html).
        let default_threshold = if replication_time_control { 900 } else { 21_600 };
        let verify_threshold_seconds = number("S3DR_VERIFY_THRESHOLD_SECONDS", default_threshold, 0, 604_800)?;
        let verify_max_objects = number("S3DR_VERIFY_MAX_OBJECTS", 1_000_000, 1, 100_000_000)?;
        let verify_inventory_rows = number("S3DR_VERIFY_INVENTORY_ROWS", 2_000_000, 1, 100_000_000)?;
        let sweep_concurrency = number("S3DR_SWEEP_CONCURRENCY", 16, 1, 64)? as usize;
        let sweep_start_rate = number("S3DR_SWEEP_START_RATE", 2, 1, 50)? as u32;
        let sweep_shards = number("S3DR_SWEEP_SHARDS", 4, 1, 40)? as u32;
        let copy_shards = number("S3DR_COPY_SHARDS", 1, 1, MAX_COPY_SHARDS.into())? as u32;
        let reserved_concurrency = number("S3DR_RESERVED_CONCURRENCY", 0, 0, 100_000)? as u32;
        // ListBuckets' MaxBuckets is at most 10,000
        // (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListBuckets.html).
        let sweep_page_size = number("S3DR_SWEEP_PAGE_SIZE", 1000, 1, 10_000)? as i32;
        let sweep_invocation_seconds = number("S3DR_SWEEP_INVOCATION_SECONDS", 600, 0, 840)?;

        Ok(Config {
            protect_state_machine_arn,
            detach_state_machine_arn,
            verify_state_machine_arn,
            verify_threshold_seconds,
            verify_max_objects,
            verify_inventory_rows,
            sweep_concurrency,
            sweep_start_rate,
            sweep_shards,
            copy_shards,
            reserved_concurrency,
            sweep_page_size,
            sweep_invocation_seconds,
            public_access,
            backfill,
            batch_role_arn,
            batch_report_bucket,
            batch_report_prefix,
            copy_multipart_threshold,
            copy_page_size,
            copy_concurrency,
            copy_page_bytes,
            history_event_budget,
            step_role_arn,
            dr_region,
            destination_suffix,
            match_tag,
            replication_role_arn,
            storage_class,
            dr_kms_key,
            replication_time_control,
        })
    }

    /// The `s3-dr` rule this configuration asks for, towards `destination_bucket`.
    pub fn rule_spec(&self, destination_bucket: &str, replica_key: ReplicaKey) -> RuleSpec {
        RuleSpec {
            destination_bucket: destination_bucket.to_owned(),
            storage_class: self.storage_class.clone(),
            replica_key,
            replication_time_control: self.replication_time_control,
        }
    }

    /// The report bucket for a job on a source bucket in `region` of `account` (the stacks make
    /// one per source region, `s3-dr-reports-{account}-{region}`: a bucket name is global, and
    /// the account id makes it one nobody else holds).
    pub fn batch_report_bucket_in(&self, region: &str, account: &str) -> Option<String> {
        self.batch_report_bucket.as_ref().map(|b| b.replace("{region}", region).replace("{account}", account))
    }

    /// What a Batch Replication backfill needs: the job role and a report bucket.
    pub fn require_batch(&self, source_region: &str, account: Option<&str>) -> Result<(&str, String), DrError> {
        let missing = |name: &str, what: &str| {
            DrError::InvalidConfig(format!(
                "backfill strategy batch needs {name} ({what}); set it, or choose S3DR_BACKFILL=copy or off"
            ))
        };
        let role = self
            .batch_role_arn
            .as_deref()
            .ok_or_else(|| missing("S3DR_BATCH_ROLE_ARN", "the IAM role S3 Batch Operations assumes"))?;
        let template = self
            .batch_report_bucket
            .as_deref()
            .ok_or_else(|| missing("S3DR_BATCH_REPORT_BUCKET", "a bucket for job completion reports"))?;
        let bucket = match account {
            Some(account) => self.batch_report_bucket_in(source_region, account).unwrap_or_default(),
            None if template.contains("{account}") => {
                return Err(DrError::InvalidConfig(format!(
                    "S3DR_BATCH_REPORT_BUCKET={template} names the account, which was not available (it is read from the Lambda's function ARN)"
                )))
            }
            None => template.replace("{region}", source_region),
        };
        Ok((role, bucket))
    }

    /// Where in the report bucket the jobs of `source_bucket` write their completion reports.
    pub fn batch_report_prefix_for(&self, source_bucket: &str) -> String {
        format!("{}/{source_bucket}", self.batch_report_prefix)
    }

    /// The state machine `name` ("protect" or "detach"), needed only to start executions.
    pub fn require_state_machine(&self, which: Workflow) -> Result<&str, DrError> {
        let (arn, variable) = match which {
            Workflow::Protect => (&self.protect_state_machine_arn, "S3DR_PROTECT_STATE_MACHINE_ARN"),
            Workflow::Detach => (&self.detach_state_machine_arn, "S3DR_DETACH_STATE_MACHINE_ARN"),
            Workflow::Verify => (&self.verify_state_machine_arn, "S3DR_VERIFY_STATE_MACHINE_ARN"),
        };
        arn.as_deref().ok_or_else(|| {
            DrError::InvalidConfig(format!(
                "{variable} is not set: the Lambda starts that workflow (the CDK stack sets it)"
            ))
        })
    }

    /// The role is needed only to write replication, so its absence is reported there.
    pub fn require_replication_role(&self) -> Result<&str, DrError> {
        self.replication_role_arn.as_deref().ok_or_else(|| {
            DrError::InvalidConfig(
                "S3DR_REPLICATION_ROLE_ARN is not set: set it to the IAM role S3 assumes to replicate (the CDK stack creates one)".to_owned(),
            )
        })
    }
}

/// `s3-dr config check`: the Lambda's settings as a deployment generates them (variable ->
/// value), checked by the rules the Lambda applies at init ([`Config::from_lookup`]), plus one
/// it cannot apply: an `S3DR_` variable it does not know is a typo it would silently ignore.
/// Other variables (AWS_*, a deployment's own) are not the Lambda's business and pass.
pub fn check_settings(values: &serde_json::Map<String, serde_json::Value>) -> Result<Config, DrError> {
    let mut settings = std::collections::HashMap::new();
    for (name, value) in values {
        let Some(text) = value.as_str() else {
            return Err(DrError::InvalidConfig(format!("{name}={value} is not a string (environment values are)")));
        };
        if name.starts_with("S3DR_") && !SETTINGS.iter().any(|(known, _, _)| known == name) {
            return Err(DrError::InvalidConfig(format!(
                "{name} is not a setting the Lambda reads (known: {})",
                SETTINGS.iter().map(|(known, _, _)| *known).collect::<Vec<_>>().join(", ")
            )));
        }
        settings.insert(name.clone(), text.to_owned());
    }
    Config::from_lookup(|name| settings.get(name).cloned())
}

fn is_region_name(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

fn is_role_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5].strip_prefix("role/").is_some_and(|name| !name.is_empty())
}

#[cfg(test)]
mod tests;
