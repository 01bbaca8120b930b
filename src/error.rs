//! The one error type of s3-dr. Each variant is a stable Lambda `errorType` (its name), which
//! the state machines match in Retry and Catch: renaming a variant is a breaking change.
//!
//! Every message names the bucket, what is wrong, and what to do about it.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

/// Error codes that AWS documents as "try again": throttling, 5xx, timeouts.
const TRANSIENT_CODES: &[&str] = &[
    "SlowDown",
    "ServiceUnavailable",
    "InternalError",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "OperationAborted",
    "KMSInternalException",
    "DependencyTimeoutException",
    // A conditional write that met a concurrent one: "On a 409 failure you should retry"
    // (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html, If-Match).
    "ConditionalRequestConflict",
];

/// Codes S3 answers for an object in an archive tier (S3 Glacier Flexible Retrieval, Deep
/// Archive, or Intelligent-Tiering's archive tiers) that has not been restored: GetObject's
/// `InvalidObjectState` and CopyObject's `ObjectNotInActiveTierError`, both HTTP 403
/// (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html, "Errors";
/// https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html). The 403 is not a
/// permission problem: these codes are classified before the status.
pub const ARCHIVED_OBJECT_CODES: &[&str] = &["InvalidObjectState", "ObjectNotInActiveTierError"];

/// The variant's name is its `errorType` (derived: `strum::IntoStaticStr`), and
/// [`DrError::ALL_ERROR_TYPES`] lists them all (`strum::VariantNames`).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq, strum::IntoStaticStr, strum::VariantNames)]
pub enum DrError {
    /// The step event is malformed: nothing was read or changed.
    #[error("invalid input: {0}. Nothing was read or changed; send the input docs/events.md describes")]
    InvalidInput(String),

    /// The Lambda's S3DR_* environment is invalid: nothing was read or changed.
    #[error("invalid configuration: {0}. Nothing was read or changed; fix the setting (`s3-dr config check` applies the same rules) and redeploy")]
    InvalidConfig(String),

    #[error("source bucket {bucket} does not exist or is not visible to this account; check the name in the request")]
    SourceBucketNotFound { bucket: String },

    #[error("source bucket {bucket} is in {region}, which is the DR region: a regional outage would take both copies. Move the bucket's data to another region, or set S3DR_DR_REGION to a different region")]
    SourceInDrRegion { bucket: String, region: String },

    #[error("bucket {bucket} is an s3-dr destination (tag s3-dr:source={origin}); protecting it would replicate the replica. Remove the DR tag from {bucket}")]
    SourceIsDestination { bucket: String, origin: String },

    #[error("destination bucket name {destination} for {bucket} belongs to another AWS account (HeadBucket/CreateBucket refused). Choose another name by setting S3DR_DESTINATION_SUFFIX")]
    BucketNameTaken { bucket: String, destination: String },

    #[error("destination bucket {destination} for {bucket} cannot be used: {reason}. Nothing was changed")]
    DestinationConflict { bucket: String, destination: String, reason: String },

    #[error("bucket {bucket} needs a customer-managed KMS key in DR region {region} for its SSE-KMS objects (any bucket may hold some), but {detail}. Set S3DR_DR_KMS_KEY to an enabled key ARN or alias in {region} (the CDK app creates alias/s3-dr there)")]
    KmsKeyMissing { bucket: String, region: String, detail: String },

    #[error("bucket {bucket} has a replication configuration s3-dr must not rewrite: {detail}; then run the workflow again. Nothing was changed")]
    ReplicationConflict { bucket: String, detail: String },

    /// The source's bucket policy cannot be parsed, so it cannot be rewritten for the destination.
    #[error("bucket {bucket} has a bucket policy s3-dr cannot rewrite for its destination: {detail}. Fix the policy (aws s3api get-bucket-policy --bucket {bucket}) and run the workflow again")]
    InvalidSourcePolicy { bucket: String, detail: String },

    /// Replication and backfill ran, but some bucket settings could not be copied.
    #[error("bucket {bucket}: these settings were not cloned to {destination}: {failures}. The data is protected; fix the cause named for each setting and run the workflow again")]
    SettingsNotCloned { bucket: String, destination: String, failures: String },

    /// Existing objects were not all copied to the destination.
    #[error("backfill of bucket {bucket} to {destination} failed: {detail}. Objects already copied stay in place")]
    BackfillFailed { bucket: String, destination: String, detail: String },

