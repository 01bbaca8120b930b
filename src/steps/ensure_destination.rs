//! EnsureDestination: the DR bucket exists, is ours, versioned, private, encrypted, and aborts
//! multipart uploads left behind.
//!
//! AWS calls: CreateBucket (only if ValidateSource did not find it); for a bucket that was there
//! (or us-east-1's ambiguous 200), GetBucketTagging, GetBucketVersioning, GetPublicAccessBlock,
//! GetBucketEncryption and GetBucketLifecycleConfiguration (and GetObjectLockConfiguration for a
//! locked source) concurrently; then only the writes whose setting differs (and
//! ListObjectVersions to vet a bucket we did not create). A bucket CreateBucket just made is not
//! read: what it holds is known, and the reads would be a round trip on the critical path. The destination's backfill tags,
//! read here, go to StartBackfill in the result.
//!
//! Read, then [`diff`] (pure) lists the changes, then they are applied, unless it is a dry run
//! (`s3-dr plan`), which reports the same list.

use aws_sdk_s3::operation::create_bucket::CreateBucketError;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, ObjectLockConfiguration, ObjectLockEnabled,
};
use serde::Serialize;

use crate::backfill::owe_catch_up;
use crate::backfill::state::BackfillTags;
use crate::bucket::{self, put_tags, DefaultEncryption, Lifecycle};
use crate::config::PublicAccess;
use crate::error::{AwsResultExt, DrError};
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

/// What the destination has, as far as this step cares.
#[derive(Debug, Clone, Default)]
pub struct Current {
    pub tags: Vec<Tag>,
    /// `Enabled`, `Suspended`, or empty (never versioned).
    pub versioning: String,
    pub public_access: Option<aws_sdk_s3::types::PublicAccessBlockConfiguration>,
    pub encryption: Option<DefaultEncryption>,
    pub lifecycle: Option<Lifecycle>,
    pub object_lock: bool,
}

/// What the destination must have.
#[derive(Debug, Clone)]
pub struct Desired {
    /// Tag the bucket as this source's destination (it is new, or adopted).
    pub mark_for: Option<String>,
    pub block_public_access: bool,
    pub encryption: DefaultEncryption,
    pub object_lock: bool,
    /// The bucket was there before this run: turning its versioning back on leaves a gap that
    /// a catch-up must fill.
    pub existed: bool,
}

/// One change to the destination, in the order they are made.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Tags(Vec<Tag>),
    Versioning { owe_catch_up: bool },
    PublicAccessBlock,
    Encryption(DefaultEncryption),
    ObjectLock,
    Lifecycle(Lifecycle),
}

impl Change {
    pub fn name(&self) -> &'static str {
        match self {
            Change::Tags(_) => "tags",
            Change::Versioning { .. } => "versioning",
            Change::PublicAccessBlock => "publicAccessBlock",
            Change::Encryption(_) => "encryption",
            Change::ObjectLock => "objectLock",
            Change::Lifecycle(_) => "lifecycle",
        }
    }
}

/// The changes that take the destination from `current` to `desired`: none for a setting that
/// is right already.
pub fn diff(current: &Current, desired: &Desired) -> Result<Vec<Change>, DrError> {
    let mut changes = Vec::new();
    if let Some(source) = &desired.mark_for {
        let mut tags = current.tags.clone();
        tags.retain(|t| t.key != SOURCE_TAG);
        tags.push(Tag::new(SOURCE_TAG, source));
        changes.push(Change::Tags(tags));
    }
    if current.versioning != "Enabled" {
        changes.push(Change::Versioning { owe_catch_up: desired.existed });
    }
    // With S3DR_PUBLIC_ACCESS=same-as-source, CloneSettings copies the source's block instead.
    if desired.block_public_access
        && !current
            .public_access
            .as_ref()
            .is_some_and(|c| settings::same_public_access_block(c, &settings::block_all()))
    {
        changes.push(Change::PublicAccessBlock);
    }
    if !current.encryption.as_ref().is_some_and(|c| settings::same_encryption(c, &desired.encryption)) {
        changes.push(Change::Encryption(desired.encryption.clone()));
    }
    // A locked source's objects are copied with their retention, which only a destination with
    // Object Lock takes. One made here has it; one that was there (adopted, or us-east-1's 200)
    // may not: S3 turns it on for an existing versioned bucket
    // (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-configure.html).
    if desired.object_lock && !current.object_lock {
        changes.push(Change::ObjectLock);
    }
    // Multipart uploads a killed copy left behind are aborted by s3-dr's own lifecycle rule;
    // every other rule stays (CloneSettings, after the backfill, brings the source's).
    let rules = current.lifecycle.as_ref().map(|l| l.rules.as_slice()).unwrap_or_default();
    let wanted = settings::with_abort_uploads_rule(rules)?;
    if !settings::same_lifecycle_rules(&wanted, rules) {
        let transition_minimum_size = current.lifecycle.as_ref().and_then(|l| l.transition_minimum_size.clone());
        changes.push(Change::Lifecycle(Lifecycle { rules: wanted, transition_minimum_size }));
    }
    Ok(changes)
}

