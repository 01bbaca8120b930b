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

use aws_sdk_s3::types::{CorsConfiguration, ObjectLockConfiguration, ObjectLockEnabled};

use crate::bucket::{self, DefaultEncryption, Lifecycle};
use crate::config::PublicAccess;
use crate::error::DrError;
use crate::plan::{DestinationPlan, SourcePlan};
use crate::settings::{self, NOT_CLONED};
use crate::steps::StepContext;

mod report;
mod writes;

pub use report::{Output, SettingReport, Status};
use writes::{apply, Write};

/// A setting's report, and the write that makes it so (none when it is right already).
type Decided = Result<(SettingReport, Option<Write>), DrError>;

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

    let s3 = &dr;
    let name = destination_name;
    // Each setting: its report, and the write that makes it so (none when it is right).
    let mut planned: Vec<(&str, Decided)> = Vec::new();
    // What the destination's block will be once this step is done (block-all, or the source's).
    let blocks_public_policy = match config.public_access {
        PublicAccess::BlockAll => true,
        PublicAccess::SameAsSource => {
            source_public_access.as_ref().ok().and_then(|b| b.as_ref()).and_then(|b| b.block_public_policy())
                == Some(true)
        }
    };

    planned.push((
        "tags",
        async {
            let (current, source_tags) = (destination_tags?, source_tags?);
            let (desired, dropped) = settings::destination_tags(&source_tags, &current, &config.match_tag, source_name);
            let detail = (!dropped.is_empty()).then(|| {
                format!(
                    "{} user tags left out to stay within S3's {} per bucket (with {} kept for s3-dr): {}",
                    dropped.len(),
                    settings::MAX_BUCKET_TAGS,
                    settings::RESERVED_TAGS,
                    dropped.join(", ")
                )
            });
            if settings::sorted(current) == desired {
                return Ok((SettingReport::new("tags", Status::Unchanged, detail), None));
            }
            Ok((copied("tags", detail.as_deref()), Some(Write::Tags { source_tags })))
        }
        .await,
    ));

    planned.push((
        "lifecycle",
        async {
            // The source's rules, and s3-dr's own rule that aborts abandoned uploads.
            let source = source_lifecycle?;
            let desired = Lifecycle {
                rules: settings::with_abort_uploads_rule(
                    source.as_ref().map(|l| l.rules.as_slice()).unwrap_or_default(),
                )?,
                transition_minimum_size: source.as_ref().and_then(|l| l.transition_minimum_size.clone()),
            };
            if destination_lifecycle?.is_some_and(|current| same_lifecycle(&current, &desired)) {
                return Ok((unchanged("lifecycle"), None));
            }
            let detail =
                source.is_none().then_some("the source has no lifecycle rules: only s3-dr's abort-uploads rule");
            Ok((copied("lifecycle", detail), Some(Write::Lifecycle(desired))))
        }
        .await,
    ));

    planned.push((
        "cors",
        async {
            match (source_cors?, destination_cors?) {
                (source, current) if source == current => Ok((unchanged("cors"), None)),
                (None, _) => {
                    Ok((copied("cors", Some("removed: the source has no CORS rules")), Some(Write::DeleteCors)))
                }
                (Some(rules), _) => {
                    let configuration = CorsConfiguration::builder()
                        .set_cors_rules(Some(rules))
                        .build()
                        .map_err(|e| DrError::Internal(format!("building CORS: {e}")))?;
                    Ok((copied("cors", None), Some(Write::Cors(configuration))))
                }
            }
        }
        .await,
    ));

    planned.push((
        "website",
        async {
            match (source_website?, destination_website?) {
                (source, current) if source == current => Ok((unchanged("website"), None)),
                (None, _) => {
                    Ok((copied("website", Some("removed: the source is not a website")), Some(Write::DeleteWebsite)))
                }
                (Some(website), _) => Ok((copied("website", None), Some(Write::Website(website)))),
            }
        }
        .await,
    ));

    planned.push((
        "ownershipControls",
        async {
            match (source_ownership?, destination_ownership?) {
                (None, _) => Ok((
                    skipped(
                        "ownershipControls",
                        "the source has none (ACLs enabled, the old default); the destination keeps its own",
                    ),
                    None,
                )),
                (source, current) if source == current => Ok((unchanged("ownershipControls"), None)),
                (Some(controls), _) => {
                    Ok((copied("ownershipControls", None), Some(Write::OwnershipControls(controls))))
                }
            }
        }
        .await,
    ));

    planned.push((
        "publicAccessBlock",
        async {
            let (source, current) = (source_public_access?, destination_public_access?);
            let Some(desired) = settings::desired_public_access_block(config.public_access, source.as_ref()) else {
                let why = "S3DR_PUBLIC_ACCESS=same-as-source and the source has none";
                return Ok((skipped("publicAccessBlock", why), None));
            };
            if current.as_ref().is_some_and(|c| settings::same_public_access_block(c, &desired)) {
                return Ok((unchanged("publicAccessBlock"), None));
            }
            Ok((copied("publicAccessBlock", None), Some(Write::PublicAccessBlock(desired))))
        }
        .await,
    ));

    planned.push((
        "policy", async {
            let (source, current) = (source_policy?, destination_policy?);
            let current = current.map(|text| serde_json::from_str::<serde_json::Value>(&text).ok());
            match source {
                None if current.is_none() => Ok((unchanged("policy"), None)),
                None => Ok((copied("policy", Some("removed: the source has no bucket policy")), Some(Write::DeletePolicy))),
                Some(text) => {
                    let rewritten = settings::rewrite_policy(&text, source_name, name)?;
                    // The destination's block stays on: public statements are left out.
                    let (desired, dropped) = match blocks_public_policy {
                        true => settings::without_public_statements(&rewritten),
                        false => (Some(rewritten), Vec::new()),
                    };
                    let mut detail = format!("ARNs of {source_name} rewritten to {name}");
                    if !dropped.is_empty() {
                        detail.push_str(&format!(
                            "; left out {} public statement(s) ({}): the destination blocks public access (S3DR_PUBLIC_ACCESS)",
                            dropped.len(),
                            dropped.join(", ")
                        ));
                    }
                    let current = current.flatten();
                    let Some(desired) = desired else {
                        if current.is_none() {
                            return Ok((SettingReport::new("policy", Status::Unchanged, Some(detail)), None));
                        }
                        return Ok((copied("policy", Some(&detail)), Some(Write::DeletePolicy)));
                    };
                    if current.as_ref() == Some(&desired) {
                        let detail = (!dropped.is_empty()).then_some(detail);
                        return Ok((SettingReport::new("policy", Status::Unchanged, detail), None));
                    }
                    Ok((copied("policy", Some(&detail)), Some(Write::Policy(desired.to_string()))))
                }
            }
        }
        .await,
    ));

    planned.push((
        "encryption",
        async {
            let desired =
                settings::desired_encryption(plan.source_encryption.as_ref(), plan.replica_kms_key_arn.as_deref());
            if destination_encryption?.is_some_and(|current| settings::same_encryption(&current, &desired)) {
                return Ok((unchanged("encryption"), None));
            }
            Ok((copied("encryption", Some(&describe_encryption(&desired))), Some(Write::Encryption(desired))))
        }
        .await,
    ));

    planned.push((
        "objectLock",
        async {
            let source = source_lock?.filter(|c| c.object_lock_enabled().is_some());
            let Some(source) = source else {
                return Ok((skipped("objectLock", "the source has no Object Lock"), None));
            };
            let desired = ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .set_rule(source.rule().cloned())
                .build();
            if destination_lock? == Some(desired.clone()) {
                return Ok((unchanged("objectLock"), None));
            }
            Ok((copied("objectLock", Some("default retention copied")), Some(Write::ObjectLock(desired))))
        }
        .await,
    ));

    // The writes, one after another (S3 may refuse concurrent changes to one bucket), none in
    // a dry run: a setting whose read, decision or write failed is reported failed.
    let mut reports = Vec::new();
    for (setting, decided) in planned {
        let outcome = match decided {
            Ok((report, Some(write))) if !dry => {
                apply(s3, name, write, &config.match_tag, source_name).await.map(|()| report)
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

/// Lifecycle configurations are the same for S3 if their rules are (in any order) and their
/// transition size default is (unset reads as S3's default).
fn same_lifecycle(current: &Lifecycle, desired: &Lifecycle) -> bool {
    let same_rules = settings::same_lifecycle_rules(&current.rules, &desired.rules);
    let same_size = match (&current.transition_minimum_size, &desired.transition_minimum_size) {
        (_, None) | (None, _) => true,
        (a, b) => a == b,
    };
    same_rules && same_size
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

fn copied(setting: &str, detail: Option<&str>) -> SettingReport {
    SettingReport::new(setting, Status::Copied, detail.map(str::to_owned))
}

fn unchanged(setting: &str) -> SettingReport {
    SettingReport::new(setting, Status::Unchanged, None)
}

fn skipped(setting: &str, why: &str) -> SettingReport {
    SettingReport::new(setting, Status::Skipped, Some(why.to_owned()))
}

fn describe_encryption(encryption: &DefaultEncryption) -> String {
    match &encryption.kms_key {
        Some(key) => format!("{} with {key}", encryption.algorithm),
        None => encryption.algorithm.clone(),
    }
}
