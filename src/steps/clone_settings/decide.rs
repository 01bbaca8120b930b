//! CloneSettings' decisions, one pure function per setting: from what was read of both sides
//! (a read that failed fails only its setting), the report and the write that makes the
//! destination right (none when it is right already).

use aws_sdk_s3::types::{
    CorsConfiguration, CorsRule, ObjectLockConfiguration, ObjectLockEnabled, OwnershipControls,
    PublicAccessBlockConfiguration, WebsiteConfiguration,
};

use super::report::{SettingReport, Status};
use super::writes::Write;
use crate::bucket::{DefaultEncryption, Lifecycle};
use crate::config::PublicAccess;
use crate::error::DrError;
use crate::plan::SourcePlan;
use crate::settings;
use crate::tags::{MatchTag, Tag};

/// A setting's report, and the write that makes it so (none when it is right already).
pub(super) type Decided = Result<(SettingReport, Option<Write>), DrError>;

pub(super) fn tags(
    source_tags: Result<Vec<Tag>, DrError>,
    destination_tags: Result<Vec<Tag>, DrError>,
    match_tag: &MatchTag,
    source_name: &str,
) -> Decided {
    let (current, source_tags) = (destination_tags?, source_tags?);
    let (desired, dropped) = settings::destination_tags(&source_tags, &current, match_tag, source_name);
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

pub(super) fn lifecycle(
    source_lifecycle: Result<Option<Lifecycle>, DrError>,
    destination_lifecycle: Result<Option<Lifecycle>, DrError>,
) -> Decided {
    // The source's rules, and s3-dr's own rule that aborts abandoned uploads.
    let source = source_lifecycle?;
    let desired = Lifecycle {
        rules: settings::with_abort_uploads_rule(source.as_ref().map(|l| l.rules.as_slice()).unwrap_or_default())?,
        transition_minimum_size: source.as_ref().and_then(|l| l.transition_minimum_size.clone()),
    };
    if destination_lifecycle?.is_some_and(|current| same_lifecycle(&current, &desired)) {
        return Ok((unchanged("lifecycle"), None));
    }
    let detail = source.is_none().then_some("the source has no lifecycle rules: only s3-dr's abort-uploads rule");
    Ok((copied("lifecycle", detail), Some(Write::Lifecycle(desired))))
}

pub(super) fn cors(
    source_cors: Result<Option<Vec<CorsRule>>, DrError>,
    destination_cors: Result<Option<Vec<CorsRule>>, DrError>,
) -> Decided {
    match (source_cors?, destination_cors?) {
        (source, current) if source == current => Ok((unchanged("cors"), None)),
        (None, _) => Ok((copied("cors", Some("removed: the source has no CORS rules")), Some(Write::DeleteCors))),
        (Some(rules), _) => {
            let configuration = CorsConfiguration::builder()
                .set_cors_rules(Some(rules))
                .build()
                .map_err(|e| DrError::Internal(format!("building CORS: {e}")))?;
            Ok((copied("cors", None), Some(Write::Cors(configuration))))
        }
    }
}

pub(super) fn website(
    source_website: Result<Option<WebsiteConfiguration>, DrError>,
    destination_website: Result<Option<WebsiteConfiguration>, DrError>,
) -> Decided {
    match (source_website?, destination_website?) {
        (source, current) if source == current => Ok((unchanged("website"), None)),
        (None, _) => Ok((copied("website", Some("removed: the source is not a website")), Some(Write::DeleteWebsite))),
        (Some(website), _) => Ok((copied("website", None), Some(Write::Website(website)))),
    }
}

pub(super) fn ownership_controls(
    source_ownership: Result<Option<OwnershipControls>, DrError>,
    destination_ownership: Result<Option<OwnershipControls>, DrError>,
) -> Decided {
    match (source_ownership?, destination_ownership?) {
        (None, _) => Ok((
            skipped(
                "ownershipControls",
                "the source has none (ACLs enabled, the old default); the destination keeps its own",
            ),
            None,
        )),
        (source, current) if source == current => Ok((unchanged("ownershipControls"), None)),
        (Some(controls), _) => Ok((copied("ownershipControls", None), Some(Write::OwnershipControls(controls)))),
    }
}

pub(super) fn public_access_block(
    public_access: PublicAccess,
    source_public_access: Result<Option<PublicAccessBlockConfiguration>, DrError>,
    destination_public_access: Result<Option<PublicAccessBlockConfiguration>, DrError>,
) -> Decided {
    let (source, current) = (source_public_access?, destination_public_access?);
    let Some(desired) = settings::desired_public_access_block(public_access, source.as_ref()) else {
        let why = "S3DR_PUBLIC_ACCESS=same-as-source and the source has none";
        return Ok((skipped("publicAccessBlock", why), None));
    };
    if current.as_ref().is_some_and(|c| settings::same_public_access_block(c, &desired)) {
        return Ok((unchanged("publicAccessBlock"), None));
    }
    Ok((copied("publicAccessBlock", None), Some(Write::PublicAccessBlock(desired))))
}

pub(super) fn policy(
    source_policy: Result<Option<String>, DrError>,
    destination_policy: Result<Option<String>, DrError>,
    source_name: &str,
    name: &str,
    blocks_public_policy: bool,
) -> Decided {
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

pub(super) fn encryption(
    plan: &SourcePlan,
    destination_encryption: Result<Option<DefaultEncryption>, DrError>,
) -> Decided {
    let desired = settings::desired_encryption(plan.source_encryption.as_ref(), plan.replica_kms_key_arn.as_deref());
    if destination_encryption?.is_some_and(|current| settings::same_encryption(&current, &desired)) {
        return Ok((unchanged("encryption"), None));
    }
    Ok((copied("encryption", Some(&describe_encryption(&desired))), Some(Write::Encryption(desired))))
}

pub(super) fn object_lock(
    source_lock: Result<Option<ObjectLockConfiguration>, DrError>,
    destination_lock: Result<Option<ObjectLockConfiguration>, DrError>,
) -> Decided {
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

/// Lifecycle configurations are the same for S3 if their rules are (in any order) and their
/// transition size default is (unset reads as S3's default).
pub(super) fn same_lifecycle(current: &Lifecycle, desired: &Lifecycle) -> bool {
    let same_rules = settings::same_lifecycle_rules(&current.rules, &desired.rules);
    let same_size = match (&current.transition_minimum_size, &desired.transition_minimum_size) {
        (_, None) | (None, _) => true,
        (a, b) => a == b,
    };
    same_rules && same_size
}

pub(super) fn copied(setting: &str, detail: Option<&str>) -> SettingReport {
    SettingReport::new(setting, Status::Copied, detail.map(str::to_owned))
}

pub(super) fn unchanged(setting: &str) -> SettingReport {
    SettingReport::new(setting, Status::Unchanged, None)
}

pub(super) fn skipped(setting: &str, why: &str) -> SettingReport {
    SettingReport::new(setting, Status::Skipped, Some(why.to_owned()))
}

pub(super) fn describe_encryption(encryption: &DefaultEncryption) -> String {
    match &encryption.kms_key {
        Some(key) => format!("{} with {key}", encryption.algorithm),
        None => encryption.algorithm.clone(),
    }
}
