//! S3 Inventory: the verification of buckets too large to list in one run.
//!
//! s3-dr configures a daily inventory ([`INVENTORY_ID`], CSV, current versions, with Size,
//! LastModifiedDate and ReplicationStatus) on the source and on its destination, each delivered
//! to the report bucket of its own region (S3 requires the same region:
//! https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketInventoryConfiguration.html).
//! VerifyData then compares the two latest reports instead of listing the buckets.
//!
//! - [`manifest`]: the report's `manifest.json` and the columns its `fileSchema` names.
//! - [`compare`]: the comparison itself, streaming the gzip'd CSV data files: DR's rows are
//!   held as 128-bit key digests, a hash partition at a time, so memory is bounded by
//!   [`compare::Budget`] however many rows the reports have; the source's rows stream past.
//! - [`reports`]: the I/O: the inventory configurations, the latest manifest, the data files.
//!
//! Inventory rows are not documented to be in key order, so nothing here assumes an order.
//! What the reports cannot prove is never "complete": a missing manifest, a data file whose
//! size or MD5 differs from the manifest's, a gzip stream cut short, a row with the wrong number
//! of fields or a schema without a needed field are [`crate::DrError::InventoryMissing`] or
//! [`crate::DrError::InventoryInvalid`].

pub mod compare;
pub mod fixture;
pub mod manifest;
pub mod reports;

#[cfg(test)]
mod tests;

/// The inventory configuration's id on both buckets, and the path segment S3 names it by.
pub const INVENTORY_ID: &str = "s3-dr";

/// Where in the report bucket S3 delivers the reports:
/// `s3-dr/inventory/<bucket>/s3-dr/<YYYY-MM-DDTHH-MMZ>/manifest.json` and `.../data/*.csv.gz`
/// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html).
pub const INVENTORY_PREFIX: &str = "s3-dr/inventory";

/// The optional fields s3-dr asks for: what the comparison reads.
pub const INVENTORY_FIELDS: &[&str] = &["Size", "LastModifiedDate", "ReplicationStatus"];

/// Reports older than this are not compared: S3 delivers daily, so a report this old says the
/// inventory stopped (a configuration removed, a report bucket's policy changed).
pub const MAX_REPORT_AGE_SECONDS: i64 = 50 * 3600;
/// Two reports scanned further apart than this compare different days of the bucket.
pub const MAX_REPORT_GAP_SECONDS: i64 = 36 * 3600;

/// Why two reports (scanned at these Unix seconds) are too old or too far apart to compare.
pub fn staleness(now: i64, source_taken_at: i64, dr_taken_at: i64) -> Option<String> {
    let age = now - source_taken_at.min(dr_taken_at);
    let gap = (source_taken_at - dr_taken_at).abs();
    if age > MAX_REPORT_AGE_SECONDS {
        return Some(format!(
            "the older report was scanned {} ago and S3 delivers daily: the inventory has stopped (check both buckets' s3-dr inventory configuration and the report buckets' policy)",
            crate::verify::duration(age.max(0) as u64)
        ));
    }
    if gap > MAX_REPORT_GAP_SECONDS {
        return Some(format!(
            "the two reports were scanned {} apart: they describe different days",
            crate::verify::duration(gap as u64)
        ));
    }
    None
}

/// Where a bucket's reports are: `<INVENTORY_PREFIX>/<bucket>/<INVENTORY_ID>/`.
pub fn reports_prefix(bucket: &str) -> String {
    format!("{INVENTORY_PREFIX}/{bucket}/{INVENTORY_ID}/")
}
