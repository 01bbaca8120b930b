//! EnsureDestination: the DR bucket exists, is ours, versioned, private, encrypted, and aborts
//! multipart uploads left behind.
//!
//! AWS calls: CreateBucket (only if ValidateSource did not find it); then GetBucketTagging,
//! GetBucketVersioning, GetPublicAccessBlock, GetBucketEncryption and
//! GetBucketLifecycleConfiguration (and GetObjectLockConfiguration for a locked source)
//! concurrently; then only the writes whose setting differs
//! (and ListObjectVersions to vet a bucket we did not create). The destination's backfill tags,
//! read here, go to StartBackfill in the result.

use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, ObjectLockConfiguration, ObjectLockEnabled,
};
use serde::Serialize;

use crate::backfill::owe_catch_up;
use crate::backfill::state::BackfillTags;
use crate::bucket::{self, put_tags, Lifecycle};
use crate::config::PublicAccess;
use crate::error::{aws_code, AwsResultExt, DrError};
use crate::plan::{DestinationPlan, SourcePlan};
use crate::settings;
use crate::steps::StepContext;
use crate::tags::{self, Tag, SOURCE_TAG};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub bucket: String,
    pub region: String,
    pub created: bool,
    /// What this run changed, e.g. ["created", "versioning", "publicAccessBlock"].
    pub changes: Vec<&'static str>,
    /// The destination's backfill tags (done, under way, objects not replicable).
    pub backfill: BackfillTags,
    pub changed: bool,
}

pub async fn run(
    context: &StepContext<'_>,
    plan: &SourcePlan,
    destination: &DestinationPlan,
) -> Result<Output, DrError> {
    let name = destination.bucket.as_str();
    let s3 = context.clients.s3(&destination.region);
    let mut changes = Vec::new();
    let dry = context.dry_run;
    if dry && !destination.exists {
        // Nothing to read yet: everything would be set on the new bucket.
        let mut would = vec!["created", "tags", "versioning"];
        if context.config.public_access == PublicAccess::BlockAll {
            would.push("publicAccessBlock");
        }
        would.extend(["encryption", "lifecycle"]);
        return Ok(Output {
            bucket: name.to_owned(),
            region: destination.region.clone(),
            created: false,
            changed: true,
            changes: would,
            backfill: BackfillTags::default(),
        });
    }

    let creation = match destination.exists {
        true => Creation::Existed,
        false => create(&s3, plan, destination).await?,
    };

    // Right after CreateBucket, S3 may still answer NoSuchBucket: that is worth a retry.
    let settle = |error: DrError| if creation == Creation::Existed { error } else { not_yet_visible(error) };
    let (current_tags, versioning, public_access, encryption, lifecycle, object_lock) = tokio::try_join!(
        bucket::tags(&s3, name),
        bucket::versioning(&s3, name),
        bucket::public_access_block(&s3, name),
        bucket::default_encryption(&s3, name),
        bucket::lifecycle(&s3, name),
        async {
            match plan.object_lock {
                true => bucket::object_lock(&s3, name).await,
                false => Ok(None),
            }
        },
    )
    .map_err(settle)?;

    // The writes below run one after another, unlike the reads: S3 may answer OperationAborted
    // to concurrent configuration changes of one bucket, and they happen once per bucket.

    // A bucket we just created is ours; one that was there already must pass the same vetting
    // ValidateSource did (a concurrent run or a person may have changed it since). So must one
    // that us-east-1's CreateBucket answered 200 for: that answer does not tell "created" from
    // "you own it already".
    let needs_marking = match creation {
        Creation::Created => tags::destination_of(&current_tags) != Some(plan.bucket.as_str()),
        Creation::Existed | Creation::CreatedOrOwned => vet_existing(&s3, &plan.bucket, name, &current_tags).await?,
    };
    // In us-east-1 an empty, untagged bucket after CreateBucket is taken for the new one.
    let created = creation == Creation::Created || (creation == Creation::CreatedOrOwned && needs_marking);
    if created {
        changes.push("created");
    }
    if needs_marking {
        let mut desired = current_tags.clone();
        desired.retain(|t| t.key != SOURCE_TAG);
        desired.push(Tag::new(SOURCE_TAG, &plan.bucket));
        if !dry {
            put_tags(&s3, name, &desired).await.map_err(settle)?;
        }
        changes.push("tags");
    }

    if versioning != "Enabled" {
        if !dry {
            // A destination that was versioned off: replication to it failed meanwhile. Owed
            // first (if a backfill began there), then repaired.
            if creation == Creation::Existed {
                owe_catch_up(&s3, name).await?;
            }
            bucket::put_versioning_enabled(&s3, name).await.map_err(settle)?;
        }
        changes.push("versioning");
    }

    // With S3DR_PUBLIC_ACCESS=same-as-source, CloneSettings copies the source's block instead.
    let block_all = context.config.public_access == PublicAccess::BlockAll;
    if block_all
        && !public_access.as_ref().is_some_and(|c| settings::same_public_access_block(c, &settings::block_all()))
    {
        if !dry {
            s3.put_public_access_block()
                .bucket(name)
                .public_access_block_configuration(settings::block_all())
                .send()
                .await
                .aws(name, "PutPublicAccessBlock")
                .map_err(settle)?;
        }
        changes.push("publicAccessBlock");
    }

    let wanted = settings::desired_encryption(plan.source_encryption.as_ref(), plan.replica_kms_key_arn.as_deref());
    if !encryption.as_ref().is_some_and(|current| settings::same_encryption(current, &wanted)) {
        if !dry {
            bucket::put_encryption(&s3, name, &wanted).await.map_err(settle)?;
        }
        changes.push("encryption");
    }

    // A locked source's objects are copied with their retention, which only a destination with
    // Object Lock takes. One made here has it; one that was there (adopted, or us-east-1's 200)
    // may not: S3 turns it on for an existing versioned bucket
    // (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-configure.html).
    let locked = object_lock.as_ref().is_some_and(|c| c.object_lock_enabled().is_some());
    if plan.object_lock && !locked {
        if !dry {
            let enabled = ObjectLockConfiguration::builder().object_lock_enabled(ObjectLockEnabled::Enabled).build();
            s3.put_object_lock_configuration()
                .bucket(name)
                .object_lock_configuration(enabled)
                .send()
                .await
                .aws(name, "PutObjectLockConfiguration")
                .map_err(settle)?;
        }
        changes.push("objectLock");
    }

    // Multipart uploads a killed copy left behind are aborted by s3-dr's own lifecycle rule;
    // every other rule stays (CloneSettings, after the backfill, brings the source's).
    let current_rules = lifecycle.as_ref().map(|l| l.rules.as_slice()).unwrap_or_default();
    let wanted_rules = settings::with_abort_uploads_rule(current_rules)?;
    if !settings::same_lifecycle_rules(&wanted_rules, current_rules) {
        if !dry {
            bucket::put_lifecycle(
                &s3,
                name,
                &Lifecycle {
                    rules: wanted_rules,
                    transition_minimum_size: lifecycle.and_then(|l| l.transition_minimum_size),
                },
            )
            .await
            .map_err(settle)?;
        }
        changes.push("lifecycle");
    }

    Ok(Output {
        bucket: name.to_owned(),
        region: destination.region.clone(),
        created,
        changed: !changes.is_empty(),
        changes,
        backfill: BackfillTags::read(&current_tags),
    })
}