    /// Verification of a bucket s3-dr does not protect: there is no DR copy to check.
    #[error("bucket {bucket} is not protected by s3-dr (it has no s3-dr replication rule), so there is no DR copy to verify. Tag it {match_tag} (or run `s3-dr protect {bucket}`) and verify once it is protected")]
    NotProtected { bucket: String, match_tag: String },

    /// The inventory comparison has no report to read.
    #[error("bucket {bucket} has no S3 Inventory report at {location}: S3 delivers the first within 48 hours of the inventory's configuration (VerifyData configures it). Verify by listing meanwhile (`s3-dr verify --method list {bucket}`), or check the report bucket's policy lets S3 deliver there")]
    InventoryMissing { bucket: String, location: String },

    /// A report says something the comparison cannot trust: it never yields a "complete".
    #[error("the S3 Inventory report of bucket {bucket} at {location} cannot be used: {reason}. Nothing was recorded; wait for the next daily report and run verify again, or verify by listing (`s3-dr verify --method list {bucket}`)")]
    InventoryInvalid { bucket: String, location: String, reason: String },

    /// Failover of a bucket whose destination is the primary already.
    #[error("bucket {bucket} is failed over already: {destination} is the primary (tag s3-dr:failover: {since}). Nothing was changed; the way back once its region is back is in docs/failover.md (failback)")]
    AlreadyFailedOver { bucket: String, destination: String, since: String },

    /// Failover to a DR copy known to lack objects.
    #[error("bucket {bucket} was not failed over: the DR copy {destination} is known incomplete: {detail}. Nothing was changed; run `s3-dr verify {bucket}` if its region answers, or fail over anyway with --force (what is missing stays behind)")]
    DrCopyIncomplete { bucket: String, destination: String, detail: String },

    /// Failback of a bucket whose destination is not the primary: never failed over, or failed
    /// back already.
    #[error("bucket {bucket} is not failed over ({destination} has no s3-dr:failover tag): there is nothing to fail back. Nothing was changed; check the name (`s3-dr status {bucket}`)")]
    NotFailedOver { bucket: String, destination: String },

    /// Failback while the source's region still fails.
    #[error("bucket {bucket} cannot fail back yet: its region {region} does not answer ({detail}). Nothing was changed and {destination} stays the primary; run failback again once S3 in {region} answers (check the AWS Health Dashboard)")]
    SourceRegionUnavailable { bucket: String, destination: String, region: String, detail: String },

    /// After the copy home, the source still lacks objects written in DR during the failover.
    #[error("failback of bucket {bucket} is not complete: {detail}. {destination} stays the primary (its s3-dr:failover tag is kept); fix the cause and run failback again: objects already home are skipped")]
    FailbackIncomplete { bucket: String, destination: String, detail: String },

    #[error("bucket {bucket} is not protected after the workflow ran: {problems}. Run the workflow again; if it persists, compare `s3-dr status {bucket}` with docs/errors.md")]
    VerificationFailed { bucket: String, problems: String },

