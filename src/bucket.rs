//! Every read and write of one S3 bucket setting that s3-dr makes, side by side. Each read maps its "not configured" error code to
//! `None` (AWS reports an absent setting as an error) and every other error to [`DrError`].
//! S3's API model names none of these codes (NoSuchTagSet, ...), so the code is matched, not a
//! typed variant; where the SDK has a variant (CreateBucket's, KMS's, Step Functions') it is used.

use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketVersioningStatus, CorsConfiguration, CorsRule, LifecycleRule,
    ObjectLockConfiguration, OwnershipControls, PublicAccessBlockConfiguration, ReplicationConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tagging, TransitionDefaultMinimumObjectSize, VersioningConfiguration, WebsiteConfiguration,
};
use aws_sdk_s3::Client;

use crate::error::{aws_code, http_status, AwsResultExt, DrError};
use crate::tags::Tag;

/// The region of `bucket`, or None if it does not exist. GetBucketLocation answers for a bucket
/// of any region from any regional endpoint; an empty constraint means us-east-1.
pub async fn region(s3: &Client, bucket: &str) -> Result<Option<String>, DrError> {
    match s3.get_bucket_location().bucket(bucket).send().await {
        Ok(output) => Ok(Some(match output.location_constraint().map(|c| c.as_str()) {
            None | Some("") => "us-east-1".to_owned(),
            Some("EU") => "eu-west-1".to_owned(),
            Some(region) => region.to_owned(),
        })),
        Err(error) if aws_code(&error) == Some("NoSuchBucket") => Ok(None),
        Err(error) => Err(error).aws(bucket, "GetBucketLocation"),
    }
}

pub async fn tags(s3: &Client, bucket: &str) -> Result<Vec<Tag>, DrError> {
    match s3.get_bucket_tagging().bucket(bucket).send().await {
        Ok(output) => Ok(output.tag_set().iter().map(|t| Tag::new(t.key(), t.value())).collect()),
        Err(error) if aws_code(&error) == Some("NoSuchTagSet") => Ok(Vec::new()),
        Err(error) => Err(error).aws(bucket, "GetBucketTagging"),
    }
}

/// The bucket's tags, or None if there is no such bucket.
pub async fn tags_if_exists(s3: &Client, bucket: &str) -> Result<Option<Vec<Tag>>, DrError> {
    tags_unless(s3, bucket, &[404]).await
}

/// A destination's tags, or None if this client finds none it can read: no such bucket, another
/// account's (403), one in another region (301). What the caller checks next (HeadBucket) tells
/// those apart, with the errors they call for.
pub async fn destination_tags(s3: &Client, bucket: &str) -> Result<Option<Vec<Tag>>, DrError> {
    tags_unless(s3, bucket, &[301, 403, 404]).await
}

async fn tags_unless(s3: &Client, bucket: &str, absent: &[u16]) -> Result<Option<Vec<Tag>>, DrError> {
    match s3.get_bucket_tagging().bucket(bucket).send().await {
        Ok(output) => Ok(Some(output.tag_set().iter().map(|t| Tag::new(t.key(), t.value())).collect())),
        Err(error) if aws_code(&error) == Some("NoSuchTagSet") => Ok(Some(Vec::new())),
        Err(error) if aws_code(&error) == Some("NoSuchBucket") && absent.contains(&404) => Ok(None),
        Err(error) if crate::error::http_status(&error).is_some_and(|s| s != 404 && absent.contains(&s)) => Ok(None),
        Err(error) => Err(error).aws(bucket, "GetBucketTagging"),
    }
}

/// "Enabled", "Suspended", or "Off" (never enabled: S3 returns no status).
pub async fn versioning(s3: &Client, bucket: &str) -> Result<String, DrError> {
    let output = s3.get_bucket_versioning().bucket(bucket).send().await.aws(bucket, "GetBucketVersioning")?;
    Ok(output.status().map_or("Off", BucketVersioningStatus::as_str).to_owned())
}

