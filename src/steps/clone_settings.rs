//! CloneSettings: copy the bucket settings replication does not carry to the destination, and
//! keep them in step: every run reads both sides again and writes only what differs.
//!
//! AWS calls: up to 15 reads at once (tags, lifecycle, CORS, website, ownership controls,
//! policy and Object Lock of both buckets; the destination's encryption; the source's public
//! access block only with `S3DR_PUBLIC_ACCESS=same-as-source`), then one write per setting
//! that differs, one after another (S3 may refuse concurrent changes to one bucket).
//!
//! Every setting is decided first (its report, and the write that makes it so), then the
//! writes are made in order, unless it is a dry run (`s3-dr plan`), which reports the same.
//!
//! A setting that cannot be copied is reported as failed and the others go on; the transient
//! faults fail the step so the workflow retries it. VerifyProtection turns reported failures
//! into `SettingsNotCloned` at the end, after the data is safe.
//!
//! It runs after the backfill: lifecycle expiry must not act on the destination while a Batch
//! Replication job fills it ("we recommend disabling your lifecycle rules while the Batch
//! Replication job is active", since a delete marker replicated before its object versions can
//! be expired and the object come back,
//! https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-batch-replication-batch.html).
//!
//! What S3 would refuse is adapted and reported, never a failure forever: user tags beyond
//! S3's 50 (with room kept for s3-dr's own) are dropped by name, and with BlockPublicPolicy on
//! the destination the policy's public statements are left out (the block is never weakened).

use crate::bucket;
use crate::config::PublicAccess;
use crate::error::DrError;
use crate::plan::{DestinationPlan, SourcePlan};
use crate::settings::{self, NOT_CLONED};
use crate::steps::StepContext;

mod decide;
mod report;
mod writes;

use decide::{skipped, Decided};
pub use report::{Output, SettingReport, Status};
use writes::apply;