    /// The object is in an archive tier and not restored: S3 cannot read or copy it. The copy
    /// backfill reports such objects as not replicable; it is never a permission problem.
    #[error("{operation} for bucket {bucket}: the object is archived ({code}) and S3 cannot read or copy it. Restore it (aws s3api restore-object) and run the workflow again, or leave it: the backfill reports it as not replicable")]
    ObjectArchived { bucket: String, operation: &'static str, code: String },

    #[error("access denied on {operation} for bucket {bucket}: {message}. Grant the s3-dr Lambda role {} on it (and check bucket policies and SCPs)", iam_actions(operation))]
    AccessDenied { bucket: String, operation: &'static str, message: String },

    #[error("{operation} failed for bucket {bucket}: {code}: {message}. Look up {code} in AWS's documentation of {operation}, fix its cause, and run the workflow again")]
    AwsRequestFailed { bucket: String, operation: &'static str, code: String, message: String },

    /// Throttling, 5xx, timeouts, eventual consistency: the state machine retries these.
    #[error("{operation} for bucket {bucket} failed transiently ({detail}); the workflow retries it. Nothing to do unless it persists; then check the AWS Health Dashboard for S3 in that region")]
    TransientAwsError { bucket: String, operation: &'static str, detail: String },

    /// A bug in s3-dr, not in the caller's input or AWS. Not `InternalError`: that is S3's
    /// code for its own transient failure, and an alarm or a Retry must not mistake one for
    /// the other.
    #[error("internal error in s3-dr: {0}. This is a bug: please report it with the execution's input")]
    #[strum(serialize = "S3DrInternalError")]
    Internal(String),
}

impl DrError {
    /// The Lambda `errorType`, matched by the ASL files.
    pub fn error_type(&self) -> &'static str {
        self.into()
    }

    /// Every `errorType` the Lambda can return, for the ASL consistency test.
    pub const ALL_ERROR_TYPES: &'static [&'static str] = <DrError as strum::VariantNames>::VARIANTS;

    pub fn is_transient(&self) -> bool {
        matches!(self, DrError::TransientAwsError { .. })
    }
}

/// The IAM action(s) an API call needs, where the name differs from the call's: what to grant
/// is what an operator must be told ("Required permissions for Amazon S3 API operations",
/// https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html;
/// KMS, Step Functions and S3 Control actions are named as their calls).
pub fn iam_actions(operation: &str) -> String {
    let actions: &[&str] = match operation {
        "GetBucketReplication" => &["s3:GetReplicationConfiguration"],
        "PutBucketReplication" | "DeleteBucketReplication" => &["s3:PutReplicationConfiguration"],
        "DeleteBucketTagging" => &["s3:PutBucketTagging"],
        "GetBucketEncryption" => &["s3:GetEncryptionConfiguration"],
        "PutBucketEncryption" | "DeleteBucketEncryption" => &["s3:PutEncryptionConfiguration"],
        "GetBucketLifecycleConfiguration" => &["s3:GetLifecycleConfiguration"],
        "PutBucketLifecycleConfiguration" | "DeleteBucketLifecycle" => &["s3:PutLifecycleConfiguration"],
        "GetBucketCors" => &["s3:GetBucketCORS"],
        "GetBucketInventoryConfiguration" => &["s3:GetInventoryConfiguration"],
        "PutBucketInventoryConfiguration" => &["s3:PutInventoryConfiguration"],
        "PutBucketCors" | "DeleteBucketCors" => &["s3:PutBucketCORS"],
        "GetPublicAccessBlock" => &["s3:GetBucketPublicAccessBlock"],
        "PutPublicAccessBlock" | "DeletePublicAccessBlock" => &["s3:PutBucketPublicAccessBlock"],
        "DeleteBucketOwnershipControls" => &["s3:PutBucketOwnershipControls"],
        "GetObjectLockConfiguration" => &["s3:GetBucketObjectLockConfiguration"],
        "PutObjectLockConfiguration" => &["s3:PutBucketObjectLockConfiguration"],
        "HeadBucket" | "ListObjectsV2" | "ListObjects" => &["s3:ListBucket"],
        "ListObjectVersions" => &["s3:ListBucketVersions"],
        "ListBuckets" => &["s3:ListAllMyBuckets"],
        "HeadObject" => &["s3:GetObject"],
        "CopyObject" | "UploadPartCopy" => &["s3:GetObject (source)", "s3:PutObject (destination)"],
        "CreateMultipartUpload" | "CompleteMultipartUpload" => &["s3:PutObject"],
        "DescribeKey" => &["kms:DescribeKey"],
        "StartExecution" => &["states:StartExecution"],
        "DescribeExecution" => &["states:DescribeExecution"],
        "CreateJob" => &["s3:CreateJob"],
        "DescribeJob" => &["s3:DescribeJob"],
        _ => return format!("s3:{operation}"),
    };
    actions.join(" and ")
}

/// The longest error message the Lambda returns. Step Functions keeps at most 32,768
/// characters of a cause, and a message that echoes a 100 kB input is no clearer for it
/// (tests/hostile_inputs.rs).
pub const MAX_ERROR_MESSAGE: usize = 2_000;

/// `text`, or its first `max_chars` characters and how many were left out: for messages that
/// quote what they were given.
pub fn abbreviated(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}... ({} more characters)", &text[..end], text[end..].chars().count()),
    }
}

impl From<DrError> for lambda_runtime::Diagnostic {
    fn from(error: DrError) -> Self {
        let error_message = abbreviated(&error.to_string(), MAX_ERROR_MESSAGE);
        lambda_runtime::Diagnostic { error_type: error.error_type().to_owned(), error_message }
    }
}

