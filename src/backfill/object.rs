//! One object of a `copy` backfill: whether S3 can copy it at all, and what the copy must be
//! told so that it keeps what a DR copy must keep. Pure: `backfill::copy` reads the source's
//! HeadObject into [`SourceObject`] and sends what [`CopyPlan`] says.
//!
//! What CopyObject does not carry by itself (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html):
//! - `x-amz-website-redirect-location` "is not copied when using the x-amz-metadata-directive
//!   header. To copy the value, you must specify x-amz-website-redirect-location";
//! - Object Lock retention and legal hold are request headers "that you want to apply to the
//!   object copy": without them the copy has only the destination's default retention;
//! - server-side encryption is the request's, or the destination's default: a DSSE-KMS object
//!   would become SSE-KMS or SSE-S3;
//! - a multipart copy (CreateMultipartUpload + UploadPartCopy) carries nothing of the source:
//!   content headers, `Expires`, metadata, tags and the checksum algorithm are all set on
//!   CreateMultipartUpload. CopyObject keeps the source's checksum algorithm by default.

use serde::{Deserialize, Serialize};

/// What HeadObject says about a source object (only what the copy decisions need).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceObject {
    pub storage_class: Option<String>,
    /// The `x-amz-restore` header: `ongoing-request="false", expiry-date="..."` once restored.
    pub restore: Option<String>,
    /// Intelligent-Tiering's `ARCHIVE_ACCESS` / `DEEP_ARCHIVE_ACCESS`.
    pub archive_status: Option<String>,
    /// `AES256`, `aws:kms`, `aws:kms:dsse`.
    pub server_side_encryption: Option<String>,
    pub bucket_key_enabled: bool,
    /// Set for SSE-C objects: S3 cannot read them without the customer's key.
    pub sse_customer_algorithm: Option<String>,
    pub website_redirect_location: Option<String>,
    /// `CRC32`, `CRC32C`, `CRC64NVME`, `SHA1`, `SHA256`: the algorithm of the checksum S3 keeps.
    pub checksum_algorithm: Option<String>,
    pub object_lock_mode: Option<String>,
    /// Seconds since the epoch.
    pub object_lock_retain_until: Option<i64>,
    pub object_lock_legal_hold: bool,
}

/// Why S3 cannot copy an object, as reported (not retried, not a failure of s3-dr's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum NotCopyable {
    /// In an archive tier and not restored (the storage class or tier).
    Archived(String),
    /// Encrypted with a customer-provided key (SSE-C), which S3 does not keep.
    CustomerKey,
}

impl NotCopyable {
    pub fn describe(&self) -> String {
        match self {
            NotCopyable::Archived(tier) => format!("archived ({tier}), not restored"),
            NotCopyable::CustomerKey => "SSE-C: encrypted with a customer key S3 does not keep".to_owned(),
        }
    }
}

/// Storage classes whose objects must be restored before S3 can read them: "you must first
/// restore a copy of the object before you can copy it" (CopyObject). Glacier Instant Retrieval
/// is read directly.
const ARCHIVE_CLASSES: &[&str] = &["GLACIER", "DEEP_ARCHIVE"];

/// Can S3 copy this object? SSE-C needs the key; an archived object needs a completed restore
/// (`ongoing-request="false"`), and Intelligent-Tiering's archive tiers a restore to the
/// frequent tier first (https://docs.aws.amazon.com/AmazonS3/latest/userguide/intelligent-tiering-managing.html).
pub fn copyability(object: &SourceObject) -> Result<(), NotCopyable> {
    if object.sse_customer_algorithm.is_some() {
        return Err(NotCopyable::CustomerKey);
    }
    if let Some(tier) = &object.archive_status {
        return Err(NotCopyable::Archived(format!("INTELLIGENT_TIERING {tier}")));
    }
    let restored = object.restore.as_deref().is_some_and(|r| r.contains("ongoing-request=\"false\""));
    match object.storage_class.as_deref() {
        Some(class) if ARCHIVE_CLASSES.contains(&class) && !restored => Err(NotCopyable::Archived(class.to_owned())),
        _ => Ok(()),
    }
}

/// How the copy is encrypted: as the source is, with the DR key for the KMS kinds (S3
/// replication does the same: SSE-S3 stays SSE-S3, SSE-KMS and DSSE-KMS are re-encrypted with
/// the rule's replica key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyEncryption {
    /// SSE-S3, or no header: the destination's default applies.
    Default,
    Kms {
        algorithm: String,
        key: String,
        bucket_key: bool,
    },
}

/// Everything a copy sets that CopyObject would not carry by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyPlan {
    pub encryption: CopyEncryption,
    pub website_redirect_location: Option<String>,
    /// Only on the multipart path (CopyObject keeps the source's algorithm by default).
    pub checksum_algorithm: Option<String>,
    /// Retention to apply: only one that still runs (S3 refuses a retain-until in the past),
    /// and only if the destination has Object Lock.
    pub object_lock: Option<(String, i64)>,
    pub legal_hold: bool,
}