pub async fn replication(s3: &Client, bucket: &str) -> Result<Option<ReplicationConfiguration>, DrError> {
    match s3.get_bucket_replication().bucket(bucket).send().await {
        Ok(output) => Ok(output.replication_configuration().cloned()),
        Err(error) if aws_code(&error) == Some("ReplicationConfigurationNotFoundError") => Ok(None),
        Err(error) => Err(error).aws(bucket, "GetBucketReplication"),
    }
}

/// PutBucketReplication: the whole configuration (S3 replaces it).
pub async fn put_replication(
    s3: &Client,
    bucket: &str,
    configuration: ReplicationConfiguration,
) -> Result<(), DrError> {
    s3.put_bucket_replication()
        .bucket(bucket)
        .replication_configuration(configuration)
        .send()
        .await
        .aws(bucket, "PutBucketReplication")?;
    Ok(())
}

/// DeleteBucketReplication (S3 refuses a configuration with no rules).
pub async fn delete_replication(s3: &Client, bucket: &str) -> Result<(), DrError> {
    s3.delete_bucket_replication().bucket(bucket).send().await.aws(bucket, "DeleteBucketReplication")?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DefaultEncryption {
    /// `AES256`, `aws:kms` or `aws:kms:dsse`.
    pub algorithm: String,
    pub kms_key: Option<String>,
    pub bucket_key: bool,
}

impl DefaultEncryption {
    pub fn is_kms(&self) -> bool {
        self.algorithm.starts_with("aws:kms")
    }
}

pub async fn default_encryption(s3: &Client, bucket: &str) -> Result<Option<DefaultEncryption>, DrError> {
    match s3.get_bucket_encryption().bucket(bucket).send().await {
        Ok(output) => {
            let rule = output.server_side_encryption_configuration().and_then(|c| c.rules().first());
            Ok(rule.and_then(|rule| {
                let default = rule.apply_server_side_encryption_by_default()?;
                Some(DefaultEncryption {
                    algorithm: default.sse_algorithm().as_str().to_owned(),
                    kms_key: default.kms_master_key_id().map(str::to_owned),
                    bucket_key: rule.bucket_key_enabled().unwrap_or(false),
                })
            }))
        }
        Err(error) if aws_code(&error) == Some("ServerSideEncryptionConfigurationNotFoundError") => Ok(None),
        Err(error) => Err(error).aws(bucket, "GetBucketEncryption"),
    }
}

pub async fn public_access_block(s3: &Client, bucket: &str) -> Result<Option<PublicAccessBlockConfiguration>, DrError> {
    match s3.get_public_access_block().bucket(bucket).send().await {
        Ok(output) => Ok(output.public_access_block_configuration().cloned()),
        Err(error) if aws_code(&error) == Some("NoSuchPublicAccessBlockConfiguration") => Ok(None),
        Err(error) => Err(error).aws(bucket, "GetPublicAccessBlock"),
    }
}

pub async fn put_public_access_block(
    s3: &Client,
    bucket: &str,
    block: PublicAccessBlockConfiguration,
) -> Result<(), DrError> {
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(block)
        .send()
        .await
        .aws(bucket, "PutPublicAccessBlock")?;
    Ok(())
}

/// The Object Lock configuration; None if Object Lock was never enabled.
pub async fn object_lock(s3: &Client, bucket: &str) -> Result<Option<ObjectLockConfiguration>, DrError> {
    match s3.get_object_lock_configuration().bucket(bucket).send().await {
        Ok(output) => Ok(output.object_lock_configuration().cloned()),
        Err(error) if aws_code(&error) == Some("ObjectLockConfigurationNotFoundError") => Ok(None),
        Err(error) => Err(error).aws(bucket, "GetObjectLockConfiguration"),
    }
}

pub async fn put_object_lock(s3: &Client, bucket: &str, configuration: ObjectLockConfiguration) -> Result<(), DrError> {
    s3.put_object_lock_configuration()
        .bucket(bucket)
        .object_lock_configuration(configuration)
        .send()
        .await
        .aws(bucket, "PutObjectLockConfiguration")?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq)]
