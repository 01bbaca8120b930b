//! What ValidateSource found and decided; every later step acts on it. It travels through the
//! state machine as JSON (`$.ValidateSource`), so its field names are part of the workflow.

use serde::{Deserialize, Serialize};

use crate::backfill::{Continuation, Strategy};
use crate::bucket::DefaultEncryption;
use crate::config::Config;
use crate::replication::{ReplicaKey, RuleSpec};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Protect,
    /// Not tagged, or an event s3-dr does not act on: the workflow ends and changes nothing.
    Skip,
    /// Untagged but still replicating with the s3-dr rule: hand over to the detach workflow.
    Detach,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourcePlan {
    pub action: Action,
    pub bucket: String,
    pub region: String,
    pub tagged: bool,
    pub trigger: String,
    /// Why the bucket is skipped (only with `Skip`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<DestinationPlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_encryption: Option<DefaultEncryption>,
    /// DR-region key ARN that SSE-KMS replicas (and an SSE-KMS destination's default
    /// encryption) use; resolved from S3DR_DR_KMS_KEY for every bucket, since any bucket may
    /// hold SSE-KMS objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_kms_key_arn: Option<String>,
    /// The source has Object Lock, so the destination must be created with it.
    #[serde(default)]
    pub object_lock: bool,
    /// How existing objects are copied (configuration, or the request's `backfill`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backfill: Option<Strategy>,
    /// The request said `"backfill": "force"`: backfill again even if the destination is marked
    /// as backfilled.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force_backfill: bool,
    /// The source's versioning as ValidateSource read it (Enabled, Suspended, or empty: never),
    /// for EnableSourceVersioning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_versioning: Option<String>,
    /// The request's `copyShards`: key ranges for a large bucket's copy backfill this time
    /// (None: `S3DR_COPY_SHARDS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_shards: Option<u32>,
    /// This execution continues the backfill of an earlier one (`$.continues`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continues: Option<Continuation>,
    /// ValidateSource only reads.
    pub changed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DestinationPlan {
    pub bucket: String,
    pub region: String,
    /// HeadBucket found it (ours) when ValidateSource ran.
    pub exists: bool,
}

impl SourcePlan {
    /// A plan that does nothing (yet): ValidateSource fills it in as it learns more.
    pub fn skip(bucket: &str, region: &str, tagged: bool, trigger: String) -> SourcePlan {
        SourcePlan {
            action: Action::Skip,
            bucket: bucket.to_owned(),
            region: region.to_owned(),
            tagged,
            trigger,
            reason: None,
            destination: None,
            source_encryption: None,
            replica_kms_key_arn: None,
            object_lock: false,
            backfill: None,
            force_backfill: false,
            copy_shards: None,
            source_versioning: None,
            continues: None,
            changed: false,
        }
    }

    pub fn rule_spec(&self, destination: &DestinationPlan, config: &Config) -> RuleSpec {
        config.rule_spec(
            &destination.bucket,
            self.replica_kms_key_arn.clone().map_or(ReplicaKey::AnyKey, ReplicaKey::Key),
        )
    }
}
