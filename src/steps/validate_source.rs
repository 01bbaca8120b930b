//! ValidateSource: decide, by reading only, whether and how to protect a bucket. Every refusal
//! happens here, before anything is changed.
//!
//! AWS calls: GetBucketLocation, GetBucketTagging; when tagged, HeadBucket (destination),
//! GetBucketEncryption, GetBucketReplication, GetObjectLockConfiguration and KMS DescribeKey of
//! the DR key concurrently; GetBucketTagging on an existing destination (and
//! ListObjectVersions if it is not marked as ours). The later steps check the same things again, since a person or a
//! concurrent run may change them meanwhile; checking here first means a refusal leaves
//! everything as it was.

use aws_sdk_kms::operation::describe_key::DescribeKeyError;
use serde_json::Value;

use crate::backfill::{Continuation, Strategy};
use crate::bucket::{self, Presence};
use crate::destination::vet_existing;
use crate::error::{AwsResultExt, DrError};
use crate::event::{decide, parse_trigger, BucketFacts, Decision, EventKind};
use crate::naming;
use crate::plan::{Action, DestinationPlan, SourcePlan};
use crate::replication::{self, is_ours};
use crate::steps::StepContext;
use crate::tags;

pub async fn run(context: &StepContext<'_>, input: &Value) -> Result<SourcePlan, DrError> {
    let config = context.config;
    let trigger = parse_trigger(input)?;
    let (backfill, force_backfill) = backfill_strategy(input, config)?;
    let copy_shards = copy_shards(input)?;
    let continues = continuation(input)?;
    if let Some(reason) = trigger.own_echo(config.step_role_arn.as_deref()) {
        tracing::info!(%reason, "nothing to do");
        let mut plan = SourcePlan::skip(trigger.bucket(), "", false, trigger.describe());
        plan.reason = Some(reason);
        return Ok(plan);
    }
    let kind = trigger.kind();
    // A failed call, an event s3-dr does not act on: said without a single AWS call.
    if let EventKind::Irrelevant(reason) = &kind {
        tracing::info!(%reason, "nothing to do");
        let mut plan = SourcePlan::skip(trigger.bucket(), "", false, trigger.describe());
        plan.reason = Some(reason.clone());
        return Ok(plan);
    }
    let home = context.clients.s3(&context.clients.home_region());

    // Decide from the bucket's current state. A suspended destination is its source's business,
    // so the question may move once, to the source.
    let mut bucket = trigger.bucket().to_owned();
    let mut hops = 0;
    let (region, current_tags) = loop {
        let region = bucket::region(&home, &bucket).await?;
        if region.is_none() && kind == EventKind::Manual {
            return Err(DrError::SourceBucketNotFound { bucket });
        }
        let source = context.clients.s3(region.as_deref().unwrap_or(config.dr_region.as_str()));
        let current_tags = match region {
            Some(_) => bucket::tags(&source, &bucket).await?,
            None => Vec::new(),
        };
        let mut facts = BucketFacts {
            exists: region.is_some(),
            tagged: config.match_tag.matches(&current_tags),
            destination_of: tags::destination_of(&current_tags).map(str::to_owned),
            has_rule: None,
            named_source: naming::source_named_by(&bucket, &config.destination_suffix),
        };
        let mut decision = decide(&kind, &facts, &bucket);
        if decision == Decision::NeedRule {
            let replication = bucket::replication(&source, &bucket).await?;
            facts.has_rule = Some(replication.is_some_and(|c| c.rules().iter().any(is_ours)));
            decision = decide(&kind, &facts, &bucket);
        }
        let mut plan =
            SourcePlan::skip(&bucket, region.as_deref().unwrap_or_default(), facts.tagged, trigger.describe());
        match (decision, region) {
            (Decision::Protect, Some(region)) => break (region, current_tags),
            (Decision::AskSource(origin), _) if hops == 0 => {
                tracing::info!(destination = %bucket, source = %origin, "event on a destination: checking its source");
                bucket = origin;
                hops += 1;
            }
            (Decision::Detach, _) => {
                plan.action = Action::Detach;
                plan.reason =
                    Some(format!("bucket {bucket} lost its {} tag but still has the s3-dr rule", config.match_tag));
                return Ok(plan);
            }
            (Decision::Ignore(reason), _) => {
                tracing::info!(%reason, "nothing to do");
                plan.reason = Some(reason);
                return Ok(plan);
            }
            (other, _) => {
                let reason = format!("nothing to do for bucket {bucket} ({other:?})");
                tracing::info!(%reason, "nothing to do");
                plan.reason = Some(reason);
                return Ok(plan);
            }
        }
    };
    let source = context.clients.s3(&region);

    let mut plan = SourcePlan::skip(&bucket, &region, true, trigger.describe());
    if let Some(source_of) = tags::destination_of(&current_tags) {
        return Err(DrError::SourceIsDestination { bucket, origin: source_of.to_owned() });
    }
    if region == config.dr_region {
        return Err(DrError::SourceInDrRegion { bucket, region });
    }

    if backfill == Strategy::Batch {
        config.require_batch(&region, context.account_id.as_deref())?;
        if context.account_id.is_none() {
            return Err(DrError::InvalidConfig(
                "backfill strategy batch needs the account id, read from the Lambda's function ARN, which was not available".to_owned(),
            ));
        }
    }

    let destination_name = naming::destination_bucket_name(&bucket, &config.destination_suffix);
    let dr = context.clients.s3(&config.dr_region);
    let role = config.require_replication_role()?;
    // The source's versioning is read here, with the rest, for EnableSourceVersioning: one
    // round trip less on a protection's critical path (`make bench`).
    let (presence, encryption, replication, object_lock, versioning, dr_key) = tokio::try_join!(
        bucket::presence(&dr, &destination_name, context.account_id.as_deref()),
        bucket::default_encryption(&source, &bucket),
        bucket::replication(&source, &bucket),
        bucket::object_lock(&source, &bucket),
        bucket::versioning(&source, &bucket),
        resolve_dr_key(context, &bucket),
    )?;
    let exists = match presence {
        Presence::Absent => false,
        Presence::Present { region: Some(found) } if found != config.dr_region => {
            return Err(wrong_region(&bucket, &destination_name, &found, &config.dr_region))
        }
        Presence::Present { .. } => true,
        Presence::ElsewhereRegion => {
            return Err(wrong_region(&bucket, &destination_name, "another region", &config.dr_region))
        }
        Presence::Forbidden => return Err(DrError::BucketNameTaken { bucket, destination: destination_name }),
    };

    if exists {
        let destination_tags = bucket::tags(&dr, &destination_name).await?;
        if crate::failover::is_failed_over(&destination_tags) {
            // DR is the primary (`s3-dr failover`): protecting now would rebuild replication
            // over the writes made there. Left alone until failback.
            let reason = format!(
                "bucket {bucket} is failed over to {destination_name}: left alone until failback (docs/failover.md)"
            );
            tracing::info!(%reason, "nothing to do");
            plan.reason = Some(reason);
            return Ok(plan);
        }
        vet_existing(&dr, &bucket, &destination_name, &destination_tags).await?;
    }
    plan.replica_kms_key_arn = Some(dr_key);
    let destination = DestinationPlan { bucket: destination_name, region: config.dr_region.clone(), exists };
    // Dry run of EnableReplication's merge: a configuration s3-dr must not rewrite is refused now.
    replication::merge(&bucket, replication.as_ref(), role, &plan.rule_spec(&destination, config))?;

    plan.action = Action::Protect;
    plan.object_lock = object_lock.is_some_and(|c| c.object_lock_enabled().is_some());
    plan.backfill = Some(continues.as_ref().and_then(|c| c.progress.strategy).unwrap_or(backfill));
    plan.force_backfill = force_backfill;
    plan.copy_shards = copy_shards;
    plan.source_versioning = Some(versioning);
    plan.continues = continues;
    plan.source_encryption = encryption;
    plan.destination = Some(destination);
    Ok(plan)
}