pub struct Lifecycle {
    pub rules: Vec<LifecycleRule>,
    pub transition_minimum_size: Option<TransitionDefaultMinimumObjectSize>,
}

pub async fn lifecycle(s3: &Client, bucket: &str) -> Result<Option<Lifecycle>, DrError> {
    match s3.get_bucket_lifecycle_configuration().bucket(bucket).send().await {
        Ok(output) => Ok(Some(Lifecycle {
            rules: output.rules().to_vec(),
            transition_minimum_size: output.transition_default_minimum_object_size().cloned(),
        })),
        Err(error) if aws_code(&error) == Some("NoSuchLifecycleConfiguration") => Ok(None),
        Err(error) => Err(error).aws(bucket, "GetBucketLifecycleConfiguration"),
    }
}

/// PutBucketLifecycleConfiguration (it replaces every rule).
pub async fn put_lifecycle(s3: &Client, bucket: &str, lifecycle: &Lifecycle) -> Result<(), DrError> {
    let configuration = BucketLifecycleConfiguration::builder()
        .set_rules(Some(lifecycle.rules.clone()))
        .build()
        .map_err(|e| DrError::Internal(format!("building lifecycle: {e}")))?;
    s3.put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(configuration)
        .set_transition_default_minimum_object_size(lifecycle.transition_minimum_size.clone())
        .send()
        .await
        .aws(bucket, "PutBucketLifecycleConfiguration")?;
    Ok(())
}

pub async fn cors(s3: &Client, bucket: &str) -> Result<Option<Vec<CorsRule>>, DrError> {
    match s3.get_bucket_cors().bucket(bucket).send().await {
        Ok(output) => Ok(Some(output.cors_rules().to_vec())),
        Err(error) if aws_code(&error) == Some("NoSuchCORSConfiguration") => Ok(None),
        Err(error) => Err(error).aws(bucket, "GetBucketCors"),
    }
}

pub async fn put_cors(s3: &Client, bucket: &str, configuration: CorsConfiguration) -> Result<(), DrError> {
    s3.put_bucket_cors().bucket(bucket).cors_configuration(configuration).send().await.aws(bucket, "PutBucketCors")?;
    Ok(())
}

pub async fn delete_cors(s3: &Client, bucket: &str) -> Result<(), DrError> {
    s3.delete_bucket_cors().bucket(bucket).send().await.aws(bucket, "DeleteBucketCors")?;
    Ok(())
}

pub async fn website(s3: &Client, bucket: &str) -> Result<Option<WebsiteConfiguration>, DrError> {
    match s3.get_bucket_website().bucket(bucket).send().await {
        Ok(output) => Ok(Some(
            WebsiteConfiguration::builder()
                .set_error_document(output.error_document().cloned())
                .set_index_document(output.index_document().cloned())
                .set_redirect_all_requests_to(output.redirect_all_requests_to().cloned())
                .set_routing_rules((!output.routing_rules().is_empty()).then(|| output.routing_rules().to_vec()))
                .build(),
        )),
        Err(error) if aws_code(&error) == Some("NoSuchWebsiteConfiguration") => Ok(None),
        Err(error) => Err(error).aws(bucket, "GetBucketWebsite"),
    }
}

pub async fn put_website(s3: &Client, bucket: &str, website: WebsiteConfiguration) -> Result<(), DrError> {
    s3.put_bucket_website()
        .bucket(bucket)
        .website_configuration(website)
        .send()
        .await
        .aws(bucket, "PutBucketWebsite")?;
    Ok(())
}

pub async fn delete_website(s3: &Client, bucket: &str) -> Result<(), DrError> {
    s3.delete_bucket_website().bucket(bucket).send().await.aws(bucket, "DeleteBucketWebsite")?;
    Ok(())
}

pub async fn ownership_controls(s3: &Client, bucket: &str) -> Result<Option<OwnershipControls>, DrError> {
    match s3.get_bucket_ownership_controls().bucket(bucket).send().await {
        Ok(output) => Ok(output.ownership_controls().cloned()),
        Err(error) if aws_code(&error) == Some("OwnershipControlsNotFoundError") => Ok(None),
        Err(error) => Err(error).aws(bucket, "GetBucketOwnershipControls"),
    }
}