pub async fn run(
    context: &StepContext<'_>,
    plan: &SourcePlan,
    destination: &DestinationPlan,
) -> Result<Output, DrError> {
    let name = destination.bucket.as_str();
    let s3 = context.clients.s3(&destination.region);
    let mut desired = Desired {
        mark_for: None,
        block_public_access: context.config.public_access == PublicAccess::BlockAll,
        encryption: settings::desired_encryption(plan.source_encryption.as_ref(), plan.replica_kms_key_arn.as_deref()),
        object_lock: plan.object_lock,
        existed: destination.exists,
    };

    // A dry run has nothing to read for a bucket that is not there yet: it would be created
    // empty (with Object Lock if the source has it), and everything would be set.
    let (created, current, settle_new) = if context.dry_run && !destination.exists {
        desired.mark_for = Some(plan.bucket.clone());
        (true, Current { object_lock: plan.object_lock, ..Current::default() }, false)
    } else {
        let creation = match destination.exists {
            true => Creation::Existed,
            false => create(&s3, plan, destination).await?,
        };
        let current = match creation {
            // New: no tags, versioning never enabled, no lifecycle, Object Lock as asked. Its
            // default encryption (SSE-S3) and public access block (on since April 2023,
            // https://docs.aws.amazon.com/AmazonS3/latest/userguide/create-bucket-overview.html)
            // are written all the same: s3-dr's settings, not defaults an account may change.
            Creation::Created => Current { object_lock: plan.object_lock, ..Current::default() },
            Creation::Existed | Creation::CreatedOrOwned => read(&s3, name, plan.object_lock, creation).await?,
        };
        // A bucket we just created is ours; one that was there already must pass the same
        // vetting ValidateSource did (a concurrent run or a person may have changed it since).
        // So must one that us-east-1's CreateBucket answered 200 for: that answer does not tell
        // "created" from "you own it already".
        let needs_marking = match creation {
            Creation::Created => tags::destination_of(&current.tags) != Some(plan.bucket.as_str()),
            Creation::Existed | Creation::CreatedOrOwned => {
                crate::destination::vet_existing(&s3, &plan.bucket, name, &current.tags).await?
            }
        };
        desired.mark_for = needs_marking.then(|| plan.bucket.clone());
        desired.existed = creation == Creation::Existed;
        // In us-east-1 an empty, untagged bucket after CreateBucket is taken for the new one.
        let created = creation == Creation::Created || (creation == Creation::CreatedOrOwned && needs_marking);
        (created, current, creation != Creation::Existed)
    };

    let changes = diff(&current, &desired)?;
    if !context.dry_run {
        // One after another, unlike the reads: S3 may answer OperationAborted to concurrent
        // configuration changes of one bucket, and they happen once per bucket.
        for change in &changes {
            // Right after CreateBucket, S3 may still answer NoSuchBucket: worth a retry.
            apply(&s3, name, change).await.map_err(|e| if settle_new { not_yet_visible(e) } else { e })?;
        }
    }
    let mut names: Vec<&'static str> = created.then_some("created").into_iter().collect();
    names.extend(changes.iter().map(Change::name));
    Ok(Output {
        bucket: name.to_owned(),
        region: destination.region.clone(),
        created,
        changed: !names.is_empty(),
        changes: names,
        backfill: BackfillTags::read(&current.tags),
    })
}