/// `kms_key`: the key of SSE-KMS copies (the DR-region key), or None for the destination
/// bucket's default encryption, which a copy without encryption headers takes
/// (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html, "Server-side encryption");
/// `destination_locked`: the destination has Object Lock; `now`: seconds since the epoch.
pub fn copy_plan(object: &SourceObject, kms_key: Option<&str>, destination_locked: bool, now: i64) -> CopyPlan {
    let encryption = match (object.server_side_encryption.as_deref(), kms_key) {
        (Some(algorithm), Some(key)) if algorithm.starts_with("aws:kms") => CopyEncryption::Kms {
            algorithm: algorithm.to_owned(),
            key: key.to_owned(),
            bucket_key: object.bucket_key_enabled,
        },
        _ => CopyEncryption::Default,
    };
    let object_lock = match (&object.object_lock_mode, object.object_lock_retain_until) {
        (Some(mode), Some(until)) if destination_locked && until > now => Some((mode.clone(), until)),
        _ => None,
    };
    CopyPlan {
        encryption,
        website_redirect_location: object.website_redirect_location.clone(),
        checksum_algorithm: object.checksum_algorithm.clone(),
        object_lock,
        legal_hold: destination_locked && object.object_lock_legal_hold,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "arn:aws:kms:us-east-2:123456789012:key/dr";

    #[test]
    fn archived_and_customer_key_objects_cannot_be_copied() {
        let object = |class: &str, restore: Option<&str>| SourceObject {
            storage_class: Some(class.into()),
            restore: restore.map(str::to_owned),
            ..SourceObject::default()
        };
        assert_eq!(copyability(&object("GLACIER", None)), Err(NotCopyable::Archived("GLACIER".into())));
        assert_eq!(copyability(&object("DEEP_ARCHIVE", None)), Err(NotCopyable::Archived("DEEP_ARCHIVE".into())));
        assert!(copyability(&object("GLACIER", Some("ongoing-request=\"true\""))).is_err(), "restore under way");
        let restored = "ongoing-request=\"false\", expiry-date=\"Fri, 27 Nov 2026 11:45:08 GMT\"";
        assert_eq!(copyability(&object("GLACIER", Some(restored))), Ok(()));
        assert_eq!(copyability(&object("GLACIER_IR", None)), Ok(()));
        assert_eq!(copyability(&object("STANDARD", None)), Ok(()));
        let tiered =
            SourceObject { archive_status: Some("DEEP_ARCHIVE_ACCESS".into()), ..object("INTELLIGENT_TIERING", None) };
        assert!(matches!(copyability(&tiered), Err(NotCopyable::Archived(t)) if t.contains("DEEP_ARCHIVE_ACCESS")));
        let sse_c = SourceObject { sse_customer_algorithm: Some("AES256".into()), ..SourceObject::default() };
        assert_eq!(copyability(&sse_c), Err(NotCopyable::CustomerKey));
    }

    #[test]
    fn encryption_keeps_its_kind_with_the_dr_key() {
        let object = |sse: Option<&str>| SourceObject {
            server_side_encryption: sse.map(str::to_owned),
            bucket_key_enabled: true,
            ..SourceObject::default()
        };
        assert_eq!(copy_plan(&object(Some("AES256")), Some(KEY), false, 0).encryption, CopyEncryption::Default);
        assert_eq!(copy_plan(&object(None), Some(KEY), false, 0).encryption, CopyEncryption::Default);
        // Failback: the source bucket's own default encryption, whatever DR's key was.
        assert_eq!(copy_plan(&object(Some("aws:kms")), None, false, 0).encryption, CopyEncryption::Default);
        for algorithm in ["aws:kms", "aws:kms:dsse"] {
            assert_eq!(
                copy_plan(&object(Some(algorithm)), Some(KEY), false, 0).encryption,
                CopyEncryption::Kms { algorithm: algorithm.into(), key: KEY.into(), bucket_key: true }
            );
        }
    }

    #[test]
    fn lock_redirect_and_checksum_travel() {
        let object = SourceObject {
            website_redirect_location: Some("/new-home".into()),
            checksum_algorithm: Some("SHA256".into()),
            object_lock_mode: Some("GOVERNANCE".into()),
            object_lock_retain_until: Some(2_000),
            object_lock_legal_hold: true,
            ..SourceObject::default()
        };
        let plan = copy_plan(&object, Some(KEY), true, 1_000);
        assert_eq!(plan.website_redirect_location.as_deref(), Some("/new-home"));
        assert_eq!(plan.checksum_algorithm.as_deref(), Some("SHA256"));
        assert_eq!((plan.object_lock, plan.legal_hold), (Some(("GOVERNANCE".into(), 2_000)), true));
        // A retention that has run out is not set again (S3 refuses a date in the past).
        assert_eq!(copy_plan(&object, Some(KEY), true, 3_000).object_lock, None);
        // A destination without Object Lock cannot take either.
        let unlocked = copy_plan(&object, Some(KEY), false, 1_000);
        assert_eq!((unlocked.object_lock, unlocked.legal_hold), (None, false));
    }
}