pub async fn put_ownership_controls(s3: &Client, bucket: &str, controls: OwnershipControls) -> Result<(), DrError> {
    s3.put_bucket_ownership_controls()
        .bucket(bucket)
        .ownership_controls(controls)
        .send()
        .await
        .aws(bucket, "PutBucketOwnershipControls")?;
    Ok(())
}

/// The bucket policy document as S3 returns it.
pub async fn policy(s3: &Client, bucket: &str) -> Result<Option<String>, DrError> {
    match s3.get_bucket_policy().bucket(bucket).send().await {
        Ok(output) => Ok(output.policy().map(str::to_owned)),
        Err(error) if aws_code(&error) == Some("NoSuchBucketPolicy") => Ok(None),
        Err(error) => Err(error).aws(bucket, "GetBucketPolicy"),
    }
}

pub async fn put_policy(s3: &Client, bucket: &str, policy: String) -> Result<(), DrError> {
    s3.put_bucket_policy().bucket(bucket).policy(policy).send().await.aws(bucket, "PutBucketPolicy")?;
    Ok(())
}

pub async fn delete_policy(s3: &Client, bucket: &str) -> Result<(), DrError> {
    s3.delete_bucket_policy().bucket(bucket).send().await.aws(bucket, "DeleteBucketPolicy")?;
    Ok(())
}

/// One page of the account's buckets (at most `max`, by name, after `cursor`: the
/// ContinuationToken of the page before), with their regions, and the next page's cursor.
pub async fn list_page(
    s3: &Client,
    cursor: Option<&str>,
    max: i32,
) -> Result<(Vec<(String, Option<String>)>, Option<String>), DrError> {
    let page = s3
        .list_buckets()
        .max_buckets(max)
        .set_continuation_token(cursor.map(str::to_owned))
        .send()
        .await
        .aws("(all buckets)", "ListBuckets")?;
    let buckets = page
        .buckets()
        .iter()
        .filter_map(|b| Some((b.name()?.to_owned(), b.bucket_region().map(str::to_owned))))
        .collect();
    Ok((buckets, page.continuation_token().filter(|t| !t.is_empty()).map(str::to_owned)))
}

/// Every bucket of the account, with its region when ListBuckets gives it (it does when the
/// request has a parameter, here MaxBuckets). Pages of 10,000 by ContinuationToken.
pub async fn list_all(s3: &Client) -> Result<Vec<(String, Option<String>)>, DrError> {
    let mut buckets = Vec::new();
    let mut pages = s3.list_buckets().max_buckets(10_000).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.aws("(all buckets)", "ListBuckets")?;
        buckets.extend(
            page.buckets().iter().filter_map(|b| Some((b.name()?.to_owned(), b.bucket_region().map(str::to_owned)))),
        );
    }
    Ok(buckets)
}

/// Whether the bucket holds any object version or delete marker (one small list call).
pub async fn is_empty(s3: &Client, bucket: &str) -> Result<bool, DrError> {
    let output = s3.list_object_versions().bucket(bucket).max_keys(1).send().await.aws(bucket, "ListObjectVersions")?;
    Ok(output.versions().is_empty() && output.delete_markers().is_empty())
}

/// PutBucketVersioning: Enabled.
pub async fn put_versioning_enabled(s3: &Client, bucket: &str) -> Result<(), DrError> {
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build())
        .send()
        .await
        .aws(bucket, "PutBucketVersioning")?;
    Ok(())
}