/// The request's `"backfill"` if it has one, else the configured strategy, and whether the
/// request forces a new backfill (`"force"`: the configured strategy, even on a destination
/// marked as backfilled). Checked first, so a typo changes nothing.
fn backfill_strategy(input: &Value, config: &crate::config::Config) -> Result<(Strategy, bool), DrError> {
    match input.get("backfill") {
        None | Some(Value::Null) => Ok((config.backfill, false)),
        Some(Value::String(text)) if text.trim().eq_ignore_ascii_case("force") => Ok((config.backfill, true)),
        Some(Value::String(text)) => Strategy::parse(text).map(|s| (s, false)).ok_or_else(|| {
            DrError::InvalidInput(format!(
                "\"backfill\": {text:?} is not a strategy; {}, or force (a new backfill even if one was done)",
                Strategy::EXPECTED
            ))
        }),
        Some(other) => Err(DrError::InvalidInput(format!(
            "\"backfill\" must be a string, got {}",
            crate::error::abbreviated(&other.to_string(), 100)
        ))),
    }
}

/// The request's `"copyShards"` (1 to 16), checked first like `backfill`.
fn copy_shards(input: &Value) -> Result<Option<u32>, DrError> {
    let max = crate::config::MAX_COPY_SHARDS;
    match input.get("copyShards") {
        None | Some(Value::Null) => Ok(None),
        Some(found) => match found.as_u64().filter(|n| (1..=u64::from(max)).contains(n)) {
            Some(shards) => Ok(Some(shards as u32)),
            None => Err(DrError::InvalidInput(format!(
                "\"copyShards\" must be a whole number from 1 to {max} (key ranges copied at once), got {}",
                crate::error::abbreviated(&found.to_string(), 100)
            ))),
        },
    }
}