pub async fn run(
    context: &StepContext<'_>,
    plan: &SourcePlan,
    destination: &DestinationPlan,
) -> Result<Output, DrError> {
    let config = context.config;
    let (source_name, destination_name) = (plan.bucket.as_str(), destination.bucket.as_str());
    let source = context.clients.s3(&plan.region);
    let dr = context.clients.s3(&destination.region);
    let same_as_source = config.public_access == PublicAccess::SameAsSource;
    let dry = context.dry_run;
    // `s3-dr plan` on a bucket whose destination does not exist yet: it has no settings.
    let absent = dry && !destination.exists;

    // Every read at once (a fixed set, so the concurrency is bounded by construction).
    let (
        (source_tags, destination_tags),
        (source_lifecycle, destination_lifecycle),
        (source_cors, destination_cors),
        (source_website, destination_website),
        (source_ownership, destination_ownership),
        (source_policy, destination_policy),
        (source_lock, destination_lock),
        (source_public_access, destination_public_access),
        destination_encryption,
    ) = tokio::join!(
        pair(bucket::tags(&source, source_name), or_absent(absent, bucket::tags(&dr, destination_name))),
        pair(bucket::lifecycle(&source, source_name), or_absent(absent, bucket::lifecycle(&dr, destination_name))),
        pair(bucket::cors(&source, source_name), or_absent(absent, bucket::cors(&dr, destination_name))),
        pair(bucket::website(&source, source_name), or_absent(absent, bucket::website(&dr, destination_name))),
        pair(
            bucket::ownership_controls(&source, source_name),
            or_absent(absent, bucket::ownership_controls(&dr, destination_name))
        ),
        pair(bucket::policy(&source, source_name), or_absent(absent, bucket::policy(&dr, destination_name))),
        pair(bucket::object_lock(&source, source_name), or_absent(absent, bucket::object_lock(&dr, destination_name))),
        pair(
            async {
                match same_as_source {
                    true => bucket::public_access_block(&source, source_name).await,
                    false => Ok(None),
                }
            },
            or_absent(absent, bucket::public_access_block(&dr, destination_name))
        ),
        or_absent(absent, bucket::default_encryption(&dr, destination_name)),
    );

    // In a dry run before the destination exists, EnsureDestination would have made it: marked
    // as ours, all public access blocked (block-all), encrypted as the source maps to.
    let (destination_tags, destination_public_access, destination_encryption) = if absent {
        (
            Ok(vec![crate::tags::Tag::new(crate::tags::SOURCE_TAG, source_name)]),
            Ok((!same_as_source).then(settings::block_all)),
            Ok(Some(settings::desired_encryption(
                plan.source_encryption.as_ref(),
                plan.replica_kms_key_arn.as_deref(),
            ))),
        )
    } else {
        (destination_tags, destination_public_access, destination_encryption)
    };

    // What the destination's block will be once this step is done (block-all, or the source's).
    let blocks_public_policy = match config.public_access {
        PublicAccess::BlockAll => true,
        PublicAccess::SameAsSource => {
            source_public_access.as_ref().ok().and_then(|b| b.as_ref()).and_then(|b| b.block_public_policy())
                == Some(true)
        }
    };
    // Each setting: its report, and the write that makes it so (none when it is right).
    let planned: [(&str, Decided); 9] = [
        ("tags", decide::tags(source_tags, destination_tags, &config.match_tag, source_name)),
        ("lifecycle", decide::lifecycle(source_lifecycle, destination_lifecycle)),
        ("cors", decide::cors(source_cors, destination_cors)),
        ("website", decide::website(source_website, destination_website)),
        ("ownershipControls", decide::ownership_controls(source_ownership, destination_ownership)),
        (
            "publicAccessBlock",
            decide::public_access_block(config.public_access, source_public_access, destination_public_access),
        ),
        (
            "policy",
            decide::policy(source_policy, destination_policy, source_name, destination_name, blocks_public_policy),
        ),
        ("encryption", decide::encryption(plan, destination_encryption)),
        ("objectLock", decide::object_lock(source_lock, destination_lock)),
    ];

    // The writes, one after another (S3 may refuse concurrent changes to one bucket), none in
    // a dry run: a setting whose read, decision or write failed is reported failed.
    let mut reports = Vec::new();
    for (setting, decided) in planned {
        let outcome = match decided {
            Ok((report, Some(write))) if !dry => {
                apply(&dr, destination_name, write, &config.match_tag, source_name).await.map(|()| report)
            }
            Ok((report, _)) => Ok(report),
            Err(error) => Err(error),
        };
        reports.push(settle(setting, outcome)?);
    }
    reports.extend(NOT_CLONED.iter().map(|(setting, why)| skipped(setting, &format!("not cloned: {why}"))));

    let changes: Vec<String> =
        reports.iter().filter(|r| r.status == Status::Copied).map(|r| r.setting.clone()).collect();
    let failed = reports.iter().filter(|r| r.status == Status::Failed).count();
    for report in reports.iter().filter(|r| r.status == Status::Failed) {
        tracing::warn!(setting = %report.setting, detail = ?report.detail, "setting not cloned");
    }
    Ok(Output {
        bucket: plan.bucket.clone(),
        destination: destination.bucket.clone(),
        changed: !changes.is_empty(),
        changes,
        failed,
        settings: reports,
    })
}

/// The read, or its "nothing there" value without a call when the bucket does not exist.
async fn or_absent<T: Default>(
    absent: bool,
    read: impl std::future::Future<Output = Result<T, DrError>>,
) -> Result<T, DrError> {
    if absent {
        return Ok(T::default());
    }
    read.await
}

async fn pair<A, B>(
    a: impl std::future::Future<Output = Result<A, DrError>>,
    b: impl std::future::Future<Output = Result<B, DrError>>,
) -> (Result<A, DrError>, Result<B, DrError>) {
    tokio::join!(a, b)
}

/// A transient fault fails the step (the workflow retries it); any other error is this
/// setting's failure, reported, and the other settings go on.
fn settle(setting: &str, outcome: Result<SettingReport, DrError>) -> Result<SettingReport, DrError> {
    match outcome {
        Ok(report) => Ok(report),
        Err(error) if error.is_transient() => Err(error),
        Err(error) => Ok(SettingReport {
            setting: setting.to_owned(),
            status: Status::Failed,
            detail: Some(error.to_string()),
            error_type: Some(error.error_type().to_owned()),
        }),
    }
}