/// PutBucketEncryption: `wanted` as the bucket's default encryption.
pub async fn put_encryption(s3: &Client, bucket: &str, wanted: &DefaultEncryption) -> Result<(), DrError> {
    let internal = |e: aws_sdk_s3::error::BuildError| DrError::Internal(format!("building encryption settings: {e}"));
    let default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::from(wanted.algorithm.as_str()))
        .set_kms_master_key_id(wanted.kms_key.clone())
        .build()
        .map_err(internal)?;
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(default)
        .bucket_key_enabled(wanted.bucket_key)
        .build();
    let configuration = ServerSideEncryptionConfiguration::builder().rules(rule).build().map_err(internal)?;
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(configuration)
        .send()
        .await
        .aws(bucket, "PutBucketEncryption")?;
    Ok(())
}

/// Replace the bucket's tags with `tags` (PutBucketTagging writes the whole set).
pub async fn put_tags(s3: &Client, bucket: &str, tags: &[Tag]) -> Result<(), DrError> {
    let internal = |e: aws_sdk_s3::error::BuildError| DrError::Internal(format!("building tags: {e}"));
    let tag_set = tags
        .iter()
        .map(|t| aws_sdk_s3::types::Tag::builder().key(&t.key).value(&t.value).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    let tagging = Tagging::builder().set_tag_set(Some(tag_set)).build().map_err(internal)?;
    s3.put_bucket_tagging().bucket(bucket).tagging(tagging).send().await.aws(bucket, "PutBucketTagging")?;
    Ok(())
}

/// Read-modify-write of a bucket's tags: `change` gets the current tags and returns the new set,
/// written only if it differs (order aside). True if it wrote.
pub async fn update_tags(s3: &Client, bucket: &str, change: impl FnOnce(&[Tag]) -> Vec<Tag>) -> Result<bool, DrError> {
    let current = tags(s3, bucket).await?;
    let desired = change(&current);
    let sorted = |mut tags: Vec<Tag>| {
        tags.sort_by(|a, b| a.key.cmp(&b.key));
        tags
    };
    if sorted(desired.clone()) == sorted(current) {
        return Ok(false);
    }
    put_tags(s3, bucket, &desired).await?;
    Ok(true)
}

/// What HeadBucket says about a bucket name, asked as `expected_owner`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    Absent,
    /// Ours, in this region.
    Present {
        region: Option<String>,
    },
    /// 403: another account owns the name (or we may not see it).
    Forbidden,
    /// 301: exists, in another region than the client's.
    ElsewhereRegion,
}

pub async fn presence(s3: &Client, bucket: &str, expected_owner: Option<&str>) -> Result<Presence, DrError> {
    match s3.head_bucket().bucket(bucket).set_expected_bucket_owner(expected_owner.map(str::to_owned)).send().await {
        Ok(output) => Ok(Presence::Present { region: output.bucket_region().map(str::to_owned) }),
        Err(error) => match http_status(&error) {
            Some(404) => Ok(Presence::Absent),
            Some(403) => Ok(Presence::Forbidden),
            Some(301) => Ok(Presence::ElsewhereRegion),
            _ => Err(error).aws(bucket, "HeadBucket"),
        },
    }
}

/// The inventory configuration `id`. AWS answers an absent one with NoSuchConfiguration
/// (404; the code S3 uses for inventory, analytics and metrics configurations alike:
/// https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html, "NoSuchConfiguration").
pub async fn inventory_configuration(
    s3: &Client,
    bucket: &str,
    id: &str,
) -> Result<Option<aws_sdk_s3::types::InventoryConfiguration>, DrError> {
    match s3.get_bucket_inventory_configuration().bucket(bucket).id(id).send().await {
        Ok(output) => Ok(output.inventory_configuration().cloned()),
        Err(error) if aws_code(&error) == Some("NoSuchConfiguration") => Ok(None),
        Err(error) => Err(error).aws(bucket, "GetBucketInventoryConfiguration"),
    }
}

pub async fn put_inventory_configuration(
    s3: &Client,
    bucket: &str,
    configuration: aws_sdk_s3::types::InventoryConfiguration,
) -> Result<(), DrError> {
    s3.put_bucket_inventory_configuration()
        .bucket(bucket)
        .id(configuration.id())
        .inventory_configuration(configuration)
        .send()
        .await
        .aws(bucket, "PutBucketInventoryConfiguration")?;
    Ok(())
}