/// The service error code of an SDK error, if AWS sent one.
pub fn aws_code<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> Option<&str> {
    match error {
        SdkError::ServiceError(context) => context.err().code(),
        _ => None,
    }
}

/// HTTP status of a service error (HeadBucket errors have no body, only a status).
pub fn http_status<E>(error: &SdkError<E, HttpResponse>) -> Option<u16> {
    match error {
        SdkError::ServiceError(context) => Some(context.raw().status().as_u16()),
        SdkError::ResponseError(context) => Some(context.raw().status().as_u16()),
        _ => None,
    }
}

/// Turn an SDK error into the error API: transient faults are retried by the workflow,
/// access problems and other service errors are terminal and say what failed.
pub fn classify<E>(error: SdkError<E, HttpResponse>, bucket: &str, operation: &'static str) -> DrError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let bucket = bucket.to_owned();
    match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            DrError::TransientAwsError { bucket, operation, detail: describe(&error) }
        }
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16();
            let code = context.err().code().unwrap_or("").to_owned();
            let message = context.err().message().unwrap_or("").to_owned();
            if ARCHIVED_OBJECT_CODES.contains(&code.as_str()) {
                DrError::ObjectArchived { bucket, operation, code }
            } else if TRANSIENT_CODES.contains(&code.as_str()) || status >= 500 || status == 429 {
                DrError::TransientAwsError {
                    bucket,
                    operation,
                    detail: format!("HTTP {status} {code} {message}").trim().to_owned(),
                }
            } else if code == "AccessDenied" || code == "AccessDeniedException" || status == 403 {
                DrError::AccessDenied {
                    bucket,
                    operation,
                    message: if message.is_empty() { format!("HTTP {status}") } else { message },
                }
            } else {
                DrError::AwsRequestFailed {
                    bucket,
                    operation,
                    code: if code.is_empty() { format!("HTTP {status}") } else { code },
                    message,
                }
            }
        }
        _ => DrError::AwsRequestFailed { bucket, operation, code: "ClientError".to_owned(), message: describe(&error) },
    }
}

/// The error and its chain of causes, as the SDK formats them.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    aws_smithy_types::error::display::DisplayErrorContext(error).to_string()
}