/// The destination's settings, read concurrently.
async fn read(s3: &aws_sdk_s3::Client, name: &str, object_lock: bool, creation: Creation) -> Result<Current, DrError> {
    let (tags, versioning, public_access, encryption, lifecycle, lock) = tokio::try_join!(
        bucket::tags(s3, name),
        bucket::versioning(s3, name),
        bucket::public_access_block(s3, name),
        bucket::default_encryption(s3, name),
        bucket::lifecycle(s3, name),
        async {
            match object_lock {
                true => bucket::object_lock(s3, name).await,
                false => Ok(None),
            }
        },
    )
    // Right after CreateBucket, S3 may still answer NoSuchBucket: that is worth a retry.
    .map_err(|e| if creation == Creation::Existed { e } else { not_yet_visible(e) })?;
    Ok(Current {
        tags,
        versioning,
        public_access,
        encryption,
        lifecycle,
        object_lock: lock.as_ref().is_some_and(|c| c.object_lock_enabled().is_some()),
    })
}

async fn apply(s3: &aws_sdk_s3::Client, name: &str, change: &Change) -> Result<(), DrError> {
    match change {
        Change::Tags(tags) => put_tags(s3, name, tags).await,
        Change::Versioning { owe_catch_up: owed } => {
            // A destination that was versioned off: replication to it failed meanwhile. Owed
            // first (if a backfill began there), then repaired.
            if *owed {
                owe_catch_up(s3, name).await?;
            }
            bucket::put_versioning_enabled(s3, name).await
        }
        Change::PublicAccessBlock => bucket::put_public_access_block(s3, name, settings::block_all()).await,
        Change::Encryption(wanted) => bucket::put_encryption(s3, name, wanted).await,
        Change::ObjectLock => {
            let enabled = ObjectLockConfiguration::builder().object_lock_enabled(ObjectLockEnabled::Enabled).build();
            bucket::put_object_lock(s3, name, enabled).await
        }
        Change::Lifecycle(lifecycle) => bucket::put_lifecycle(s3, name, lifecycle).await,
    }
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
        Err(error) if error.as_service_error().is_some_and(CreateBucketError::is_bucket_already_owned_by_you) => {
            Ok(Creation::Existed)
        }
        Err(error) if error.as_service_error().is_some_and(CreateBucketError::is_bucket_already_exists) => {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn desired() -> Desired {
        Desired {
            mark_for: Some("photos".into()),
            block_public_access: true,
            encryption: settings::desired_encryption(None, Some("arn:aws:kms:us-east-2:1:key/k")),
            object_lock: false,
            existed: false,
        }
    }

    #[test]
    fn a_new_bucket_gets_every_setting_and_a_configured_one_none() -> Result<(), DrError> {
        let fresh = diff(&Current::default(), &desired())?;
        let names: Vec<&str> = fresh.iter().map(Change::name).collect();
        assert_eq!(names, ["tags", "versioning", "publicAccessBlock", "encryption", "lifecycle"]);
        assert_eq!(fresh[1], Change::Versioning { owe_catch_up: false });

        // The same bucket once the changes are made: nothing left to do.
        let mut current =
            Current { versioning: "Enabled".into(), public_access: Some(settings::block_all()), ..Current::default() };
        for change in fresh {
            match change {
                Change::Tags(tags) => current.tags = tags,
                Change::Encryption(wanted) => current.encryption = Some(wanted),
                Change::Lifecycle(lifecycle) => current.lifecycle = Some(lifecycle),
                _ => {}
            }
        }
        assert_eq!(diff(&current, &Desired { mark_for: None, ..desired() })?, []);

        // Versioning suspended on a bucket that was there: the gap is owed a catch-up first.
        current.versioning = "Suspended".into();
        let repair = diff(&current, &Desired { mark_for: None, existed: true, object_lock: true, ..desired() })?;
        assert_eq!(repair, [Change::Versioning { owe_catch_up: true }, Change::ObjectLock]);
        Ok(())
    }

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
