//! The I/O of the inventory path: the configurations on both buckets, the latest report's
//! manifest, and a data file as a blocking reader for [`super::compare::compare`].

use std::io::Read;

use md5::Digest;

use aws_sdk_s3::types::{
    InventoryConfiguration, InventoryDestination, InventoryFormat, InventoryFrequency, InventoryIncludedObjectVersions,
    InventoryOptionalField, InventoryS3BucketDestination, InventorySchedule,
};
use aws_sdk_s3::Client;

use super::manifest::{is_report_folder, Manifest};
use super::{reports_prefix, INVENTORY_FIELDS, INVENTORY_ID, INVENTORY_PREFIX};
use crate::bucket;
use crate::error::{aws_code, AwsResultExt, DrError};

/// The configuration s3-dr wants on a bucket: daily, CSV, current versions, the fields the
/// comparison reads, delivered to `report_bucket` under [`INVENTORY_PREFIX`].
pub fn wanted(report_bucket: &str, account_id: Option<&str>) -> Result<InventoryConfiguration, DrError> {
    let destination = InventoryS3BucketDestination::builder()
        .bucket(format!("arn:aws:s3:::{report_bucket}"))
        .set_account_id(account_id.map(str::to_owned))
        .format(InventoryFormat::Csv)
        .prefix(INVENTORY_PREFIX)
        .build()
        .map_err(|e| DrError::Internal(format!("building the inventory destination: {e}")))?;
    InventoryConfiguration::builder()
        .id(INVENTORY_ID)
        .is_enabled(true)
        .destination(InventoryDestination::builder().s3_bucket_destination(destination).build())
        .schedule(
            InventorySchedule::builder()
                .frequency(InventoryFrequency::Daily)
                .build()
                .map_err(|e| DrError::Internal(format!("building the inventory schedule: {e}")))?,
        )
        .included_object_versions(InventoryIncludedObjectVersions::Current)
        .set_optional_fields(Some(INVENTORY_FIELDS.iter().map(|f| InventoryOptionalField::from(*f)).collect()))
        .build()
        .map_err(|e| DrError::Internal(format!("building the inventory configuration: {e}")))
}

/// Whether `current` already does what `wanted` asks (the fields compared as sets: S3 may
/// return them in another order).
pub fn is_current(current: Option<&InventoryConfiguration>, wanted: &InventoryConfiguration) -> bool {
    let Some(current) = current else { return false };
    let fields = |c: &InventoryConfiguration| {
        let mut names: Vec<String> = c.optional_fields().iter().map(|f| f.as_str().to_owned()).collect();
        names.sort();
        names
    };
    let target = |c: &InventoryConfiguration| {
        c.destination()
            .and_then(|d| d.s3_bucket_destination())
            .map(|d| (d.bucket().to_owned(), d.format().clone(), d.prefix().map(str::to_owned)))
    };
    current.is_enabled() == wanted.is_enabled()
        && current.included_object_versions() == wanted.included_object_versions()
        && current.schedule().map(|s| s.frequency()) == wanted.schedule().map(|s| s.frequency())
        && current.filter().is_none()
        && target(current) == target(wanted)
        && fields(current) == fields(wanted)
}

/// Configures the inventory on `bucket` unless it already is: true when it wrote.
pub async fn ensure(s3: &Client, bucket: &str, wanted: InventoryConfiguration) -> Result<bool, DrError> {
    let current = bucket::inventory_configuration(s3, bucket, INVENTORY_ID).await?;
    if is_current(current.as_ref(), &wanted) {
        return Ok(false);
    }
    bucket::put_inventory_configuration(s3, bucket, wanted).await?;
    Ok(true)
}

/// The newest complete report of `bucket` in `report_bucket`: its manifest key and contents.
/// S3 writes `manifest.checksum` (the MD5 of `manifest.json`) last: a folder without it is a
/// delivery in progress and the one before it is used; a checksum that does not match is
/// `InventoryInvalid`. None when there is no complete report at all.
pub async fn latest_manifest(
    s3: &Client,
    report_bucket: &str,
    bucket: &str,
    needs_replication_status: bool,
) -> Result<Option<(String, Manifest)>, DrError> {
    let prefix = reports_prefix(bucket);
    let mut folders = Vec::new();
    let mut pages = s3.list_objects_v2().bucket(report_bucket).prefix(&prefix).delimiter("/").into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.aws(report_bucket, "ListObjectsV2")?;
        folders.extend(
            page.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix())
                .filter(|p| {
                    p.strip_prefix(prefix.as_str())
                        .and_then(|rest| rest.strip_suffix('/'))
                        .is_some_and(is_report_folder)
                })
                .map(str::to_owned),
        );
    }
    folders.sort_unstable_by(|a, b| b.cmp(a));
    for folder in folders {
        let key = format!("{folder}manifest.json");
        let Some(checksum) = read(s3, report_bucket, &format!("{folder}manifest.checksum")).await? else { continue };
        let Some(body) = read(s3, report_bucket, &key).await? else { continue };
        let invalid = |reason: String| DrError::InventoryInvalid {
            bucket: bucket.to_owned(),
            location: format!("s3://{report_bucket}/{key}"),
            reason,
        };
        let md5: String = md5::Md5::digest(&body).iter().map(|b| format!("{b:02x}")).collect();
        let expected = String::from_utf8_lossy(&checksum).trim().to_ascii_lowercase();
        if md5 != expected {
            return Err(invalid(format!("its MD5 is {md5}, manifest.checksum says {expected}: cut short or replaced")));
        }
        let manifest = Manifest::parse(&body, needs_replication_status).map_err(invalid)?;
        return Ok(Some((key, manifest)));
    }
    Ok(None)
}

/// A small object's bytes, or None if there is no such key.
async fn read(s3: &Client, report_bucket: &str, key: &str) -> Result<Option<Vec<u8>>, DrError> {
    match s3.get_object().bucket(report_bucket).key(key).send().await {
        Ok(output) => Ok(Some(
            output
                .body
                .collect()
                .await
                .map_err(|e| DrError::TransientAwsError {
                    bucket: report_bucket.to_owned(),
                    operation: "GetObject",
                    detail: format!("reading {key}: {e}"),
                })?
                .to_vec(),
        )),
        Err(error) if aws_code(&error) == Some("NoSuchKey") => Ok(None),
        Err(error) => Err(error).aws(report_bucket, "GetObject"),
    }
}

/// A data file's bytes, read on a blocking thread (the comparison's) from the GetObject stream,
/// a buffer at a time: never the whole file in memory.
pub fn open_blocking(
    runtime: &tokio::runtime::Handle,
    s3: &Client,
    report_bucket: &str,
    key: &str,
) -> Result<Box<dyn Read + Send>, DrError> {
    let output =
        runtime.block_on(s3.get_object().bucket(report_bucket).key(key).send()).aws(report_bucket, "GetObject")?;
    Ok(Box::new(tokio_util::io::SyncIoBridge::new_with_handle(output.body.into_async_read(), runtime.clone())))
}
