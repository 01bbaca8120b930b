//! CloneSettings' writes: one per setting that differs, made after every decision.

use aws_sdk_s3::types::{CorsConfiguration, ObjectLockConfiguration};

use crate::bucket::{self, DefaultEncryption, Lifecycle};
use crate::error::{AwsResultExt, DrError};
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
        Write::Cors(configuration) => s3
            .put_bucket_cors()
            .bucket(name)
            .cors_configuration(configuration)
            .send()
            .await
            .aws(name, "PutBucketCors")
            .map(|_| ()),
        Write::DeleteCors => {
            s3.delete_bucket_cors().bucket(name).send().await.aws(name, "DeleteBucketCors").map(|_| ())
        }
        Write::Website(website) => s3
            .put_bucket_website()
            .bucket(name)
            .website_configuration(website)
            .send()
            .await
            .aws(name, "PutBucketWebsite")
            .map(|_| ()),
        Write::DeleteWebsite => {
            s3.delete_bucket_website().bucket(name).send().await.aws(name, "DeleteBucketWebsite").map(|_| ())
        }
        Write::OwnershipControls(controls) => s3
            .put_bucket_ownership_controls()
            .bucket(name)
            .ownership_controls(controls)
            .send()
            .await
            .aws(name, "PutBucketOwnershipControls")
            .map(|_| ()),
        Write::PublicAccessBlock(block) => s3
            .put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(block)
            .send()
            .await
            .aws(name, "PutPublicAccessBlock")
            .map(|_| ()),
        Write::Policy(policy) => {
            s3.put_bucket_policy().bucket(name).policy(policy).send().await.aws(name, "PutBucketPolicy").map(|_| ())
        }
        Write::DeletePolicy => {
            s3.delete_bucket_policy().bucket(name).send().await.aws(name, "DeleteBucketPolicy").map(|_| ())
        }
        Write::Encryption(encryption) => bucket::put_encryption(s3, name, &encryption).await,
        Write::ObjectLock(configuration) => s3
            .put_object_lock_configuration()
            .bucket(name)
            .object_lock_configuration(configuration)
            .send()
            .await
            .aws(name, "PutObjectLockConfiguration")
            .map(|_| ()),
    }
}