/// What CreateBucket told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Creation {
    Created,
    /// BucketAlreadyOwnedByYou, or ValidateSource found it.
    Existed,
    /// 200 in us-east-1: "if you re-create an existing bucket that you already own in the North
    /// Virginia Region, Amazon S3 returns 200 OK" (CreateBucket, error BucketAlreadyOwnedByYou,
    /// https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html).
    CreatedOrOwned,
}

async fn create(
    s3: &aws_sdk_s3::Client,
    plan: &SourcePlan,
    destination: &DestinationPlan,
) -> Result<Creation, DrError> {
    // Object Lock can only be switched on at creation for a bucket that will hold data.
    let mut request = s3
        .create_bucket()
        .bucket(&destination.bucket)
        .set_object_lock_enabled_for_bucket(plan.object_lock.then_some(true));
    // us-east-1 is the one region that takes no LocationConstraint.
    if destination.region != "us-east-1" {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(destination.region.as_str()))
                .build(),
        );
    }
    match request.send().await {
        Ok(_) if destination.region == "us-east-1" => Ok(Creation::CreatedOrOwned),
        Ok(_) => Ok(Creation::Created),
        // Created meanwhile by a concurrent run (or by hand): vetted by the tag check.
        Err(error) if aws_code(&error) == Some("BucketAlreadyOwnedByYou") => Ok(Creation::Existed),
        Err(error) if aws_code(&error) == Some("BucketAlreadyExists") => {
            Err(DrError::BucketNameTaken { bucket: plan.bucket.clone(), destination: destination.bucket.clone() })
        }
        Err(error) => Err(error).aws(&destination.bucket, "CreateBucket"),
    }
}

/// S3 is eventually consistent about a new bucket: `NoSuchBucket` just after CreateBucket
/// is worth a retry, not a failure.
fn not_yet_visible(error: DrError) -> DrError {
    match error {
        DrError::AwsRequestFailed { bucket, operation, code, message } if code == "NoSuchBucket" => {
            DrError::TransientAwsError { bucket, operation, detail: format!("{code} just after creation: {message}") }
        }
        other => other,
    }
}

/// May an existing `destination` serve `source`? Ok(false): it is ours already. Ok(true): it is
/// empty and untagged, so it may be adopted (and needs our tag). Anything else is someone's
/// bucket with data, and s3-dr will not take it over.
pub(crate) async fn vet_existing(
    s3: &aws_sdk_s3::Client,
    source: &str,
    destination: &str,
    current_tags: &[Tag],
) -> Result<bool, DrError> {
    let conflict = |reason: String| DrError::DestinationConflict {
        bucket: source.to_owned(),
        destination: destination.to_owned(),
        reason,
    };
    match tags::destination_of(current_tags) {
        Some(origin) if origin == source => Ok(false),
        Some(other) => Err(conflict(format!("it is the s3-dr destination of {other} (tag {SOURCE_TAG}={other})"))),
        None if current_tags.is_empty() && bucket::is_empty(s3, destination).await? => Ok(true),
        None => Err(conflict(format!(
            "it already exists with objects or tags and no {SOURCE_TAG} tag, so s3-dr did not create it. Tag it {SOURCE_TAG}={source} to adopt it, or set S3DR_DESTINATION_SUFFIX to use another name"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_such_bucket_after_creation_is_transient() {
        let missing = DrError::AwsRequestFailed {
            bucket: "p-dr".into(),
            operation: "GetBucketVersioning",
            code: "NoSuchBucket".into(),
            message: "gone".into(),
        };
        assert_eq!(not_yet_visible(missing).error_type(), "TransientAwsError");
        let denied =
            DrError::AccessDenied { bucket: "p-dr".into(), operation: "GetBucketVersioning", message: String::new() };
        assert_eq!(not_yet_visible(denied.clone()), denied);
    }
}