/// `$.continues`, written by ContinueAsNew of the execution this one continues.
fn continuation(input: &Value) -> Result<Option<Continuation>, DrError> {
    match input.get("continues") {
        None | Some(Value::Null) => Ok(None),
        Some(found) => serde_json::from_value(found.clone()).map(Some).map_err(|e| {
            DrError::InvalidInput(format!(
                "\"continues\" is written by s3-dr when an execution hands its backfill over to a new one, and this one is malformed ({e}); start the execution with {{\"bucket\": ...}} only"
            ))
        }),
    }
}

fn wrong_region(bucket: &str, destination: &str, found: &str, dr_region: &str) -> DrError {
    DrError::DestinationConflict {
        bucket: bucket.to_owned(),
        destination: destination.to_owned(),
        reason: format!(
            "it exists in {found}, not in the DR region {dr_region}. Move it, or set S3DR_DESTINATION_SUFFIX to pick another name"
        ),
    }
}

/// The configured DR key (ARN, key id or alias), as a key ARN in the DR region, enabled. Every
/// bucket needs it: any bucket may hold objects uploaded with SSE-KMS.
async fn resolve_dr_key(context: &StepContext<'_>, bucket: &str) -> Result<String, DrError> {
    let region = &context.config.dr_region;
    let missing = |detail: String| DrError::KmsKeyMissing { bucket: bucket.to_owned(), region: region.clone(), detail };
    let key = context.config.dr_kms_key.as_str();
    let kms = context.clients.kms(region);
    let described = match kms.describe_key().key_id(key).send().await {
        Ok(output) => output,
        Err(error) if error.as_service_error().is_some_and(DescribeKeyError::is_not_found_exception) => {
            return Err(missing(format!("{key} does not exist in {region}")))
        }
        Err(error) => return Err(error).aws(bucket, "kms:DescribeKey"),
    };
    let metadata =
        described.key_metadata().ok_or_else(|| missing(format!("DescribeKey returned no metadata for {key}")))?;
    if !metadata.enabled() {
        let state = metadata.key_state().map_or("disabled", |s| s.as_str());
        return Err(missing(format!("{key} is {state}")));
    }
    metadata.arn().map(str::to_owned).ok_or_else(|| missing(format!("DescribeKey returned no ARN for {key}")))
}