/// `.aws(bucket, "GetBucketTagging")?` on any SDK call.
pub trait AwsResultExt<T> {
    fn aws(self, bucket: &str, operation: &'static str) -> Result<T, DrError>;
}

impl<T, E> AwsResultExt<T> for Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    fn aws(self, bucket: &str, operation: &'static str) -> Result<T, DrError> {
        self.map_err(|error| classify(error, bucket, operation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One of each variant, as the code raises them; the match makes a new variant a compile
    /// error here until it has a sample.
    fn samples() -> Vec<DrError> {
        let (bucket, destination) = ("b".to_owned(), "b-dr".to_owned());
        let all = vec![
            DrError::InvalidInput("no \"bucket\"".into()),
            DrError::InvalidConfig("S3DR_DR_REGION=\"x\" is invalid: not a region".into()),
            DrError::SourceBucketNotFound { bucket: bucket.clone() },
            DrError::SourceInDrRegion { bucket: bucket.clone(), region: "us-east-2".into() },
            DrError::SourceIsDestination { bucket: bucket.clone(), origin: "a".into() },
            DrError::BucketNameTaken { bucket: bucket.clone(), destination: destination.clone() },
            DrError::DestinationConflict {
                bucket: bucket.clone(),
                destination: destination.clone(),
                reason: "it exists in us-west-1. Move it".into(),
            },
            DrError::KmsKeyMissing {
                bucket: bucket.clone(),
                region: "us-east-2".into(),
                detail: "it is disabled".into(),
            },
            DrError::ReplicationConflict {
                bucket: bucket.clone(),
                detail: "V1 rules. Rewrite them with a Filter".into(),
            },
            DrError::InvalidSourcePolicy { bucket: bucket.clone(), detail: "not JSON".into() },
            DrError::SettingsNotCloned {
                bucket: bucket.clone(),
                destination: destination.clone(),
                failures: "cors (AccessDenied)".into(),
            },
            DrError::BackfillFailed {
                bucket: bucket.clone(),
                destination: destination.clone(),
                detail: "job failed. Fix the cause".into(),
            },
            DrError::NotProtected { bucket: bucket.clone(), match_tag: "dr=true".into() },
            DrError::InventoryMissing { bucket: bucket.clone(), location: "s3://r/p/".into() },
            DrError::InventoryInvalid {
                bucket: bucket.clone(),
                location: "s3://r/k".into(),
                reason: "truncated".into(),
            },
            DrError::AlreadyFailedOver {
                bucket: bucket.clone(),
                destination: destination.clone(),
                since: "20261126T000000Z".into(),
            },
            DrError::DrCopyIncomplete {
                bucket: bucket.clone(),
                destination: destination.clone(),
                detail: "3 objects missing".into(),
            },
            DrError::NotFailedOver { bucket: bucket.clone(), destination: destination.clone() },
            DrError::SourceRegionUnavailable {
                bucket: bucket.clone(),
                destination: destination.clone(),
                region: "us-west-2".into(),
                detail: "HTTP 503".into(),
            },
            DrError::FailbackIncomplete {
                bucket: bucket.clone(),
                destination: destination.clone(),
                detail: "2 objects are not home".into(),
            },
            DrError::VerificationFailed { bucket: bucket.clone(), problems: "no rule".into() },
            DrError::ObjectArchived {
                bucket: bucket.clone(),
                operation: "CopyObject",
                code: "InvalidObjectState".into(),
            },
            DrError::AccessDenied {
                bucket: bucket.clone(),
                operation: "GetBucketReplication",
                message: "denied".into(),
            },
            DrError::AwsRequestFailed {
                bucket: bucket.clone(),
                operation: "PutBucketTagging",
                code: "InvalidTag".into(),
                message: "bad".into(),
            },
            DrError::TransientAwsError { bucket, operation: "HeadBucket", detail: "HTTP 503".into() },
            DrError::Internal("no upload id".into()),
        ];
        for error in &all {
            match error {
                DrError::InvalidInput(_)
                | DrError::InvalidConfig(_)
                | DrError::SourceBucketNotFound { .. }
                | DrError::SourceInDrRegion { .. }
                | DrError::SourceIsDestination { .. }
                | DrError::BucketNameTaken { .. }
                | DrError::DestinationConflict { .. }
                | DrError::KmsKeyMissing { .. }
                | DrError::ReplicationConflict { .. }
                | DrError::InvalidSourcePolicy { .. }
                | DrError::SettingsNotCloned { .. }
                | DrError::BackfillFailed { .. }
                | DrError::NotProtected { .. }
                | DrError::InventoryMissing { .. }
                | DrError::InventoryInvalid { .. }
                | DrError::AlreadyFailedOver { .. }
                | DrError::DrCopyIncomplete { .. }
                | DrError::NotFailedOver { .. }
                | DrError::SourceRegionUnavailable { .. }
                | DrError::FailbackIncomplete { .. }
                | DrError::VerificationFailed { .. }
                | DrError::ObjectArchived { .. }
                | DrError::AccessDenied { .. }
                | DrError::AwsRequestFailed { .. }
                | DrError::TransientAwsError { .. }
                | DrError::Internal(_) => {}
            }
        }
        all
    }

    /// Words a sentence that says what to do starts with, in the messages.
    const FIXES: &[&str] = &[
        "send ",
        "fix ",
        "check ",
        "set ",
        "remove ",
        "choose ",
        "move ",
        "rewrite ",
        "grant ",
        "restore ",
        "look up ",
        "run ",
        "nothing to do",
        "please report",
        "tag ",
    ];

    #[test]
    fn every_variant_has_a_sample_and_every_message_names_the_bucket_and_the_fix() {
        let samples = samples();
        let types: Vec<&str> = samples.iter().map(DrError::error_type).collect();
        assert_eq!(types, DrError::ALL_ERROR_TYPES, "one sample per variant, in declaration order");
        for error in samples {
            let message = error.to_string();
            let lower = message.to_lowercase();
            let plain = matches!(error, DrError::InvalidInput(_) | DrError::InvalidConfig(_) | DrError::Internal(_));
            assert!(plain || message.contains("bucket b") || message.contains(" b "), "{message}");
            assert!(FIXES.iter().any(|fix| lower.contains(fix)), "{} names no fix: {message}", error.error_type());
        }
    }

    #[test]
    fn internal_errors_are_not_mistaken_for_s3s_transient_internal_error() {
        assert_eq!(DrError::Internal(String::new()).error_type(), "S3DrInternalError");
        assert!(!DrError::ALL_ERROR_TYPES.contains(&"InternalError"));
    }
}
