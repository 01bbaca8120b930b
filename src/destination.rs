//! Whether an existing bucket may serve as a source's destination: shared by ValidateSource
//! (which refuses early) and EnsureDestination (which adopts).

use crate::bucket;
use crate::error::DrError;
use crate::tags::{self, Tag, SOURCE_TAG};

/// May an existing `destination` serve `source`? Ok(false): it is ours already. Ok(true): it is
/// empty and untagged, so it may be adopted (and needs our tag). Anything else is someone's
/// bucket with data, and s3-dr will not take it over.
pub async fn vet_existing(
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
