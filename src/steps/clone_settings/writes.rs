//! CloneSettings' writes: one per setting that differs, made after every decision.

use aws_sdk_s3::types::{CorsConfiguration, ObjectLockConfiguration};

use crate::bucket::{self, DefaultEncryption, Lifecycle};
use crate::error::DrError;
use crate::settings;

/// A write to the destination that makes one setting as the source's.
#[derive(Debug)]
pub enum Write {
    /// The destination's tags from these source tags, computed again from the destination's
    /// tags as they are right before the write (see `apply`).
    Tags {
        source_tags: Vec<crate::tags::Tag>,
    },
    Lifecycle(Lifecycle),
    Cors(CorsConfiguration),
    DeleteCors,
    Website(aws_sdk_s3::types::WebsiteConfiguration),
    DeleteWebsite,
    OwnershipControls(aws_sdk_s3::types::OwnershipControls),
    PublicAccessBlock(aws_sdk_s3::types::PublicAccessBlockConfiguration),
    Policy(String),
    DeletePolicy,
    Encryption(DefaultEncryption),
    ObjectLock(ObjectLockConfiguration),
}

pub async fn apply(
    s3: &aws_sdk_s3::Client,
    name: &str,
    write: Write,
    match_tag: &crate::tags::MatchTag,
    source_name: &str,
) -> Result<(), DrError> {
    match write {
        Write::Tags { source_tags } => {
            // Read again right before the write: the backfill tags another execution may have
            // written since the first read are kept as they are now.
            bucket::update_tags(s3, name, |fresh| {
                settings::destination_tags(&source_tags, fresh, match_tag, source_name).0
            })
            .await
            .map(|_| ())
        }
        Write::Lifecycle(lifecycle) => bucket::put_lifecycle(s3, name, &lifecycle).await,
        Write::Cors(configuration) => bucket::put_cors(s3, name, configuration).await,
        Write::DeleteCors => bucket::delete_cors(s3, name).await,
        Write::Website(website) => bucket::put_website(s3, name, website).await,
        Write::DeleteWebsite => bucket::delete_website(s3, name).await,
        Write::OwnershipControls(controls) => bucket::put_ownership_controls(s3, name, controls).await,
        Write::PublicAccessBlock(block) => bucket::put_public_access_block(s3, name, block).await,
        Write::Policy(policy) => bucket::put_policy(s3, name, policy).await,
        Write::DeletePolicy => bucket::delete_policy(s3, name).await,
        Write::Encryption(encryption) => bucket::put_encryption(s3, name, &encryption).await,
        Write::ObjectLock(configuration) => bucket::put_object_lock(s3, name, configuration).await,
    }
}
